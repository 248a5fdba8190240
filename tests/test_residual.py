"""Residual networks in hardware: forks, ADD and the branch FIFOs, bit-exact in Verilator with
random gaps at the input and stalls at the output (every port between them then waits on
another), and the cycle model exact without them."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from model import golden, qnet  # noqa: E402
from tests.model.test_mlperf_shapes import convert  # noqa: E402
from tests.usermodels import hardware_bit_exact  # noqa: E402


def tiny_resnet():
    """12x12x1: a conv, an identity block (two 3x3 convs + ADD + ReLU), a projection block
    (a 3x3 stride-2 conv, a 3x3 conv, a 1x1 stride-2 shortcut conv, ADD + ReLU), global
    average, dense 4."""
    x = inputs = keras.Input((12, 12, 1))
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    y = layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    y = layers.Conv2D(4, 3, padding="same")(y)
    x = layers.ReLU()(layers.Add()([x, y]))
    y = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    y = layers.Conv2D(8, 3, padding="same")(y)
    s = layers.Conv2D(8, 1, strides=2)(x)
    x = layers.ReLU()(layers.Add()([s, y]))
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(4)(x), name="tiny_resnet")


# the default config and the folded one without stalls run in the slow suite (115 s)
@pytest.mark.parametrize("args,gap,stall", [pytest.param([], 0, 0, marks=pytest.mark.slow),
                                            pytest.param(["--auto-budget", "24"], 0, 0,
                                                         marks=pytest.mark.slow),
                                            (["--auto-budget", "24"], 25, 25)])
def test_tiny_resnet_in_hardware(monkeypatch, capfd, tmp_path, args, gap, stall):
    path = convert(tiny_resnet(), tmp_path / "tiny_resnet.tflite")
    net = qnet.from_tflite(path)
    assert [layer.kind for layer in net.layers].count("add") == 2
    pixels = np.random.default_rng(6).integers(0, 256, (6,) + net.input_shape, dtype=np.uint8)
    want = golden.run_network(net, net.quantize_input(pixels / np.float32(255))).logits
    hardware_bit_exact(monkeypatch, capfd, tmp_path, path, pixels, want, "--pixel-max", "255",
                       *args, gap=gap, stall=stall)
