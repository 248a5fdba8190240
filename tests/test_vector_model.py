"""Vector inputs and whole output tensors (issue 37, first step): MLPerf Tiny's anomaly-detection
autoencoder (Dense 128 + BN + ReLU four times, Dense 8 + BN + ReLU, Dense 128 + BN + ReLU four
times, Dense 640, on a 640-value input), random weights calibrated on random data, converted the
standard way: golden == LiteRT's reference kernels on every tensor, the C library equal, and the
hardware (the dense blocks, the input as 640 8-bit codes, every one of the 640 outputs streamed
out) bit-exact in Verilator with the cycle model exact."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from model import c_export, export, golden, oracle, qnet, source  # noqa: E402
from model.mlperf import autoencoder  # noqa: E402
from tests.usermodels import cli, hardware_bit_exact, refused, user_tflite  # noqa: E402


@pytest.fixture(scope="module")
def ae_tflite(tmp_path_factory):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("ae") / "autoencoder.tflite"
    return user_tflite(autoencoder(), path, calib=rng.normal(0, 1, (32, 640)).astype(np.float32))


def codes_and_golden(path, n, seed=4):
    """n random inputs as the 8-bit codes the hardware and the C library take, and golden's
    whole output tensor for them (the mapping: codes over the int8 input's range)."""
    src = source.resolve(str(path), dataset="random")
    net = src.load_net()
    codes = src.load_data().test.x[:n] if seed is None else np.random.default_rng(seed).integers(
        0, 256, (n,) + net.input_shape, dtype=np.uint8)
    return net, codes, golden.run_network(net, net.quantize_input(src.to_float(codes)))


def test_golden_equals_litert_on_every_tensor(ae_tflite):
    net = qnet.from_tflite(ae_tflite)
    assert net.input_shape == (640,) and net.macs == 264_192
    assert net.logits_layer.c_out == 640
    x = np.random.default_rng(1).integers(-128, 128, (200, 640)).astype(np.int8)
    out, inter = oracle.run(ae_tflite, x, [layer.tensor for layer in net.layers])
    result = golden.run_network(net, x)
    for layer, mine in zip(net.layers, result.tensors):
        np.testing.assert_array_equal(inter[layer.tensor], mine, err_msg=layer.name)
    np.testing.assert_array_equal(out, result.logits)


def test_check_golden_on_random_vectors(monkeypatch, capfd, ae_tflite):
    import json

    code, out, err = cli(monkeypatch, capfd, "check_golden", "--model", ae_tflite, "--dataset",
                         "random:2", "--n", "100", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["mismatches"] == 0 and report["int8_accuracy"] is None
    assert "a vector input: 8-bit codes over its int8 input's range" in err


def test_c_library_equals_golden(ae_tflite, tmp_path):
    src = source.resolve(str(ae_tflite), dataset="random")
    net, codes, want = codes_and_golden(ae_tflite, 30)
    export.export(net, ae_tflite.read_bytes(), tmp_path, input_max=src.input_max,
                  input_offset=src.input_offset)
    exe = c_export.compile_host(tmp_path, net.name, tmp_path / "host", sanitize=True)
    np.testing.assert_array_equal(c_export.run_host(exe, codes, 640, tmp_path), want.logits)


@pytest.mark.parametrize("gap,stall", [(0, 0), pytest.param(30, 30, marks=pytest.mark.slow)])
def test_hardware_streams_the_whole_output_bit_exact(monkeypatch, capfd, tmp_path, ae_tflite,
                                                     gap, stall):
    _, codes, want = codes_and_golden(ae_tflite, 8)
    result, conf = hardware_bit_exact(monkeypatch, capfd, tmp_path, ae_tflite, codes,
                                      want.logits, "--auto-budget", "32", gap=gap, stall=stall)
    assert result.logits.shape == (8, 640)


def test_other_input_ranks_are_refused(monkeypatch, capfd, tmp_path):
    model = keras.Sequential([keras.Input((10, 4)), layers.Flatten(), layers.Dense(3)])
    path = user_tflite(model, tmp_path / "seq.tflite")
    msg = refused(monkeypatch, capfd, tmp_path, "check_golden", "--model", path)
    assert msg == (f"{path}: input shape (1, 10, 4); an image (1, H, W, C) or a vector (1, N) "
                   f"is required")


def micro_speech():
    """TFLite Micro's micro_speech shape: a 1960-value input read as a 49x40x1 map (RESHAPE),
    a 10x8 stride-2 'same' depthwise convolution with depth multiplier 8 (on one channel: a
    convolution with 8 filters), Flatten, Dense 4, softmax."""
    x = inp = keras.Input((1960,))
    x = layers.Reshape((49, 40, 1))(x)
    x = layers.DepthwiseConv2D((10, 8), strides=2, padding="same", depth_multiplier=8,
                               activation="relu")(x)
    return keras.Model(inp, layers.Dense(4, activation="softmax")(layers.Flatten()(x)),
                       name="micro_speech")


def test_a_vector_read_as_a_map(monkeypatch, capfd, tmp_path):
    """RESHAPE (1, N) -> (1, H, W, C): golden == LiteRT on every tensor, the C library equal,
    and the hardware (the vector streams in as the map's raster) bit-exact in Verilator with
    the cycle model exact."""
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    path = user_tflite(micro_speech(), tmp_path / "micro_speech.tflite",
                       calib=rng.random((16, 1960)).astype(np.float32))
    net = qnet.from_tflite(path)
    assert [(layer.name, layer.kind) for layer in net.layers] == [
        ("reshape1", "flatten"), ("conv1", "conv2d"), ("flatten", "flatten"), ("dense1", "dense")]
    assert net.layers[0].out_shape == (49, 40, 1) and net.layers[1].out_shape == (25, 20, 8)
    x = rng.integers(-128, 128, (100, 1960)).astype(np.int8)
    out, inter = oracle.run(path, x, [layer.tensor for layer in net.layers])
    result = golden.run_network(net, x)
    for layer, mine in zip(net.layers, result.tensors):
        np.testing.assert_array_equal(inter[layer.tensor], mine, err_msg=layer.name)
    np.testing.assert_array_equal(out, result.logits)
    net, codes, want = codes_and_golden(path, 4)
    src = source.resolve(str(path), dataset="random")
    export.export(net, path.read_bytes(), tmp_path / "c", input_max=src.input_max,
                  input_offset=src.input_offset)
    exe = c_export.compile_host(tmp_path / "c", net.name, tmp_path / "host", sanitize=True)
    np.testing.assert_array_equal(c_export.run_host(exe, codes, 4, tmp_path / "c"),
                                  want.logits)
    hardware_bit_exact(monkeypatch, capfd, tmp_path, path, codes, want.logits,
                       "--auto-budget", "24")


def test_a_reshape_between_maps_is_refused(monkeypatch, capfd, tmp_path):
    model = keras.Sequential([keras.Input((6, 4, 2)), layers.Reshape((4, 6, 2)),
                              layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(3)])
    path = user_tflite(model, tmp_path / "maps.tflite")
    msg = refused(monkeypatch, capfd, tmp_path, "check_golden", "--model", path)
    assert "RESHAPE" in msg and "reshape (6, 4, 2) -> (1, 4, 6, 2); only a Flatten" in msg


def test_a_numpy_dataset_of_float_vectors(monkeypatch, capfd, tmp_path, ae_tflite):
    """--dataset DIR of .npy arrays: a vector model's float inputs are quantized as TFLite
    quantizes its input, so golden on the codes equals golden on the floats, and check_golden
    compares them with LiteRT; labels make an accuracy, their absence n/a."""
    import json

    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, (40, 640)).astype(np.float32)
    folder = tmp_path / "npy"
    folder.mkdir()
    np.save(folder / "x_test.npy", x)
    src = source.resolve(str(ae_tflite), dataset=str(folder))
    net, codes = src.load_net(), src.load_data().test.x
    assert codes.dtype == np.uint8 and codes.shape == (40, 640)
    from_codes = golden.run_network(net, net.quantize_input(src.to_float(codes)))
    np.testing.assert_array_equal(from_codes.logits,
                                  golden.run_network(net, net.quantize_input(x)).logits)
    code, out, err = cli(monkeypatch, capfd, "check_golden", "--model", ae_tflite, "--dataset",
                         folder, "--n", "40", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["mismatches"] == 0 and report["images"] == 40
    assert report["int8_accuracy"] is None
    np.save(folder / "x_test.npy", x[:, :600])
    code, _, err = cli(monkeypatch, capfd, "check_golden", "--model", ae_tflite, "--dataset",
                       folder)
    assert code == 2 and err.splitlines()[-1] == (
        f"error: --dataset {folder}: x_test.npy holds inputs of shape (600,); the model "
        f"{ae_tflite} takes (640,)")
    np.save(folder / "x_test.npy", x)
    np.save(folder / "x_train.npy", x)
    np.save(folder / "y_test.npy", np.zeros(40, np.int64))
    code, _, err = cli(monkeypatch, capfd, "check_golden", "--model", ae_tflite, "--dataset",
                       folder)
    assert code == 2 and err.splitlines()[-1] == (
        f"error: {folder}: y_test.npy is there but y_train.npy is not; give both splits "
        f"labels or neither")


def test_a_numpy_dataset_of_labelled_images(monkeypatch, capfd, tmp_path):
    """uint8 images in .npy with labels: the accuracy is measured (golden == LiteRT)."""
    import json

    from tests.usermodels import small

    path = user_tflite(small(), tmp_path / "small.tflite")
    rng = np.random.default_rng(8)
    folder = tmp_path / "npy"
    folder.mkdir()
    for part in ("train", "test"):
        np.save(folder / f"x_{part}.npy", rng.integers(0, 256, (30, 12, 12), dtype=np.uint8))
        np.save(folder / f"y_{part}.npy", rng.integers(0, 3, 30))
    code, out, err = cli(monkeypatch, capfd, "check_golden", "--model", path, "--dataset",
                         folder, "--n", "30", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["mismatches"] == 0 and 0 <= report["int8_accuracy"] <= 1
    np.save(folder / "x_test.npy", rng.random((30, 12, 12)))
    msg = refused(monkeypatch, capfd, tmp_path, "check_golden", "--model", path, "--dataset",
                  folder)
    assert msg.endswith("x_test.npy is float64; float inputs are taken for a vector model "
                        "whose input mapping is read from the file; images must be uint8 pixels")
