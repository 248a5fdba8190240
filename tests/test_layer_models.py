"""The two networks issue 25 names, trained on MNIST here and taken to the hardware: a
LeNet-5-style network (5x5 'same' convolution, average pooling, 5x5 'valid' convolution,
average pooling, three dense layers) and a strided all-convolutional network (stride-2 'same'
3x3 convolutions with batch norm and ReLU, a 1x1 convolution, global average pooling as the
logits). For each: the golden check on all 10,000 test images with 0 mismatches against
LiteRT, `make_verilog`, and Verilator bit for bit with the cycle model exact."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from hdl.cnn import config as cfg  # noqa: E402
from model import golden, qnet  # noqa: E402
from tests.hdl.helpers import need_tools  # noqa: E402
from tests.usermodels import golden_check_passes, hardware_bit_exact, user_tflite  # noqa: E402

pytestmark = pytest.mark.slow


def lenet5():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(6, 5, padding="same", activation="relu"),
        layers.AveragePooling2D(2),
        layers.Conv2D(16, 5, activation="relu"),
        layers.AveragePooling2D(2),
        layers.Flatten(),
        layers.Dense(120, activation="relu"),
        layers.Dense(84, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ], name="lenet5")


def allconv():
    body = []
    for filters in (16, 32, 32):
        body += [layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False),
                 layers.BatchNormalization(), layers.ReLU()]
    return keras.Sequential([keras.Input((28, 28, 1)), *body, layers.Conv2D(10, 1),
                             layers.GlobalAveragePooling2D(), layers.Activation("softmax")],
                            name="allconv")


@pytest.mark.parametrize("build,epochs,kinds", [
    (lenet5, 1, ["conv2d", "avgpool", "conv2d", "avgpool", "flatten", "dense", "dense",
                 "dense"]),
    (allconv, 2, ["conv2d", "conv2d", "conv2d", "conv2d", "mean"])])
def test_trained_network_in_hardware(mnist, tmp_path, monkeypatch, capfd, build, epochs, kinds):
    need_tools("verilator")
    keras.utils.set_random_seed(0)
    model = build()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = (mnist.train.x[:30000] / 255.0).astype(np.float32)[..., None]
    model.fit(x, mnist.train.y[:30000], epochs=epochs, batch_size=64, verbose=0)
    path = user_tflite(model, tmp_path / f"{model.name}.tflite", calib=x[:200])
    net = qnet.from_tflite(path)
    assert [layer.kind for layer in net.layers] == kinds

    report = golden_check_passes(monkeypatch, capfd, path)
    images = np.asarray(mnist.test.x[:12])
    want = golden.run_network(net, net.quantize_input(images / np.float32(255))).logits
    result, conf = hardware_bit_exact(monkeypatch, capfd, tmp_path, path, images, want,
                                      "--auto-budget", "32", quiet=True)
    print(f"{model.name}: accuracy {report['golden_accuracy']:.4f}, {cfg.describe(conf)}, "
          f"latency {result.latency:,} clocks, interval {result.interval:,.0f} clocks")
