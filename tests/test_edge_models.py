"""Legal models at the edges of int8 (``tests/edgemodels.py``: dead channels with bias 2^30,
near-zero activations, random scales 10^-7..10, saturating ReLU6 on a narrow calibration),
converted with TFLite and run four ways on 100 random images each: LiteRT's reference kernels
== golden on every tensor, the C library == golden, and Verilator == golden on every logit
with the cycle model exact (one with random input gaps and output stalls). One model of each
family in the default run (two of them through the hardware), more under ``-m slow``."""
import numpy as np
import pytest

from model import c_export, export, golden, oracle, qnet
from tests.edgemodels import FAMILIES, edge_model
from tests.usermodels import hardware_bit_exact

IMAGES = 100


def check_everywhere(monkeypatch, capfd, tmp_path, seed, gap=0, stall=0, hardware=True):
    path, family = edge_model(seed, tmp_path / f"edge{seed}.tflite")
    net = qnet.from_tflite(path)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (IMAGES,) + net.input_shape, dtype=np.uint8)
    images[0], images[1] = 0, 255
    x = net.quantize_input(images / np.float32(255))
    out, inter = oracle.run(path, x, [layer.tensor for layer in net.layers])
    result = golden.run_network(net, x)
    for layer, mine in zip(net.layers, result.tensors):
        np.testing.assert_array_equal(inter[layer.tensor], mine, err_msg=layer.name)
    np.testing.assert_array_equal(out, result.logits)

    folder = tmp_path / "export"
    export.export(net, path.read_bytes(), folder, input_max=255.0)
    exe = c_export.compile_host(folder, net.name, tmp_path / "host", sanitize=True)
    got = c_export.run_host(exe, images, net.logits_layer.c_out, tmp_path)
    np.testing.assert_array_equal(got, result.logits)

    if hardware:
        hardware_bit_exact(monkeypatch, capfd, tmp_path, path, images, result.logits,
                           "--pixel-max", "255", gap=gap, stall=stall)
    return net, family


def test_the_families_reach_their_edges(tmp_path):
    """The generator makes what it says: bias 2^30 beside a dead channel, collapsed ReLU
    outputs, shifts far beyond a real layer's, ReLU6 ranges narrower than 0..6."""
    nets = {FAMILIES[s]: qnet.from_tflite(edge_model(s, tmp_path / f"e{s}.tflite")[0])
            for s in range(len(FAMILIES))}
    assert (1 << 30) in nets["dead"].layers[0].bias
    assert nets["negative"].layers[0].act_min == nets["negative"].layers[0].zp_out
    shifts = [int(s) for layer in nets["scales"].layers if layer.has_weights
              for s in layer.shift]
    assert max(shifts) > 50 and min(shifts) < -25
    # ReLU6 calibrated below 6: the int8 range ends before 6, where real inputs saturate it
    assert nets["narrow"].layers[0].scale_out < 6 / 255


# every family through LiteRT, golden and C; two of them through the hardware too (the other
# two there in the slow suite, 30 s each, beside test_edge_models_many)
HARDWARE = {"dead", "scales"}


@pytest.mark.parametrize("seed", range(len(FAMILIES)), ids=FAMILIES)
def test_edge_model_bit_exact_everywhere(monkeypatch, capfd, tmp_path, seed):
    check_everywhere(monkeypatch, capfd, tmp_path, seed, hardware=FAMILIES[seed] in HARDWARE)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [s for s, f in enumerate(FAMILIES) if f not in HARDWARE],
                         ids=[f for f in FAMILIES if f not in HARDWARE])
def test_edge_model_in_hardware(monkeypatch, capfd, tmp_path, seed):
    check_everywhere(monkeypatch, capfd, tmp_path, seed)


def test_edge_model_with_gaps_and_stalls(monkeypatch, capfd, tmp_path):
    check_everywhere(monkeypatch, capfd, tmp_path, 6, gap=30, stall=30)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(len(FAMILIES), 5 * len(FAMILIES)))
def test_edge_models_many(monkeypatch, capfd, tmp_path, seed):
    check_everywhere(monkeypatch, capfd, tmp_path, seed)
