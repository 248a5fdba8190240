"""Depthwise-separable networks and rectangular everything, through qnet, the golden model and
the C library (issue 36's first step; the hardware refuses them, naming the layer): every layer
kind and option alone, and the MLPerf Tiny shapes built from their public descriptions, random
weights calibrated on random data, converted the standard way: MobileNetV1 alpha 0.25 on
96x96x3 (visual wake words; hand-built and keras.applications') and DS-CNN on a 49x10 MFCC map
(keyword spotting). Golden == LiteRT's reference kernels on every tensor, the C library ==
golden."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from model import c_export, export, golden, oracle, qnet  # noqa: E402
from model.mlperf import ds_cnn, keras_mobilenet, mobilenet_v1_025, resnet8  # noqa: E402
from tests.usermodels import hardware_bit_exact, refused, user_tflite  # noqa: E402


def build(body, shape, name="m"):
    x = inp = keras.Input(shape)
    for layer in body:
        x = layer(x)
    return keras.Model(inp, x, name=name)


def convert(model, path, seed=0):
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    shape = tuple(model.inputs[0].shape[1:])
    return user_tflite(model, path, calib=rng.random((16,) + shape).astype(np.float32))


def golden_equals_litert(path, n, seed=1):
    """n random int8 inputs (the whole int8 range): every layer's tensor and the logits."""
    net = qnet.from_tflite(path)
    x = np.random.default_rng(seed).integers(-128, 128, (n,) + net.input_shape).astype(np.int8)
    out, inter = oracle.run(path, x, [layer.tensor for layer in net.layers])
    result = golden.run_network(net, x)
    for layer, mine in zip(net.layers, result.tensors):
        np.testing.assert_array_equal(inter[layer.tensor], mine, err_msg=layer.name)
    np.testing.assert_array_equal(out, result.logits)
    return net, result


def c_equals_golden(net, path, folder, n=20, seed=2):
    """The C library (sanitized) on n random pixel images == golden on the same pixels."""
    export.export(net, path.read_bytes(), folder, input_max=255.0)
    exe = c_export.compile_host(folder, net.name, folder / "host", sanitize=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (n,) + net.input_shape,
                                                  dtype=np.uint8)
    want = golden.run_network(net, net.quantize_input(pixels / np.float32(255))).logits
    got = c_export.run_host(exe, pixels, want.shape[1], folder)
    np.testing.assert_array_equal(got, want)


D = layers.Dense
LAYERS = {
    "depthwise3x3_same_relu6": ([layers.DepthwiseConv2D(3, padding="same", activation="relu6"),
                                 layers.Flatten(), D(4)], (9, 9, 5)),
    "depthwise5x5_stride2_valid": ([layers.DepthwiseConv2D(5, strides=2), layers.Flatten(),
                                    D(4)], (13, 11, 3)),
    "depthwise_multiplier2_relu": ([layers.DepthwiseConv2D(3, depth_multiplier=2,
                                                           activation="relu"),
                                    layers.Flatten(), D(4)], (8, 8, 3)),
    "depthwise_rect_strides": ([layers.DepthwiseConv2D((3, 1), strides=(2, 1), padding="same"),
                                layers.Flatten(), D(4)], (10, 7, 4)),
    "pad_then_depthwise_stride2": ([layers.ZeroPadding2D(((0, 1), (0, 1))),
                                    layers.DepthwiseConv2D(3, strides=2), layers.Flatten(),
                                    D(4)], (12, 12, 4)),
    "pad_then_conv": ([layers.ZeroPadding2D((2, 1)), layers.Conv2D(4, 3), layers.Flatten(),
                       D(4)], (7, 9, 2)),
    "conv10x4_stride2_same": ([layers.Conv2D(8, (10, 4), strides=2, padding="same",
                                             activation="relu"), layers.Flatten(), D(4)],
                              (49, 10, 1)),
    "conv_strides_2x1": ([layers.Conv2D(4, (3, 2), strides=(2, 1)), layers.Flatten(), D(4)],
                         (11, 8, 3)),
    "avgpool_whole_25x5": ([layers.Conv2D(6, 3, padding="same", activation="relu"),
                            layers.AveragePooling2D((25, 5)), layers.Flatten(), D(4)],
                           (25, 5, 1)),
    "pools_3x2_stride_2x1": ([layers.Conv2D(4, 3, activation="relu"),
                              layers.MaxPooling2D((3, 2), strides=(2, 1)),
                              layers.AveragePooling2D((2, 3), strides=(1, 2)),
                              layers.Flatten(), D(4)], (12, 12, 1)),
    "rgb_input": ([layers.Conv2D(4, 3, strides=2, padding="same", activation="relu6"),
                   layers.DepthwiseConv2D(3, padding="same", activation="relu6"),
                   layers.GlobalAveragePooling2D(), D(3)], (16, 12, 3)),
}


