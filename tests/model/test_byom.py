"""Models as users bring them: the tutorial int8 .tflite (dynamic batch), one judge for .keras
and .tflite, input scaling and datasets as parameters, and every bad input refused with a
message naming the file, what is wrong and the fix; exit status 2, no traceback, nothing
written. Every model file is made inside its test (tiny, untrained)."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from model import golden, oracle, qnet, source  # noqa: E402
from model.convert import quiet  # noqa: E402
from tests.usermodels import cli, refused, seq, small, user_tflite, write_idx  # noqa: E402

# --- the tutorial int8 model: dynamic batch, SHAPE/STRIDED_SLICE/PACK before RESHAPE --------

def test_dynamic_batch_flatten_is_folded(tmp_path):
    path = user_tflite(small(), tmp_path / "dyn.tflite")
    net = qnet.from_tflite(path)
    assert [layer.kind for layer in net.layers] == ["conv2d", "maxpool2x2", "flatten", "dense"]
    rng = np.random.default_rng(1)
    x = net.quantize_input(rng.random((20, 12, 12, 1), np.float32))
    _, inter = oracle.run(path, x, [layer.tensor for layer in net.layers])
    result = golden.run_network(net, x)
    for layer, mine in zip(net.layers, result.tensors):
        np.testing.assert_array_equal(mine, inter[layer.tensor], err_msg=layer.name)


def test_relu6_clamp_is_six_in_the_output_scale():
    """TFLite's CalculateActivationRangeQuantized: act_max = zp + round(6 / scale), clipped."""
    from ai_edge_litert import schema_py_generated as schema

    class Out:  # an output tensor with scale 0.1 and zero point -128
        quantization = type("Q", (), {"scale": [0.1], "zeroPoint": [-128]})()

    opts = type("O", (), {"fusedActivationFunction": schema.ActivationFunctionType.RELU6})()
    assert qnet._activation(opts, Out, schema.ActivationFunctionType, ValueError) == \
        (True, -128, -128, -68)
    opts.fusedActivationFunction = schema.ActivationFunctionType.TANH
    with pytest.raises(ValueError, match="fused activation TANH; supported: none, RELU, RELU6"):
        qnet._activation(opts, Out, schema.ActivationFunctionType, ValueError)


# --- bad inputs: one case each, exact messages -------------------------------------------

CONVERT = ("convert with full-integer quantization: converter.optimizations = "
           "[tf.lite.Optimize.DEFAULT], converter.representative_dataset = <a generator of "
           "training images>, converter.target_spec.supported_ops = "
           "[tf.lite.OpsSet.TFLITE_BUILTINS_INT8], converter.inference_input_type = "
           "converter.inference_output_type = tf.int8 (or give cnn2fpga the .keras file and it "
           "converts it so)")


@pytest.mark.parametrize("script", ["check_golden", "make_verilog", "export_weights"])
def test_truncated_tflite(monkeypatch, capfd, tmp_path, script):
    whole = user_tflite(small(), tmp_path / "whole.bin").read_bytes()
    path = tmp_path / "cut.tflite"
    path.write_bytes(whole[: len(whole) // 2])
    msg = refused(monkeypatch, capfd, tmp_path, script, "--model", path)
    assert msg.startswith(f"{path}: truncated or corrupt TFLite file (")
    assert msg.endswith("); convert the model again")


def test_float32_tflite(monkeypatch, capfd, tmp_path):
    path = user_tflite(small(), tmp_path / "f.tflite", mode="float")
    msg = refused(monkeypatch, capfd, tmp_path, "check_golden", "--model", path)
    assert msg == f"{path}: a float32 model (nothing is quantized); {CONVERT}"


def test_dynamic_range_tflite(monkeypatch, capfd, tmp_path):
    # the converter leaves weight tensors under 1,024 values in float: a 100 x 64 dense
    model = seq(layers.Conv2D(4, 3), layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(64),
                layers.Dense(3))
    path = user_tflite(model, tmp_path / "d.tflite", mode="dynamic")
    msg = refused(monkeypatch, capfd, tmp_path, "make_verilog", "--model", path)
    assert msg == (f"{path}: dynamic-range quantized (int8 weights, float32 activations); the "
                   f"activations need int8 too, which takes a representative dataset: {CONVERT}")


def test_uint8_input_tflite(monkeypatch, capfd, tmp_path):
    path = user_tflite(small(), tmp_path / "u.tflite", io=tf.uint8)
    name = qnet._name(qnet._schema().ModelT.InitFromPackedBuf(path.read_bytes(), 0)
                      .subgraphs[0].tensors[0])
    msg = refused(monkeypatch, capfd, tmp_path, "export_weights", "--model", path)
    assert msg == (f"{path}: the model's input '{name}' is uint8 (the model is quantized "
                   f"inside, with a QUANTIZE at the start); convert with "
                   f"converter.inference_input_type = tf.int8")


def test_float_output_tflite(monkeypatch, capfd, tmp_path):
    """int8 inside and at the input, float32 logits out (inference_output_type left alone)."""
    model = small()
    rng = np.random.default_rng(0)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.random((1, 12, 12, 1), np.float32)]
                                           for _ in range(8))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    path = tmp_path / "o.tflite"
    with quiet():
        path.write_bytes(conv.convert())
    msg = refused(monkeypatch, capfd, tmp_path, "check_golden", "--model", path)
    assert msg.startswith(f"{path}: the model's output '")
    assert msg.endswith("' is float32 (the model is quantized inside, with a DEQUANTIZE or "
                        "QUANTIZE at the end); convert with converter.inference_output_type = "
                        "tf.int8")


