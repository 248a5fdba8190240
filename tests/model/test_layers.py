"""The layers beyond the seed network's (k x k convolution with stride and 'same' padding,
average and 3x3 max pooling, global average pooling): read from the .tflite as TFLite
computes them, golden == LiteRT's reference kernels on every tensor, the C library == golden
on every logit, and the hardware blocks built and run bit-exact in Verilator with the cycle
model exact."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402

from model import golden, oracle, qnet  # noqa: E402
from tests.usermodels import cli, hardware_bit_exact, seq, user_tflite  # noqa: E402

MODELS = {
    # 'same' on an even size: the padding total is odd, the extra row and column at the end
    "conv5_same": lambda: seq(layers.Conv2D(4, 5, padding="same", activation="relu"),
                              layers.Flatten(), layers.Dense(3), shape=(12, 12, 1)),
    "conv3_stride2_same_even": lambda: seq(
        layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2D(6, 1, activation="relu6"), layers.Flatten(), layers.Dense(3),
        shape=(12, 12, 2)),
    "conv3_stride2_same_odd": lambda: seq(layers.Conv2D(4, 3, strides=2, padding="same"),
                                          layers.Flatten(), layers.Dense(3), shape=(13, 13, 1)),
    "conv7_stride2_valid": lambda: seq(layers.Conv2D(4, 7, strides=2, activation="relu"),
                                       layers.Flatten(), layers.Dense(3), shape=(16, 16, 1)),
    "conv5_stride2_same": lambda: seq(layers.Conv2D(3, 5, strides=2, padding="same"),
                                      layers.Flatten(), layers.Dense(3), shape=(11, 11, 1)),
    "avgpool2_odd": lambda: seq(layers.Conv2D(4, 3, activation="relu"),
                                layers.AveragePooling2D(2), layers.Flatten(), layers.Dense(3),
                                shape=(13, 13, 1)),
    "avgpool3_maxpool3": lambda: seq(layers.Conv2D(4, 3), layers.AveragePooling2D(3),
                                     layers.MaxPooling2D(3), layers.Flatten(), layers.Dense(3),
                                     shape=(29, 29, 1)),
    "global_average": lambda: seq(
        layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
        layers.GlobalAveragePooling2D(), layers.Dense(3), shape=(12, 12, 1)),
    "global_average_keepdims": lambda: seq(
        layers.Conv2D(8, 3, activation="relu"), layers.GlobalAveragePooling2D(keepdims=True),
        layers.Flatten(), layers.Dense(3), shape=(12, 12, 1)),
    "global_average_7x7": lambda: seq(layers.Conv2D(16, 3, activation="relu"),
                                      layers.GlobalAveragePooling2D(), layers.Dense(4),
                                      shape=(9, 9, 3)),
    "global_average_1x1": lambda: seq(layers.Conv2D(5, 3), layers.GlobalAveragePooling2D(),
                                      layers.Dense(2), shape=(3, 3, 1)),
}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    import keras

    folder = tmp_path_factory.mktemp("layers")
    out = {}
    for i, (name, build) in enumerate(sorted(MODELS.items())):
        keras.utils.set_random_seed(i)
        out[name] = user_tflite(build(), folder / f"{name}.tflite")
    return out


@pytest.mark.parametrize("name", sorted(MODELS))
def test_golden_equals_litert_on_every_tensor(converted, name):
    path = converted[name]
    net = qnet.from_tflite(path)
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (200,) + net.input_shape).astype(np.int8)
    x[0], x[1] = -128, 127   # flat images: every pooling window and mean at an extreme
    _, inter = oracle.run(path, x, [layer.tensor for layer in net.layers])
    result = golden.run_network(net, x)
    for layer, mine in zip(net.layers, result.tensors):
        want = inter[layer.tensor].reshape(mine.shape)
        assert int(np.sum(mine != want)) == 0, f"{name} {layer.name} ({layer.kind})"
    seed = [layer for layer in net.layers if layer.kind in ("maxpool2x2", "flatten", "dense")
            or (layer.kind == "conv2d"
                and (layer.kernel, layer.stride, any(layer.pad)) == (3, 1, False))]
    assert len(seed) < len(net.layers), f"{name} uses no layer beyond the seed network's"


def test_geometry_as_tflite_pads():
    """'same': output ceil(size / stride), the padding total split with the extra at the end."""
    assert qnet.same_padding(12, 3, 2) == (0, 1)     # 6 outputs: 5 * 2 + 3 - 12 = 1
    assert qnet.same_padding(13, 3, 2) == (1, 1)     # 7 outputs: 2
    assert qnet.same_padding(12, 5, 1) == (2, 2)
    assert qnet.same_padding(11, 5, 2) == (2, 2)     # 6 outputs: 5 * 2 + 5 - 11 = 4
    assert qnet.same_padding(4, 1, 2) == (0, 0)


def test_layers_read_from_the_tflite(converted):
    net = qnet.from_tflite(converted["conv3_stride2_same_even"])
    conv = net.layers[0]
    assert (conv.kind, conv.kernel, conv.stride, conv.pad) == ("conv2d", 3, 2, (0, 1, 0, 1))
    assert conv.out_shape == (6, 6, 4) and conv.fan_in == 18
    assert (net.layers[1].kind, net.layers[1].kernel, net.layers[1].pad) == ("conv2d", 1,
                                                                            (0, 0, 0, 0))
    pools = qnet.from_tflite(converted["avgpool3_maxpool3"]).layers
    assert [(p.kind, p.name, p.kernel, p.out_shape) for p in pools[1:3]] == [
        ("avgpool", "pool1", 3, (9, 9, 4)), ("maxpool", "pool2", 3, (3, 3, 4))]
    mean = qnet.from_tflite(converted["global_average"]).layers[1]
    assert (mean.kind, mean.out_shape) == ("mean", (8,))
    m, sh = qnet.mean_multiplier(mean.scale_in / mean.scale_out, 36)
    assert (mean.multiplier[0], mean.shift[0]) == (m, sh)


# every new layer kind and geometry once in the default suite (all of MODELS under slow)
HARDWARE_QUICK = ["conv3_stride2_same_even", "conv5_stride2_same", "avgpool3_maxpool3",
                  "global_average", "global_average_1x1"]


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in HARDWARE_QUICK else
                                               pytest.mark.slow) for n in sorted(MODELS)])
def test_hardware_runs_them_bit_exact(monkeypatch, capfd, tmp_path, converted, name):
    """make_verilog builds the model's accelerator (the fastest config within 16 multipliers);
    Verilator runs it on random images: every logit equal to the golden model's, the latency
    and the interval equal to the cycle model's."""
    path = converted[name]
    net = qnet.from_tflite(path)
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, (5,) + net.input_shape).astype(np.uint8)
    want = golden.run_network(net, net.pixel_table(255.0)[images]).logits
    hardware_bit_exact(monkeypatch, capfd, tmp_path, path, images, want, "--pixel-max", "255",
                       "--auto-budget", "16")