@pytest.mark.parametrize("case", sorted(LAYERS))
def test_layer_golden_and_c(tmp_path, case):
    body, shape = LAYERS[case]
    path = convert(build(body, shape, name=case), tmp_path / f"{case}.tflite")
    net, _ = golden_equals_litert(path, 60)
    c_equals_golden(net, path, tmp_path / "c")


@pytest.mark.parametrize("case,layer,why", [
    ("depthwise_multiplier2_relu", "DEPTHWISE_CONV_2D", "depth multiplier 2: the hardware's "
                                                        "depthwise convolution takes 1"),
    ("depthwise_rect_strides", "DEPTHWISE_CONV_2D", "kernel 3x1 stride 2x1: the hardware's "
                                                    "convolution takes square kernels"),
    ("pools_3x2_stride_2x1", "MAX_POOL_2D", "pool 3x2 stride 2x1: the hardware's pooling "
                                            "takes windows of up to 64 a side with the stride "
                                            "its window")])
def test_hardware_refuses_what_it_has_no_block_for(monkeypatch, capfd, tmp_path, case, layer,
                                                    why):
    body, shape = LAYERS[case]
    path = convert(build(body, shape, name=case), tmp_path / f"{case}.tflite")
    msg = refused(monkeypatch, capfd, tmp_path, "make_verilog", "--model", path)
    assert msg.startswith(f"{path}: operator ") and f" {layer} (" in msg and why in msg, msg
    assert msg.endswith("the golden model and the C library run it (check_golden.py, "
                        "export_weights.py)")


@pytest.mark.parametrize("case,par", [
    ("depthwise3x3_same_relu6", ["--smallest"]),
    pytest.param("depthwise3x3_same_relu6", [], marks=pytest.mark.slow),
    ("depthwise3x3_same_relu6", ["--par", "dw1=1x5x9"]),
    ("depthwise5x5_stride2_valid", ["--par", "dw1=1x3x25"]),
    ("pad_then_depthwise_stride2", ["--auto-budget", "64"]), ("rgb_input", ["--par", "dw1=1x2x1"]),
    pytest.param("conv10x4_stride2_same", [], marks=pytest.mark.slow),
    ("conv10x4_stride2_same", ["--par", "conv1=2x1x40"]),
    ("conv_strides_2x1", ["--par", "conv1=2x3"]), ("avgpool_whole_25x5", [])])
def test_depthwise_and_rectangular_in_hardware(monkeypatch, capfd, tmp_path, case, par):
    """Models with a depthwise layer (its taps one a clock, the smallest config, or all at
    once) or a rectangular kernel or stride through make_verilog and Verilator: every logit
    equal to golden's on random pixels, the latency and interval equal to the cycle model's."""
    body, shape = LAYERS[case]
    path = convert(build(body, shape, name=case), tmp_path / f"{case}.tflite")
    net = qnet.from_tflite(path)
    pixels = np.random.default_rng(3).integers(0, 256, (4,) + net.input_shape, dtype=np.uint8)
    want = golden.run_network(net, net.quantize_input(pixels / np.float32(255))).logits
    _, conf = hardware_bit_exact(monkeypatch, capfd, tmp_path, path, pixels, want,
                                 "--pixel-max", "255", *par)
    if par[:1] == ["--par"]:
        from hdl.cnn.parallel import Parallel

        name, value = par[1].split("=")
        assert Parallel.of(conf[name]) == Parallel.parse(value)


