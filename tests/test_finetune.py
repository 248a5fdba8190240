"""Fine-tuning on recorded camera frames, then the whole flow on the result.

The recording is made as on the bench: digits on paper through the camera model and the
reference preprocess, sent as packets by the RTL (``host_link`` simulated), decoded by
the host decoder and appended with their labels (what scripts/capture_dataset.py does; its
own tests run it on a pseudo-terminal). ``make train FINETUNE=...`` (scripts/train.py
--finetune) must give a model that the golden check, ``make verilog`` and the co-simulation
take unchanged.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cosim.scene import paper_frame
from model import capture, presets
from model.preprocess import for_model, preprocess
from tests.hdl.camera.test_host_link import simulate
from tests.hdl.helpers import need_tools

ROOT = Path(__file__).resolve().parents[1]


def record(out, images, labels):
    """Send ``images`` through the RTL packet sender, decode, append with ``labels``."""
    got = capture.Decoder().feed(simulate(None, images, [1] * len(images), spaced=True))
    assert len(got) == len(images)
    for label in sorted(set(labels)):
        capture.append(out, [c for c, y in zip(got, labels) if y == label], label=int(label))


def script(name, *args, timeout=900):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / name), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def camera_set(split, name, indices, seed):
    geo = for_model(name)
    rng = np.random.default_rng(seed)
    digit_max = presets.get(name).input_max
    images = np.stack([preprocess(paper_frame(split.x[i], geo, rng, digit_max=digit_max), geo)
                       for i in indices])
    return images, split.y[list(indices)]


def whole_flow(tmp_path, name, split, n_frames, epochs, cosim_n):
    need_tools("verilator")
    rec = tmp_path / "camera"
    images, labels = camera_set(split, name, range(n_frames), seed=8)
    record(rec, images, labels)
    out = tmp_path / "finetune"
    script("train.py", "--model", name, "--finetune", str(rec), "--out", str(out),
           "--epochs", str(epochs))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["camera_frames"] == n_frames and metrics["finetune"] == str(rec)
    tflite = out / f"{name}.tflite"
    report = json.loads(script("check_golden.py", "--model", str(tflite), "--n", "200",
                               "--no-float", "--json"))
    assert report["mismatches"] == 0, report
    script("make_verilog.py", "--model", str(tflite), "--out", str(tmp_path / "verilog"))
    res = json.loads(script("cosim.py", "--model", str(tflite), "--n", str(cosim_n), "--sim",
                            "verilator", "--verilog", str(tmp_path / "verilog"), "--run-dir",
                            str(tmp_path / "run"), "--json"))
    assert res["bit_exact_images"] == res["images"] == cosim_n and res["all_bit_exact"], res
    return metrics


def test_finetune_digits_then_the_whole_flow(tmp_path, digits):
    m = whole_flow(tmp_path, "digits_cnn", digits.test, 60, epochs=3, cosim_n=40)
    print(f"\ndigits fine-tuned: camera {m['camera_int8_accuracy_before']:.3f} -> "
          f"{m['camera_int8_accuracy']:.3f}, test {m['int8_accuracy_before']:.4f} -> "
          f"{m['int8_accuracy']:.4f}")


@pytest.mark.slow
def test_finetune_mnist_then_the_whole_flow(tmp_path, mnist):
    m = whole_flow(tmp_path, "mnist_cnn", mnist.test, 200, epochs=1, cosim_n=20)
    print(f"\nmnist fine-tuned: camera {m['camera_int8_accuracy_before']:.3f} -> "
          f"{m['camera_int8_accuracy']:.3f}, test {m['int8_accuracy_before']:.4f} -> "
          f"{m['int8_accuracy']:.4f}")


def test_finetune_refuses_recordings_of_the_wrong_size(tmp_path):
    rec = tmp_path / "camera"
    capture.append(rec, [capture.Capture(1, 1, np.zeros((28, 28), np.uint8))], label=1)
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/train.py"), "--model",
                           "digits_cnn", "--finetune", str(rec), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2 and "recordings are 28x28; digits_cnn takes 8x8" in proc.stderr
    assert not (tmp_path / "o").exists()
