"""A depthwise-separable network and a residual network trained on MNIST (briefly: 20,000 images,
three epochs, seconds here), for accuracy: converted the standard way, golden == LiteRT on a
thousand test images, then through make_verilog and Verilator on test images, the hardware's
classes and every logit golden's."""
import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from model import convert, data, golden, oracle, qnet  # noqa: E402
from tests.usermodels import cli  # noqa: E402

TRAIN, EPOCHS, TEST = 20000, 3, 1000


def separable():
    """MobileNet's block on MNIST: a 3x3 stride-2 conv, two depthwise-separable blocks (3x3
    depthwise, 1x1 pointwise; the second with stride 2), flatten, dense 10."""
    x = inp = keras.Input((28, 28, 1))
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    for stride, width in ((1, 32), (2, 64)):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", activation="relu")(x)
        x = layers.Conv2D(width, 1, activation="relu")(x)
    x = layers.Flatten()(x)
    return keras.Model(inp, layers.Dense(10, activation="softmax")(x), name="mnist_separable")


def residual():
    """ResNet's blocks on MNIST: a 3x3 stride-2 conv, an identity block and a projection block
    (stride 2, 1x1 shortcut), each ending in ADD + ReLU, flatten, dense 10."""
    x = inp = keras.Input((28, 28, 1))
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    y = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = layers.ReLU()(layers.Add()([x, layers.Conv2D(16, 3, padding="same")(y)]))
    y = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    y = layers.Conv2D(32, 3, padding="same")(y)
    x = layers.ReLU()(layers.Add()([layers.Conv2D(32, 1, strides=2)(x), y]))
    x = layers.Flatten()(x)
    return keras.Model(inp, layers.Dense(10, activation="softmax")(x), name="mnist_residual")


# slow: training and a test split through Verilator, 100 s each
@pytest.mark.parametrize("make,floor", [pytest.param(separable, 0.93, marks=pytest.mark.slow),
                                        pytest.param(residual, 0.93, marks=pytest.mark.slow)])
def test_trained_network_accuracy_in_hardware(monkeypatch, capfd, tmp_path, make, floor):
    mnist = data.load_mnist()
    x_train = mnist.train.x[:TRAIN, ..., None].astype(np.float32) / 255
    keras.utils.set_random_seed(0)
    model = make()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, mnist.train.y[:TRAIN], epochs=EPOCHS, batch_size=64, verbose=0)
    path = tmp_path / f"{model.name}.tflite"
    path.write_bytes(convert.to_int8_tflite(model, x_train, samples=200))
    net = qnet.from_tflite(path)
    x8 = net.quantize_input(mnist.test.x[:TEST, ..., None] / np.float32(255))
    out = oracle.run(path, x8.reshape((TEST,) + net.input_shape))[0]
    result = golden.run_network(net, x8)
    np.testing.assert_array_equal(out, result.logits)
    accuracy = float(np.mean(result.prediction == mnist.test.y[:TEST]))
    assert accuracy >= floor, accuracy
    code, _, err = cli(monkeypatch, capfd, "make_verilog", "--model", path, "--auto-budget",
                       "48", "--out", tmp_path / "verilog")
    assert code == 0, err
    code, report, err = cli(monkeypatch, capfd, "cosim", "--model", path, "--n", "12",
                            "--verilog", tmp_path / "verilog", "--run-dir", tmp_path / "run",
                            "--json")
    assert code == 0, err
    report = json.loads(report)
    assert report["all_bit_exact"] and report["images"] == 12
    assert report["accuracy_hw"] == report["accuracy_golden"]
    assert report["latency_cycles"] == report["predicted_latency"]
    print(f"{model.name}: int8 accuracy {accuracy:.2%} on {TEST} test images; hardware "
          f"{report['accuracy_hw']:.2%} on {report['images']}, bit-exact")