def test_a_pad_must_precede_a_convolution(monkeypatch, capfd, tmp_path):
    path = convert(build([layers.ZeroPadding2D(1), layers.MaxPooling2D(2), layers.Flatten(),
                          D(3)], (8, 8, 1)), tmp_path / "padpool.tflite")
    msg = refused(monkeypatch, capfd, tmp_path, "check_golden", "--model", path)
    assert "MAX_POOL_2D" in msg and "follows a PAD; a PAD is supported only right before a " \
                                   "convolution" in msg


# --- the MLPerf Tiny shapes ---------------------------------------------------------------

MLPERF = {"ds_cnn": (ds_cnn, 2_656_768, 200), "vww_mobilenet": (mobilenet_v1_025, None, 60),
          "keras_mobilenet": (keras_mobilenet, 7_489_664, 60)}


@pytest.mark.parametrize("name", sorted(MLPERF))
def test_mlperf_shape_golden_and_c(tmp_path, name):
    make, macs, n = MLPERF[name]
    path = convert(make(), tmp_path / f"{name}.tflite")
    net, _ = golden_equals_litert(path, n)
    if macs is not None:  # the figures REFERENCE.md counts from the architectures
        assert net.macs == macs
    assert any(layer.kind == "depthwise" for layer in net.layers)
    c_equals_golden(net, path, tmp_path / "c", n=5)


# slow: 60 s and 100 s (`make mlperf` runs both too); the default suite has their layers in
# test_depthwise_and_rectangular_in_hardware
@pytest.mark.parametrize("name,make,pixel_max,offset,depthwise,seed", [
    pytest.param("KWS DS-CNN", ds_cnn, 255.0, 0.0, 4, 5, marks=pytest.mark.slow),
    pytest.param("VWW keras MobileNet", keras_mobilenet, 127.5, -1.0, 13, 4,
                 marks=pytest.mark.slow)])
def test_mlperf_shape_in_hardware(monkeypatch, capfd, tmp_path, name, make, pixel_max, offset,
                                  depthwise, seed):
    """Keyword spotting's DS-CNN (the 10x4 stride-2 'same' convolution, four depthwise-
    separable blocks, the 25x5 average over the whole map, dense 12) and Visual Wake Words'
    model as keras.applications writes it (MobileNetV1 alpha 0.25, 96x96x3, 7.49 M MACs: 13
    depthwise layers, PAD before the stride-2 ones, the 1x1 convolution top), each folded
    into the ECP5-85F's 156 multipliers: every logit equal to golden's on random inputs in
    Verilator, the latency and interval the cycle model's."""
    path = convert(make(), tmp_path / "m.tflite")
    net = qnet.from_tflite(path)
    assert sum(layer.kind == "depthwise" for layer in net.layers) == depthwise
    pixels = np.random.default_rng(seed).integers(0, 256, (3,) + net.input_shape,
                                                  dtype=np.uint8)
    want = golden.run_network(net, net.quantize_input(pixels / np.float32(pixel_max)
                                                      + np.float32(offset))).logits
    result, conf = hardware_bit_exact(monkeypatch, capfd, tmp_path, path, pixels, want,
                                      "--pixel-max", str(pixel_max), "--pixel-offset",
                                      str(offset), "--auto-budget", "156")
    assert sum(p * s * t for p, s, t in conf.values()) <= 156
    print(f"{name}: {result.latency:,} clocks latency, {result.interval:,.0f} interval")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MLPERF))
