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


def test_host_runner_input_and_run(tmp_path, digits):
    """--images N writes the C host runner's input; the runner, built as docs/mcu.md says,
    classifies it as the golden model does."""
    from model import c_export, golden, presets, qnet

    out = tmp_path / "export"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/export_weights.py"), "--model",
                           "digits_cnn", "--out", str(out), "--images", "40"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    images = np.frombuffer((out / "images.u8").read_bytes(), np.uint8).reshape(40, 8, 8)
    np.testing.assert_array_equal(images, digits.test.x[:40])
    np.testing.assert_array_equal(np.frombuffer((out / "labels.u8").read_bytes(), np.uint8),
                                  digits.test.y[:40])
    exe = c_export.compile_host(out, "digits_cnn", tmp_path / "c2f_host")
    subprocess.run([str(exe), str(out / "images.u8"), str(tmp_path / "logits.i8")], check=True)
    got = np.fromfile(tmp_path / "logits.i8", np.int8).reshape(-1, 10)
    p = presets.get("digits_cnn")
    net = qnet.from_tflite(p.tflite)
    np.testing.assert_array_equal(got, golden.run_network(
        net, net.quantize_input(p.to_float(images))).logits)


def test_export_cli_unknown_model(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/export_weights.py"), "--model",
                           "resnet50", "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2 and "preset" in proc.stderr and "Traceback" not in proc.stderr


def test_wide_words_stay_exact(tmp_path):
    """Packed ROM words are wider than a double's mantissa: every bit must survive."""
    words = [(1 << 64) - 1, (1 << 63) + 1, 0xC1DC15ED6C679801, 5, (1 << 200) + 3]
    export.write_mem(tmp_path / "w.mem", words, 208)
    assert [int(v) for v in export.read_mem(tmp_path / "w.mem", 208, signed=False)] == words