def test_corrupt_keras(monkeypatch, capfd, tmp_path):
    path = tmp_path / "broken.keras"
    path.write_bytes(b"PK\x03\x04 this is not a whole zip")
    msg = refused(monkeypatch, capfd, tmp_path, "check_golden", "--model", path)
    assert msg == (f"{path}: not a Keras model file (a .keras file is a zip archive; this one "
                   f"is not, or it is truncated); save the model again with "
                   f"model.save('name.keras')")


def test_keras_zip_that_keras_cannot_load(monkeypatch, capfd, tmp_path):
    import zipfile

    path = tmp_path / "empty.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "no model here")
    msg = refused(monkeypatch, capfd, tmp_path, "make_verilog", "--model", path)
    assert msg.startswith(f"{path}: Keras cannot load it (")
    assert msg.endswith("save the model again with model.save('name.keras'), without custom "
                        "layers")


@pytest.mark.parametrize("args,msg", [
    (["--auto-ips", "0"], "--auto-ips 0: must be a positive rate in images per second"),
    (["--auto-ips", "-5"], "--auto-ips -5: must be a positive rate in images per second"),
    (["--auto-budget", "0"], "--auto-budget 0: must be at least 1 multiplier"),
    (["--auto-ips", "100", "--clock-mhz", "0"], "--clock-mhz 0: must be a positive frequency"),
    (["--pixel-max", "0"], "--pixel-max 0.0: must be a positive number (the model's float "
                           "input is pixel / P + B)"),
    (["--pixel-offset", "nan"], "--pixel-offset nan: must be a number (the model's float input "
                                "is pixel / P + B)")])
def test_bad_numbers(monkeypatch, capfd, tmp_path, args, msg):
    assert refused(monkeypatch, capfd, tmp_path, "make_verilog", "--model", "digits_cnn",
                   *args) == msg


def test_missing_file_names_its_path(monkeypatch, capfd, tmp_path):
    path = tmp_path / "sub" / "nothing.tflite"
    assert refused(monkeypatch, capfd, tmp_path, "check_golden", "--model",
                   path) == f"model file {path} does not exist"