def test_mlperf_shape_golden_200_inputs(tmp_path, name):
    make, _, _ = MLPERF[name]
    golden_equals_litert(convert(make(), tmp_path / f"{name}.tflite"), 200, seed=3)


def test_random_dataset_judges_a_model_without_its_data(monkeypatch, capfd, tmp_path):
    """--dataset random[:SEED]: seeded inputs over the whole range, accuracy n/a."""
    import json

    from tests.usermodels import cli

    path = convert(ds_cnn(), tmp_path / "ds_cnn.tflite")
    code, out, err = cli(monkeypatch, capfd, "check_golden", "--model", path, "--dataset",
                         "random:5", "--n", "50", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["images"] == 50 and report["mismatches"] == 0
    assert report["int8_accuracy"] is None and report["golden_accuracy"] is None
    assert refused(monkeypatch, capfd, tmp_path, "check_golden", "--model", path, "--dataset",
                   "random:x") == "--dataset random:x: random:SEED takes a whole number"
    msg = refused(monkeypatch, capfd, tmp_path, "check_golden", "--model", path)
    assert msg.endswith("or --dataset random to judge it on random inputs")
    from model import data

    a, b = data.random_dataset("random:5", (4, 3, 1)), data.random_dataset("random:5", (4, 3, 1))
    np.testing.assert_array_equal(a.test.x, b.test.x)
    assert a.test.x.min() == 0 and a.test.x.max() == 255 and not a.labelled


# slow: 140 s (ResNet-8's 12.5 M MACs through Verilator; `make mlperf` runs it too). The
# default suite has ADD, forks and shortcut FIFOs in tests/test_residual.py
@pytest.mark.slow
def test_resnet8_golden_c_and_hardware(monkeypatch, capfd, tmp_path):
    """Branches: a tensor feeds two layers, ADD joins them; golden == LiteRT on every tensor of
    200 random inputs (the three ADDs with their fused ReLU included); the C library (its
    scratch slots holding each shortcut until its ADD) == golden; folded into the ECP5-85F's
    156 multipliers, every logit equal to golden's in Verilator, the latency and interval the
    cycle model's."""
    path = convert(resnet8(), tmp_path / "resnet8.tflite")
    net, _ = golden_equals_litert(path, 200)
    assert net.macs == 12_501_632 and [layer.kind for layer in net.layers].count("add") == 3
    first_add = next(layer for layer in net.layers if layer.kind == "add")
    assert first_add.inputs[0] == net.layers[0].tensor  # the identity shortcut
    slot, n_slots = c_export.slot_plan(net)
    assert n_slots == 3  # the block's input, kept for its ADD, and two working slots
    c_equals_golden(net, path, tmp_path / "c", n=10)
    pixels = np.random.default_rng(8).integers(0, 256, (3,) + net.input_shape, dtype=np.uint8)
    want = golden.run_network(net, net.quantize_input(pixels / np.float32(255))).logits
    result, conf = hardware_bit_exact(monkeypatch, capfd, tmp_path, path, pixels, want,
                                      "--pixel-max", "255", "--auto-budget", "156")
    assert sum(p * s * t for p, s, t in conf.values()) <= 156
    print(f"ResNet-8: {result.latency:,} clocks latency, {result.interval:,.0f} interval")


def test_add_of_two_shapes_is_refused(monkeypatch, capfd, tmp_path):
    inp = keras.Input((6, 6, 2))
    model = keras.Model(inp, layers.Dense(3)(layers.Flatten()(
        layers.Add()([layers.Conv2D(2, 1)(inp), layers.Conv2D(1, 1)(inp)]))))
    path = convert(model, tmp_path / "broadcast.tflite")
    msg = refused(monkeypatch, capfd, tmp_path, "check_golden", "--model", path, "--dataset",
                  "random")
    assert "only tensors of one shape are added (no broadcasting)" in msg
