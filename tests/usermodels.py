"""Models as a user makes them, and the command line as a user runs it, for the tests.

The model files are made inside each test (tiny, untrained unless a test trains one); the
conversion is the TFLite tutorials' (``TFLiteConverter`` straight, no cnn2fpga code)."""
import gzip
import importlib
import struct
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from model.convert import quiet


def seq(*body, shape=(12, 12, 1)):
    """A Sequential model with a dynamic batch, as tutorials write it."""
    return keras.Sequential([keras.Input(shape), *body], name="m")


def small(shape=(12, 12, 1), act="relu"):
    return seq(layers.Conv2D(4, 3, activation=act), layers.MaxPooling2D(2), layers.Flatten(),
               layers.Dense(3), shape=shape)


def user_tflite(model, path, mode="int8", io=tf.int8, hi=1.0, calib=None):
    """Convert as the TFLite tutorials do (TFLiteConverter straight, no cnn2fpga code):
    mode "int8" (representative images: ``calib``, else uniform in [0, hi)), "float" or
    "dynamic"."""
    rng = np.random.default_rng(0)
    shape = tuple(model.inputs[0].shape[1:])
    if calib is None:
        calib = hi * rng.random((16,) + shape, np.float32)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "float":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "int8":
        conv.representative_dataset = lambda: ([c[None].astype(np.float32)] for c in calib)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = io
    with quiet():
        path.write_bytes(conv.convert())
    return path


def write_idx(folder, images, labels):
    """An IDX dataset folder in MNIST's layout (train and test the same images); the file
    names are MNIST's whatever the image size (the header holds the dimensions)."""
    folder.mkdir(parents=True, exist_ok=True)
    for part in ("train", "t10k"):
        head = struct.pack(">BBBB", 0, 0, 8, images.ndim) + b"".join(
            struct.pack(">I", d) for d in images.shape)
        (folder / f"{part}-images-idx3-ubyte").write_bytes(head + images.tobytes())
        with gzip.open(folder / f"{part}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">BBBBI", 0, 0, 8, 1, len(labels)) + labels.tobytes())
    return folder


def cli(monkeypatch, capfd, script, *args):
    """Run scripts/<script>.py's main in this process as the shell would (``_cli.run``):
    returns (exit status, stdout, stderr), file-descriptor level, so tool noise shows too."""
    from scripts._cli import run

    mod = importlib.import_module(f"scripts.{script}")
    capfd.readouterr()  # what the test printed before is not the command's
    monkeypatch.setattr(sys, "argv", [f"{script}.py", *map(str, args)])
    with pytest.raises(SystemExit) as exit_:
        run(mod.main)
    out, err = capfd.readouterr()
    return exit_.value.code, out, err


def refused(monkeypatch, capfd, tmp_path, script, *args):
    """The one-line error of a refused command (exit 2, no traceback, nothing written)."""
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = cli(monkeypatch, capfd, script, *args)
    assert code == 2, (out, err)
    assert "Traceback" not in err and err.startswith("error: ") and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    return err[len("error: "):].strip()


def golden_check_passes(monkeypatch, capfd, path) -> dict:
    """`check_golden` on the whole MNIST test set: every image equal to LiteRT's reference
    kernels, the golden accuracy that of the int8 model and above 90 %. Returns its report."""
    import json

    code, out, err = cli(monkeypatch, capfd, "check_golden", "--model", path, "--json",
                         "--no-float")
    assert code == 0, err
    report = json.loads(out)
    assert report["images"] == 10_000 and report["mismatches"] == 0
    assert report["int8_accuracy"] == report["golden_accuracy"] > 0.9
    return report


def hardware_bit_exact(monkeypatch, capfd, tmp_path, path, images, want, *args,
                       quiet: bool = False, gap: int = 0, stall: int = 0):
    """`make_verilog --model path *args` (the config choice: ``--auto-budget N``; with
    ``quiet`` it must print nothing on stderr), then
    Verilator on ``images`` (uint8, one per row or in the model's input shape): every logit
    equal to ``want`` (the golden model's), the latency and the interval equal to the cycle
    model's (with ``gap``/``stall``, percent of clocks with no input offered / the output not
    taken, the values only). Returns (the Verilator result, the config)."""
    import json

    from cosim import network_sim as ns
    from hdl.cnn import config as cfg
    from model import qnet
    from tests.hdl.helpers import need_tools

    need_tools("verilator")
    vdir = tmp_path / "verilog"
    code, out, err = cli(monkeypatch, capfd, "make_verilog", "--model", path, "--out", vdir,
                         *args)
    assert code == 0 and not (quiet and err), err
    conf = {k: (v["pe"], v["simd"], v["taps"])
            for k, v in json.loads((vdir / "config.json").read_text())["layers"].items()}
    net = qnet.from_tflite(path)
    n_classes, top = net.logits_layer.c_out, f"{Path(path).stem}_top"
    ns.prepare(tmp_path / "run", vdir, top, np.asarray(images).reshape(len(images), -1),
               n_classes, gap=gap, stall=stall)
    result = ns.run_verilator(tmp_path / "run", top, n_classes)
    np.testing.assert_array_equal(result.logits, want)
    if not (gap or stall):
        assert result.latency == cfg.latency(net, conf), (result.latency, cfg.latency(net, conf))
        assert result.interval == cfg.interval(net, conf)
    return result, conf
