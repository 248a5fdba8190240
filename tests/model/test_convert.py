"""Unsupported models fail with the operator and the reason; supported ones go through end to
end (the bring-your-own-model cases are in test_byom.py)."""
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from model import convert, golden, oracle, qnet, source  # noqa: E402


def seq(*body, shape=(12, 12, 1)):
    return keras.Sequential([keras.Input(shape), *body], name="m")


def test_multiple_inputs_rejected(tmp_path):
    a, b = keras.Input((8, 8, 1)), keras.Input((8, 8, 1))
    model = keras.Model([a, b], layers.Dense(3)(layers.Flatten()(layers.Add()([a, b]))),
                        name="two")
    path = tmp_path / "two.keras"
    model.save(path)
    with pytest.raises(convert.UnsupportedModelError, match=f"{path}: 2 inputs"):
        source.resolve(str(path), build=tmp_path / "build")


def test_cli_rejects_unsupported_keras_without_output(tmp_path):
    """The real command line, as a user runs it: one line, exit status 2, nothing written."""
    model = seq(layers.Conv2D(4, 3, activation="tanh", name="c"), layers.Flatten(),
                layers.Dense(3), shape=(8, 8, 1))
    path = tmp_path / "bad.keras"
    model.save(path)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/make_verilog.py"), "--model",
                           str(path), "--out", str(out), "--dataset", "digits"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {path}: operator 1 TANH (")
    assert proc.stderr.count("\n") == 1 and "operator not supported" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not out.exists() and not (tmp_path / "build").exists()


def test_not_a_tflite_file(tmp_path):
    path = tmp_path / "x.tflite"
    path.write_bytes(b"garbage garbage")
    with pytest.raises(qnet.UnsupportedTFLiteError, match="not a TFLite"):
        qnet.from_tflite(path)


def test_any_supported_model_matches_the_oracle():
    """Not a preset: two convs (one without ReLU), odd sizes for the pool, Dropout, two denses."""
    keras.utils.set_random_seed(7)
    model = keras.Sequential([
        keras.Input((13, 11, 2)),
        layers.Conv2D(6, 3, activation="relu"),
        layers.Conv2D(5, 3),                     # no activation: negative outputs survive
        layers.MaxPooling2D(2),                  # 9x7 -> 4x3, odd row/column dropped
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(7, activation="relu"),
        layers.Dense(4, activation="softmax"),
    ], name="odd")
    rng = np.random.default_rng(3)
    calib = rng.random((200, 13, 11, 2), np.float32)
    tfl = convert.to_int8_tflite(model, calib, samples=100)
    net = qnet.from_tflite(tfl, name="odd")
    assert [layer.kind for layer in net.layers] == ["conv2d", "conv2d", "maxpool2x2", "flatten",
                                                    "dense", "dense"]
    assert net.layers[1].act_min == -128 and net.softmax
    x = net.quantize_input(rng.random((60, 13, 11, 2), np.float32))
    _, inter = oracle.run(tfl, x, [layer.tensor for layer in net.layers])
    result = golden.run_network(net, x)
    for layer, mine in zip(net.layers, result.tensors):
        np.testing.assert_array_equal(mine, inter[layer.tensor], err_msg=layer.name)
