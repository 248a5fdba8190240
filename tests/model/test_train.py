"""Training reproduces the presets' targets (slow: run with `make test-slow`)."""
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _train(model, out, *extra):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/train.py"), "--model", model,
                           "--out", str(out), *extra], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in (f"{model}.keras", f"{model}.tflite", "training.png", "confusion.png"):
        assert (out / name).stat().st_size > 0, name
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.slow
def test_train_digits(tmp_path):
    metrics = _train("digits_cnn", tmp_path / "digits")
    assert abs(metrics["float_accuracy"] - metrics["int8_accuracy"]) <= 0.01


@pytest.mark.slow
def test_train_mnist(tmp_path, mnist):
    metrics = _train("mnist_cnn", tmp_path / "mnist")
    assert metrics["float_accuracy"] >= 0.990
    assert metrics["int8_accuracy"] >= 0.989
    assert metrics["float_accuracy"] - metrics["int8_accuracy"] <= 0.002


def test_train_rejects_bad_epochs(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/train.py"), "--model", "digits_cnn",
                           "--epochs", "0", "--out", str(tmp_path / "t")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--epochs 0" in proc.stderr and not (tmp_path / "t").exists()
