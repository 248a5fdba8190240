"""The model most tutorials make, end to end: a Keras Sequential with a dynamic batch
(``keras.Input((28, 28, 1))``), trained on MNIST here, converted the tutorials' way (int8 in and
out), then the golden check on the whole test set, `make verilog`, and Verilator bit for bit
with the cycle model exact."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from model import golden, qnet  # noqa: E402
from tests.hdl.helpers import need_tools  # noqa: E402
from tests.usermodels import golden_check_passes, hardware_bit_exact, user_tflite  # noqa: E402


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

    golden_check_passes(monkeypatch, capfd, path)
    net = qnet.from_tflite(path)
    images = np.asarray(mnist.test.x[:12])
    want = golden.run_network(net, net.quantize_input(images / np.float32(255))).logits
    hardware_bit_exact(monkeypatch, capfd, tmp_path, path, images, want, "--auto-budget", "16",
                       quiet=True)
