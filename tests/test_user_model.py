"""The model most tutorials make, end to end: a Keras Sequential with a dynamic batch
(``keras.Input((28, 28, 1))``), trained on MNIST here, converted the tutorials' way (int8 in and
out), then the golden check on the whole test set, `make verilog`, and Verilator bit for bit
with the cycle model exact."""
import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from cosim import network_sim as ns  # noqa: E402
from hdl.cnn import config as cfg  # noqa: E402
from model import golden, qnet  # noqa: E402
from tests.hdl.helpers import need_tools  # noqa: E402
from tests.usermodels import cli, user_tflite  # noqa: E402


def test_tutorial_mnist_model(mnist, tmp_path, monkeypatch, capfd):
    need_tools("verilator")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(8, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(8, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = (mnist.train.x[:30000] / 255.0).astype(np.float32)[..., None]
    model.fit(x, mnist.train.y[:30000], epochs=1, batch_size=64, verbose=0)
    path = user_tflite(model, tmp_path / "tutorial.tflite", calib=x[:200])
    schema = qnet._schema()
    tfl = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops = [names[tfl.operatorCodes[op.opcodeIndex].builtinCode]
           for op in tfl.subgraphs[0].operators]
    assert ops == ["CONV_2D", "MAX_POOL_2D", "CONV_2D", "MAX_POOL_2D", "SHAPE", "STRIDED_SLICE",
                   "PACK", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]

    code, out, err = cli(monkeypatch, capfd, "check_golden", "--model", path, "--json",
                         "--no-float")
    assert code == 0, err
    report = json.loads(out)
    assert report["images"] == 10_000 and report["mismatches"] == 0
    assert report["int8_accuracy"] == report["golden_accuracy"] > 0.9

    vdir = tmp_path / "verilog"
    code, out, err = cli(monkeypatch, capfd, "make_verilog", "--model", path, "--out", vdir,
                         "--auto-budget", "16")
    assert code == 0 and err == "", err
    conf = {k: (v["pe"], v["simd"], v["taps"])
            for k, v in json.loads((vdir / "config.json").read_text())["layers"].items()}

    net = qnet.from_tflite(path)
    images = np.asarray(mnist.test.x[:12])
    want = golden.run_network(net, net.quantize_input(images / np.float32(255))).logits
    ns.prepare(tmp_path / "run", vdir, "tutorial_top", images, 10)
    result = ns.run_verilator(tmp_path / "run", "tutorial_top", 10)
    np.testing.assert_array_equal(result.logits, want)
    assert result.latency == cfg.latency(net, conf)
    assert result.interval == cfg.interval(net, conf)
