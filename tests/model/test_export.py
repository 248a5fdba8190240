"""ROM files read back to the qnet's numbers; the C header compiles to the .tflite's bytes."""
import json
import subprocess
import sys

import numpy as np
import pytest

from model import export, presets
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def exported(tmp_path_factory, nets):
    out = tmp_path_factory.mktemp("export") / "mnist_cnn"
    export.export(nets["mnist_cnn"], presets.get("mnist_cnn").tflite.read_bytes(), out, 255.0)
    return out


def test_mem_files_read_back(exported, nets):
    doc = json.loads((exported / "network.json").read_text())
    for layer, entry in zip(nets["mnist_cnn"].layers, doc["layers"]):
        assert entry["name"] == layer.name and entry["kind"] == layer.kind
        if not layer.has_weights:
            continue
        files = entry["files"]
        w = export.read_mem(exported / files["weights"]["file"], 8)
        np.testing.assert_array_equal(w, layer.weights.ravel())  # OHWI / (out, in) row-major
        assert len(w) == files["weights"]["depth"]
        np.testing.assert_array_equal(export.read_mem(exported / files["bias"]["file"], 32),
                                      layer.bias)
        np.testing.assert_array_equal(
            export.read_mem(exported / files["multiplier"]["file"], files["multiplier"]["bits"],
                            signed=False), layer.multiplier)
        np.testing.assert_array_equal(export.read_mem(exported / files["shift"]["file"], 8),
                                      layer.shift)
        assert entry["acc_bits"] == layer.acc_bits
    assert doc["macs"] == 2_794_240 and doc["parameters"] == 93_322
    assert doc["pixel_to_int8"][0] == -128 and doc["pixel_to_int8"][255] == 127


def test_hex_words_two_complement_and_range():
    assert export.hex_words([-1, -128, 127, 0], 8) == ["ff", "80", "7f", "00"]
    assert export.hex_words([-2], 32) == ["fffffffe"]
    with pytest.raises(ValueError, match="does not fit 8 bits"):
        export.hex_words([300], 8)


def test_c_header_compiles_to_the_model_bytes(exported, tmp_path):
    header = exported / "mnist_cnn_model.h"
    main = tmp_path / "dump.c"
    main.write_text(f'#include "{header}"\n#include <stdio.h>\n'
                    "int main(void) { fwrite(mnist_cnn_model_tflite, 1, mnist_cnn_model_tflite_len,"
                    " stdout); return ((unsigned long)mnist_cnn_model_tflite % 16) != 0; }\n")
    exe = tmp_path / "dump"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", str(main), "-o", str(exe)],
                   check=True)
    dumped = subprocess.run([str(exe)], capture_output=True, check=True).stdout
    assert dumped == presets.get("mnist_cnn").tflite.read_bytes()


def test_failed_export_leaves_nothing(tmp_path, nets, monkeypatch):
    out = tmp_path / "out"
    calls = []

    def flaky(path, values, bits):
        calls.append(path)
        if len(calls) == 5:
            raise OSError("disk full")
        path.write_text("x\n")

    monkeypatch.setattr(export, "write_mem", flaky)
    with pytest.raises(OSError):
        export.export(nets["mnist_cnn"], b"TFL3", out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no staging folder left behind either


def test_export_cli(tmp_path):
    out = tmp_path / "digits"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/export_weights.py"), "--model",
                           "digits_cnn", "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["network.json", "digits_cnn_model.h", "digits_cnn_weights.h",
                            "digits_cnn_samples.h"] + [
        f"{layer}_{kind}.mem" for layer in ("conv1", "dense1")
        for kind in ("weights", "bias", "multiplier", "shift")])


def test_export_cli_unknown_model(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/export_weights.py"), "--model",
                           "resnet50", "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2 and "preset" in proc.stderr and "Traceback" not in proc.stderr


def test_wide_words_stay_exact(tmp_path):
    """Packed ROM words are wider than a double's mantissa: every bit must survive."""
    words = [(1 << 64) - 1, (1 << 63) + 1, 0xC1DC15ED6C679801, 5, (1 << 200) + 3]
    export.write_mem(tmp_path / "w.mem", words, 208)
    assert [int(v) for v in export.read_mem(tmp_path / "w.mem", 208, signed=False)] == words


@pytest.mark.parametrize("kind,pe,simd", [("conv3x3", 2, 3), ("conv3x3", 4, 1), ("dense", 3, 4),
                                          ("dense", 1, 12)])
def test_packed_weights_layout(kind, pe, simd):
    """Word (g*T + t)*(C_in/S) + cg, lane p*S + s = weight [g*PE + p, t, cg*S + s]."""
    from tests.hdl.layers import make_layer

    rng = np.random.default_rng(1)
    layer = make_layer(kind, 6 if kind == "conv3x3" else 12, 12, h=4, w=4, rng=rng)
    words = export.packed_weights(layer, pe, simd)
    outs, taps, ins = export.mac_shape(layer)
    w = layer.weights.reshape(outs, taps, ins)
    assert len(words) == outs * taps * ins // (pe * simd)
    for k, word in enumerate(words):
        g, rest = divmod(k, taps * (ins // simd))
        t, cg = divmod(rest, ins // simd)
        for p in range(pe):
            for s in range(simd):
                lane = (word >> (8 * (p * simd + s))) & 0xFF
                assert lane - 256 * (lane >> 7) == w[g * pe + p, t, cg * simd + s]


@pytest.mark.parametrize("pe,simd", [(2, 3), (12, 1)])
def test_packed_weights_all_taps_layout(pe, simd):
    """All 9 taps a clock: word g*(C_in/S) + cg, lane (p*9 + t)*S + s = weight
    [g*PE + p, t, cg*S + s]."""
    from tests.hdl.layers import make_layer

    layer = make_layer("conv3x3", 6, 12, h=4, w=4, rng=np.random.default_rng(2))
    words = export.packed_weights(layer, pe, simd, 9)
    w = layer.weights.reshape(12, 9, 6)
    assert len(words) == 12 * 6 // (pe * simd)
    for k, word in enumerate(words):
        g, cg = divmod(k, 6 // simd)
        for p in range(pe):
            for t in range(9):
                for s in range(simd):
                    lane = (word >> (8 * ((p * 9 + t) * simd + s))) & 0xFF
                    assert lane - 256 * (lane >> 7) == w[g * pe + p, t, cg * simd + s]
    with pytest.raises(ValueError, match="taps=3 must be 1"):
        export.packed_weights(layer, pe, simd, 3)


def test_packed_weights_bad_parallelism():
    from tests.hdl.layers import make_layer

    layer = make_layer("dense", 12, 10, rng=np.random.default_rng(0), name="dense2")
    with pytest.raises(ValueError, match="layer dense2: PE=4 must divide its 10 output"):
        export.packed_weights(layer, 4, 1)
    with pytest.raises(ValueError, match="layer dense2: SIMD=5 must divide its 12 input"):
        export.packed_weights(layer, 1, 5)
