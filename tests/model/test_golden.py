"""Golden model == TFLite reference kernels on every tensor; the presets meet their targets."""
import json
import subprocess
import sys

import numpy as np
import pytest

from model import golden, oracle, presets
from tests.conftest import ROOT


def _compare(net, tflite, x):
    out, inter = oracle.run(tflite, x, [layer.tensor for layer in net.layers])
    result = golden.run_network(net, x)
    for layer, mine in zip(net.layers, result.tensors):
        np.testing.assert_array_equal(mine, inter[layer.tensor], err_msg=layer.name)
    return out, result


def test_digits_every_tensor_whole_test_split(nets, digits):
    p = presets.get("digits_cnn")
    net = nets["digits_cnn"]
    out, result = _compare(net, p.tflite, net.quantize_input(p.to_float(digits.test.x)))
    np.testing.assert_array_equal(result.logits, out)  # no softmax: the output is the logits


def test_mnist_every_tensor_first_500(nets, mnist):
    p = presets.get("mnist_cnn")
    net = nets["mnist_cnn"]
    _compare(net, p.tflite, net.quantize_input(p.to_float(mnist.test.x[:500])))


def test_mnist_random_inputs_hit_every_int8_value(nets):
    """Noise images reach input values and accumulators the test set never does."""
    net = nets["mnist_cnn"]
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, (40, 28, 28, 1)).astype(np.int8)
    x[0] = 127
    x[1] = -128
    _compare(net, presets.get("mnist_cnn").tflite, x)


def test_mnist_accuracy_targets(nets, mnist):
    """Committed model: float >= 99.0%, int8 >= 98.9% and within 0.2 points (whole test set)."""
    import keras

    p = presets.get("mnist_cnn")
    x = p.to_float(mnist.test.x)
    int8 = np.mean(golden.run_network(nets["mnist_cnn"], nets["mnist_cnn"].quantize_input(x))
                   .prediction == mnist.test.y)
    model = keras.models.load_model(p.keras, compile=False)
    flt = np.mean(np.argmax(model.predict(x, batch_size=1000, verbose=0), 1) == mnist.test.y)
    assert flt >= 0.990 and int8 >= 0.989 and flt - int8 <= 0.002, (flt, int8)


def test_digits_int8_within_one_point_of_float(nets, digits):
    import keras

    p = presets.get("digits_cnn")
    x = p.to_float(digits.test.x)
    int8 = np.mean(golden.run_network(nets["digits_cnn"], nets["digits_cnn"].quantize_input(x))
                   .prediction == digits.test.y)
    model = keras.models.load_model(p.keras, compile=False)
    flt = np.mean(np.argmax(model.predict(x, verbose=0), 1) == digits.test.y)
    assert abs(flt - int8) <= 0.01, (flt, int8)


def test_blocks_edge_cases(nets):
    x = np.arange(2 * 5 * 7 * 3, dtype=np.int64).reshape(2, 5, 7, 3).astype(np.int8)
    pooled = golden.maxpool2x2(x)
    assert pooled.shape == (2, 2, 3, 3)  # 5 -> 2, 7 -> 3: the odd last row/column is dropped
    assert pooled[0, 0, 0, 0] == max(x[0, 0, 0, 0], x[0, 0, 1, 0], x[0, 1, 0, 0], x[0, 1, 1, 0])
    assert golden.argmax(np.array([[3, 7, 7, -1], [5, 5, 5, 5]], np.int8)).tolist() == [1, 0]


def test_pixel_table_matches_quantize_input(nets):
    net = nets["mnist_cnn"]
    table = net.pixel_table(255.0)
    assert table[0] == -128 and table[255] == 127
    np.testing.assert_array_equal(table, np.arange(256) - 128)  # scale 1/255, zero point -128


def test_check_command_json(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/check_golden.py"), "--model",
                           "digits_cnn", "--json"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["images"] == 360 and report["mismatches"] == 0
    assert len(report["layers"]) == 4
    assert {"float_accuracy", "int8_accuracy", "golden_accuracy"} <= report.keys()


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mnist_cnn", "digits_cnn"])
def test_check_command_whole_test_set(model):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/check_golden.py"), "--model",
                           model, "--json"], capture_output=True, text=True, cwd=ROOT)
    report = json.loads(proc.stdout)
    assert report["mismatches"] == 0 and proc.returncode == 0
    assert report["int8_accuracy"] == report["golden_accuracy"]


def test_timing_falls_back_to_the_reference_kernels(monkeypatch):
    """A model LiteRT's default delegate refuses (XNNPACK's "failed to prepare") is timed with
    the reference kernels, and the caller is told; one that LiteRT cannot load at all is
    refused with LiteRT's message."""
    import numpy as np

    real = oracle.interpreter

    def refusing(model, reference=True, **kw):
        if not reference:
            raise RuntimeError("failed to create XNNPACK runtime\nNode number 3 failed to prepare")
        return real(model, reference=reference, **kw)

    monkeypatch.setattr(oracle, "interpreter", refusing)
    tflite = presets.get("digits_cnn").tflite
    x = np.zeros((3, 8, 8, 1), np.int8)
    used = {}
    seconds, out = oracle.timed(tflite, x, used=used)
    assert used == {"kernels": "reference", "why": "failed to create XNNPACK runtime"}
    assert seconds > 0 and out.shape == (3, 10)
    monkeypatch.setattr(oracle, "interpreter", real)
    used = {}
    oracle.timed(tflite, x, used=used)
    assert used["kernels"] == "default"
    import pytest

    with pytest.raises(oracle.OracleError, match="cannot load it"):
        oracle.interpreter(b"TFL3" + bytes(64))