def test_unknown_input_shape_asks_for_a_dataset(monkeypatch, capfd, tmp_path):
    path = user_tflite(small(shape=(20, 20, 1)), tmp_path / "twenty.tflite")
    msg = refused(monkeypatch, capfd, tmp_path, "check_golden", "--model", path)
    assert msg == (f"{path}: its input 20x20x1 matches no built-in dataset (mnist 28x28x1, "
                   f"digits 8x8x1); pass --dataset DIR, a folder with the IDX files "
                   f"train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                   f"t10k-labels-idx1-ubyte of 20x20x1 images or with x_test.npy (and "
                   f"y_test.npy) of 20x20x1 inputs, or --dataset random to judge it on "
                   f"random inputs")


def test_dataset_of_the_wrong_shape(monkeypatch, capfd, tmp_path):
    path = user_tflite(small(shape=(20, 20, 1)), tmp_path / "twenty.tflite")
    rng = np.random.default_rng(0)
    data = write_idx(tmp_path / "data16", rng.integers(0, 256, (10, 16, 16), np.uint8),
                     rng.integers(0, 3, 10).astype(np.uint8))
    msg = refused(monkeypatch, capfd, tmp_path, "check_golden", "--model", path,
                  "--dataset", data)
    assert msg == f"{path}: the model takes (20, 20, 1) images, dataset {data} has (16, 16, 1)"


def test_input_range_fits_no_pixel_scale(monkeypatch, capfd, tmp_path):
    """Calibrated on [0, 40): neither pixel/255 nor raw pixels; --pixel-max settles it."""
    path = user_tflite(small(shape=(20, 20, 1)), tmp_path / "odd.tflite", hi=40.0)
    msg = refused(monkeypatch, capfd, tmp_path, "make_verilog", "--model", path)
    assert msg.startswith(f"{path}: its int8 input holds floats ")
    assert msg.endswith("which is none of pixel/255 (0 .. 1), pixel/127.5 - 1 (-1 .. 1) or raw "
                        "pixels (0 .. 255); pass --pixel-max P and --pixel-offset B (the model's "
                        "float input is pixel / P + B)")
    code, out, err = cli(monkeypatch, capfd, "make_verilog", "--model", path,
                         "--pixel-max", "6.375", "--out", tmp_path / "v")
    assert code == 0, err
    assert (tmp_path / "v" / "odd_top.v").is_file()


# --- one judge: the .keras and the .tflite of one model give the same answer --------------

UNSUPPORTED = {
    "tanh": (lambda: seq(layers.Conv2D(4, 3, activation="tanh"), layers.Flatten(),
                         layers.Dense(3)),
             "operator 1 TANH", "operator not supported"),
    "softmax_inside": (lambda: seq(layers.Flatten(), layers.Dense(5, activation="softmax"),
                                   layers.Dense(3)),
                       "SOFTMAX", "SOFTMAX is only supported as the last operator"),
    "dense_on_image": (lambda: seq(layers.Dense(3)), "RESHAPE",
                       "a Dense on an image needs a Flatten before it"),
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_keras_and_tflite_refused_alike(monkeypatch, capfd, tmp_path, case):
    build, where, reason = UNSUPPORTED[case]
    model = build()
    kpath = tmp_path / f"{case}.keras"
    with quiet():
        model.save(kpath)
    tpath = user_tflite(model, tmp_path / f"{case}.tflite")
    by_tflite = refused(monkeypatch, capfd, tmp_path, "check_golden", "--model", tpath)
    # no dataset has 12x12 images: the .keras is judged on a random calibration first
    by_keras = refused(monkeypatch, capfd, tmp_path, "make_verilog", "--model", kpath)
    assert by_tflite.startswith(f"{tpath}: ") and by_keras.startswith(f"{kpath}: ")
    tail_t, tail_k = by_tflite[len(str(tpath)):], by_keras[len(str(kpath)):]
    assert where in tail_t and reason in tail_t
    # the same operator and reason (tensor names may differ between conversions)
    assert tail_t.split(" (")[0] == tail_k.split(" (")[0]
    assert tail_t.split("): ", 1)[1] == tail_k.split("): ", 1)[1]


def test_keras_of_unknown_shape_asks_for_data_after_judging(monkeypatch, capfd, tmp_path):
    kpath = tmp_path / "ok.keras"
    small().save(kpath)
    msg = refused(monkeypatch, capfd, tmp_path, "make_verilog", "--model", kpath)
    assert msg.startswith(f"{kpath}: its input 12x12x1 matches no built-in dataset")


@pytest.mark.parametrize("variant", ["batchnorm", "rescaling", "relu6"])
def test_folded_layers_accepted_on_both_paths(monkeypatch, tmp_path, variant):
    """BatchNormalization folds into the convolution, Rescaling into the input quantization,
    ReLU6 into a clamp: accepted as .keras and as .tflite, golden == LiteRT on every tensor,
    and Rescaling's raw-pixel input reaches the pixel ROM (pixel_max 1)."""
    keras.utils.set_random_seed(3)
    head = {"batchnorm": [layers.Conv2D(4, 3), layers.BatchNormalization(), layers.ReLU()],
            "rescaling": [layers.Rescaling(1 / 255), layers.Conv2D(4, 3, activation="relu")],
            "relu6": [layers.Conv2D(4, 3, activation="relu6")]}[variant]
    model = seq(*head, layers.MaxPooling2D(2), layers.Flatten(),
                layers.Dense(5, activation="relu6" if variant == "relu6" else "relu"),
                layers.Dense(3), shape=(28, 28, 1))
    if variant == "batchnorm":  # trained statistics, so the fold is not the identity
        bn = model.layers[1]
        bn.set_weights([np.full(4, 1.5), np.full(4, 0.2), np.full(4, 0.1), np.full(4, 2.0)])
    raw = variant == "rescaling"
    rng = np.random.default_rng(5)
    data = write_idx(tmp_path / "data", rng.integers(0, 256, (64, 28, 28), np.uint8),
                     rng.integers(0, 3, 64).astype(np.uint8))
    kpath = tmp_path / f"{variant}.keras"
    model.save(kpath)
    tpath = user_tflite(model, tmp_path / f"{variant}.tflite", hi=255.0 if raw else 1.0)
    monkeypatch.chdir(tmp_path)
    for path in (kpath, tpath):
        src = source.resolve(str(path), dataset=str(data))
        assert src.input_max == (1.0 if raw else 255.0), path
        net = src.load_net()
        if variant == "relu6":  # the calibrated range stops at 6 or below: the clamp is 127
            assert [layer.relu for layer in net.layers if layer.has_weights] == [True, True, False]
        images = src.load_data().test.x[:16]
        x = net.quantize_input(src.to_float(images))
        if raw:  # the pixel ROM holds the raw-pixel quantization: pixel 255 -> about 127
            assert net.pixel_table(src.input_max)[255] >= 120
        _, inter = oracle.run(src.tflite, x, [layer.tensor for layer in net.layers])
        result = golden.run_network(net, x)
        for layer, mine in zip(net.layers, result.tensors):
            np.testing.assert_array_equal(mine, inter[layer.tensor], err_msg=f"{path} {layer.name}")


def test_other_input_shapes_build_without_data_and_check_with_it(monkeypatch, capfd, tmp_path):
    """20x20x1 and 28x28x3: Verilog without any data (pixel scale from the input
    quantization), and the golden check against an IDX folder of that shape."""
    rng = np.random.default_rng(2)
    for shape in ((20, 20, 1), (28, 28, 3)):
        tag = "x".join(map(str, shape))
        path = user_tflite(small(shape=shape), tmp_path / f"m{tag}.tflite")
        code, out, err = cli(monkeypatch, capfd, "make_verilog", "--model", path,
                             "--out", tmp_path / tag / "v")
        assert code == 0 and err == "", err
        assert (tmp_path / tag / "v" / f"m{tag}_top.v").is_file()
        images = rng.integers(0, 256, (30,) + (shape if shape[2] > 1 else shape[:2]), np.uint8)
        data = write_idx(tmp_path / tag / "data", images, rng.integers(0, 3, 30).astype(np.uint8))
        code, out, err = cli(monkeypatch, capfd, "check_golden", "--model", path,
                             "--dataset", data, "--json")
        assert code == 0, err
        import json

        report = json.loads(out)
        assert report["images"] == 30 and report["mismatches"] == 0


def test_keras_conversion_is_quiet(monkeypatch, capfd, tmp_path):
    """A .keras input converts without the converter's chatter on the terminal."""
    rng = np.random.default_rng(4)
    data = write_idx(tmp_path / "data", rng.integers(0, 256, (40, 12, 12), np.uint8),
                     rng.integers(0, 3, 40).astype(np.uint8))
    kpath = tmp_path / "quiet.keras"
    small().save(kpath)
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(monkeypatch, capfd, "export_weights", "--model", kpath,
                         "--dataset", data, "--out", tmp_path / "e")
    assert code == 0 and err == "", err
    assert out.splitlines()[0].startswith("quiet: 4 layers") and len(out.splitlines()) == 2


# --- inputs as the model was trained ------------------------------------------------------

def test_model_trained_on_minus_one_to_one(monkeypatch, capfd, tmp_path, mnist):
    """Trained and calibrated on pixel / 127.5 - 1 (keras.applications' preprocess_input): the
    input quantization says -1..1, every command reads it so and says so, and check_golden
    reaches the accuracy LiteRT gives the model with its own normalization (fed pixel / 255 it
    scored 72.2 % against 79.6 % on one such model)."""
    import json

    keras.utils.set_random_seed(3)
    model = seq(layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(2),
                layers.Flatten(), layers.Dense(10), shape=(28, 28, 1))
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = (mnist.train.x[:4000, ..., None] / np.float32(127.5) - 1).astype(np.float32)
    model.fit(x, mnist.train.y[:4000], epochs=1, batch_size=64, verbose=0)
    path = user_tflite(model, tmp_path / "pm1.tflite", calib=x[:200])
    net = qnet.from_tflite(path)
    assert net.input_scale * (-128 - net.input_zp) == pytest.approx(-1, abs=0.02)

    n = 500
    test = mnist.test.head(n)
    own = (test.x[..., None] / np.float32(127.5) - 1).astype(np.float32)
    out, _ = oracle.run(path, net.quantize_input(own))
    litert = float(np.mean(out.argmax(1) == test.y))

    code, report, err = cli(monkeypatch, capfd, "check_golden", "--model", path, "--n", n,
                            "--json", "--no-float")
    assert code == 0, err
    report = json.loads(report)
    assert f"{path}: input pixel / 127.5 - 1 (read from its int8 input quantization" in err
    assert report["mismatches"] == 0
    assert report["golden_accuracy"] == report["int8_accuracy"] == litert > 0.7
    # the user's word wins: fed as pixel / 255 it is the wrong input, and scores less
    code, wrong, err = cli(monkeypatch, capfd, "check_golden", "--model", path, "--n", n,
                           "--json", "--no-float", "--pixel-max", "255")
    assert code == 0, err
    assert json.loads(wrong)["golden_accuracy"] < litert
    # the pixel table the hardware and the C library read: 0 is -1 (int8 -128), 255 is 1
    table = net.pixel_table(127.5, -1.0)
    pixels = np.arange(256, dtype=np.float32)
    np.testing.assert_array_equal(
        table, net.quantize_input(np.broadcast_to((pixels / np.float32(127.5) - 1)[:, None, None,
                                                                                    None],
                                                  (256, 28, 28, 1)))[:, 0, 0, 0])
    assert table[0] == -128 and table[255] > 100
    # the hardware and the C library read the same mapping from the file
    from model import c_export
    from tests.usermodels import hardware_bit_exact

    images = np.asarray(test.x[:16])
    want = golden.run_network(net, net.quantize_input(own[:16])).logits
    hardware_bit_exact(monkeypatch, capfd, tmp_path, path, images, want)
    code, _, err = cli(monkeypatch, capfd, "export_weights", "--model", path, "--out",
                       tmp_path / "export")
    assert code == 0, err
    exe = c_export.compile_host(tmp_path / "export", net.name, tmp_path / "host")
    np.testing.assert_array_equal(c_export.run_host(exe, images, 10, tmp_path), want)


@pytest.mark.parametrize("make,args,msg", [
    (True, ["--model", "digits_cnn", "--n", "0"], "N=0 must be at least 1"),
    (True, ["--model", "digits_cnn", "--n", "abc"], "N=abc: invalid int value (see make help)"),
    (True, ["--model", "digits_cnn", "--sim", "xyz"],
     "SIM=xyz: invalid choice (choose from 'verilator', 'cosim', 'icarus') (see make help)"),
    (False, ["--model", "digits_cnn", "--n", "abc"],
     "argument --n: invalid int value: 'abc' (see cosim.py --help)"),
    (False, ["--model", "digits_cn"], "model 'digits_cn': give a preset (mnist_cnn, "
                                      "digits_cnn), a .tflite or a .keras file; did you mean "
                                      "digits_cnn?")])
def test_errors_speak_make(monkeypatch, capfd, tmp_path, make, args, msg):
    """From make, a flag's error names the make variable; argparse's is one line."""
    if make:
        monkeypatch.setenv("CNN2FPGA_MAKE", "--model:MODEL --n:N --sim:SIM")
    else:
        monkeypatch.delenv("CNN2FPGA_MAKE", raising=False)
    assert refused(monkeypatch, capfd, tmp_path, "cosim", *args) == msg


def test_a_typo_in_a_file_name_gets_the_nearest_file(monkeypatch, capfd, tmp_path):
    user_tflite(small(), tmp_path / "mymodel.tflite")
    msg = refused(monkeypatch, capfd, tmp_path, "check_golden", "--model", "mymodle.tflite")
    assert msg == "model file mymodle.tflite does not exist; did you mean mymodel.tflite?"
