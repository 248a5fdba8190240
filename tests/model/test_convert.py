"""Unsupported models fail with the layer and the reason; supported ones go through end to end."""
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from model import convert, golden, oracle, qnet  # noqa: E402


def seq(*body, shape=(12, 12, 1)):
    return keras.Sequential([keras.Input(shape), *body], name="m")


BAD = {
    "padding_same": (lambda: seq(layers.Conv2D(4, 3, padding="same", name="c"), layers.Flatten(),
                                 layers.Dense(3)), "layer 'c'", "padding='same'"),
    "strides": (lambda: seq(layers.Conv2D(4, 3, strides=2, name="c"), layers.Flatten(),
                            layers.Dense(3)), "layer 'c'", "strides"),
    "kernel_5x5": (lambda: seq(layers.Conv2D(4, 5, name="c"), layers.Flatten(), layers.Dense(3)),
                   "layer 'c'", "kernel_size (5, 5)"),
    "batchnorm": (lambda: seq(layers.Conv2D(4, 3), layers.BatchNormalization(name="bn"),
                              layers.Flatten(), layers.Dense(3)), "layer 'bn'", "not supported"),
    "tanh": (lambda: seq(layers.Conv2D(4, 3, activation="tanh", name="c"), layers.Flatten(),
                         layers.Dense(3)), "layer 'c'", "activation 'tanh'"),
    "softmax_inside": (lambda: seq(layers.Flatten(), layers.Dense(5, activation="softmax", name="d"),
                                   layers.Dense(3)), "layer 'd'", "softmax"),
    "avgpool": (lambda: seq(layers.AveragePooling2D(2, name="ap"), layers.Flatten(),
                            layers.Dense(3)), "layer 'ap'", "not supported"),
    "pool_3x3": (lambda: seq(layers.MaxPooling2D(3, name="p"), layers.Flatten(), layers.Dense(3)),
                 "layer 'p'", "pool_size (3, 3)"),
    "dense_on_image": (lambda: seq(layers.Dense(3, name="d")), "layer 'd'", "Flatten"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_unsupported_layer_is_named(case):
    build, where, reason = BAD[case]
    with pytest.raises(convert.UnsupportedModelError) as err:
        convert.check_keras_model(build())
    assert where in str(err.value) and reason in str(err.value)


def test_multiple_inputs_rejected():
    a, b = keras.Input((8, 8, 1)), keras.Input((8, 8, 1))
    model = keras.Model([a, b], layers.Flatten()(layers.Add()([a, b])), name="two")
    with pytest.raises(convert.UnsupportedModelError, match="2 inputs"):
        convert.check_keras_model(model)


def test_cli_rejects_unsupported_keras_without_output(tmp_path):
    model = BAD["padding_same"][0]()
    path = tmp_path / "bad.keras"
    model.save(path)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/export_weights.py"), "--model",
                           str(path), "--out", str(out), "--dataset", "digits"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert "layer 'c'" in proc.stderr and "padding='same'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() and not (tmp_path / "build").exists()


def test_unsupported_tflite_operator_is_named():
    """A model converted behind the checker's back is still refused, by qnet, per operator."""
    import tensorflow as tf

    model = seq(layers.Conv2D(4, 3, padding="same", name="c"), layers.Flatten(), layers.Dense(3),
                shape=(6, 6, 1))
    rng = np.random.default_rng(0)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.random((1, 6, 6, 1), np.float32)] for _ in range(8))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    with pytest.raises(qnet.UnsupportedTFLiteError, match="operator 0 CONV_2D.*SAME"):
        qnet.from_tflite(conv.convert(), name="same")


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
    assert [layer.kind for layer in net.layers] == ["conv3x3", "conv3x3", "maxpool2x2", "flatten",
                                                    "dense", "dense"]
    assert net.layers[1].act_min == -128 and net.softmax
    x = net.quantize_input(rng.random((60, 13, 11, 2), np.float32))
    _, inter = oracle.run(tfl, x, [layer.tensor for layer in net.layers])
    result = golden.run_network(net, x)
    for layer, mine in zip(net.layers, result.tensors):
        np.testing.assert_array_equal(mine, inter[layer.tensor], err_msg=layer.name)