def test_a_kind_without_a_block_is_refused(monkeypatch, converted):
    """A layer kind the golden model runs before it has a hardware block is refused by the
    commands that build hardware, naming the operator and why."""
    monkeypatch.setattr(qnet, "HARDWARE_KINDS", ("conv2d", "flatten", "dense"))
    net = qnet.from_tflite(converted["global_average"])
    with pytest.raises(qnet.UnsupportedTFLiteError,
                       match=r"operator 1 MEAN .*: mean has no hardware block yet; the golden "
                             r"model and the C library run it \(check_golden.py"):
        qnet.check_hardware(net)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_c_library_equals_golden(converted, tmp_path, name):
    """mcu/cnn2fpga.c (C99, -Wall -Wextra -Werror, AddressSanitizer and UBSan) on the same
    models: every logit equal to the golden model's, from raw pixels through the pixel table."""
    import shutil

    from model import c_export, export

    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed (make setup installs it)")
    path = converted[name]
    net = qnet.from_tflite(path)
    export.export(net, path.read_bytes(), tmp_path / "export", input_max=1.0)
    exe = c_export.compile_host(tmp_path / "export", net.name, tmp_path / "host", sanitize=True)
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (60,) + net.input_shape).astype(np.uint8)
    pixels[0], pixels[1] = 0, 255
    got = c_export.run_host(exe, pixels, net.logits_layer.c_out, tmp_path)
    x = net.pixel_table(1.0)[pixels]
    np.testing.assert_array_equal(got, golden.run_network(net, x).logits)
