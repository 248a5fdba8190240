"""scripts/capture_dataset.py on a pseudo-terminal, no hardware.

The bytes are the RTL's: ``host_link`` simulated on camera images (digits on paper,
preprocessed as the board does), mixed with hand-made garbage, a packet cut by a reset and a
damaged packet. The recorder must keep exactly the good frames, survive Ctrl-C and an
unplugged port without losing or corrupting what was recorded, and refuse bad arguments.
"""
import os
import signal
import subprocess
import sys
import time
import tty
from pathlib import Path

import numpy as np
import pytest

from cosim.scene import paper_frame
from model import capture
from model.preprocess import for_model, preprocess
from tests.hdl.camera.test_host_link import simulate

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "capture_dataset.py"


def camera_images(digits, indices, seed):
    geo = for_model("digits_cnn")
    rng = np.random.default_rng(seed)
    return np.stack([preprocess(paper_frame(digits.test.x[i], geo, rng, digit_max=16), geo)
                     for i in indices])


def rtl_packets(images):
    """The bytes host_link sends for every image (frame 100 + i, digit i % 10)."""
    return simulate(None, images, [1] * len(images), spaced=True, seed=9)


class Pty:
    """A pseudo-terminal: the script opens ``path``; the test writes into the master end."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)

    def write(self, data: bytes, chunk: int = 97):
        for at in range(0, len(data), chunk):
            os.write(self.master, data[at:at + chunk])
            time.sleep(0.002)

    def close(self):
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def pty():
    p = Pty()
    yield p
    p.close()


def start(pty, out, *extra, label=3, sigint_ignored=False):
    """The script on the pty. ``sigint_ignored``: started with SIGINT ignored, as a background
    job of a shell script or a pytest-xdist worker passes it on."""
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--port", pty.path, "--label",
                             str(label), "--out", str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=ignore)
    first = proc.stderr.readline()          # the status line: the port is open
    assert first.startswith("label"), first + proc.stderr.read()
    return proc


def wait_for(proc, text, timeout=120):   # generous: a loaded machine starts Python slowly
    """Read the script's status lines until one contains ``text``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = proc.stderr.readline()
        if text in line:
            return line
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"no status line with {text!r}")


def loaded(out):
    with np.load(out / capture.DATASET_FILE) as z:
        return {k: z[k] for k in capture.KEYS}


def test_records_the_good_frames_among_garbage(tmp_path, pty, digits):
    images = camera_images(digits, range(6), seed=1)
    stream = rtl_packets(images)
    size = capture.packet_bytes(8)
    pkts = [stream[k * size:(k + 1) * size] for k in range(6)]
    damaged = bytearray(pkts[4])
    damaged[30] ^= 0x01
    data = (b"digit=7 frame=1 bad=0\r\n" + pkts[0] + bytes(range(256)) + pkts[1]
            + pkts[2][:40] + pkts[3] + bytes(damaged) + b"\xa5\x5a\x00" + pkts[5])
    out = tmp_path / "camera"
    proc = start(pty, out, "--count", "4")
    pty.write(data)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    got = loaded(out)
    keep = [0, 1, 3, 5]
    np.testing.assert_array_equal(got["x"], images[keep])
    np.testing.assert_array_equal(got["y"], [3] * 4)
    np.testing.assert_array_equal(got["frame"], [100 + i for i in keep])
    np.testing.assert_array_equal(got["predicted"], [i % 10 for i in keep])
    assert "crc errors" in err and f"4 frames of label 3 -> {out}" in err


def test_ctrl_c_keeps_every_frame_and_the_old_ones(tmp_path, pty, digits):
    images = camera_images(digits, range(5), seed=2)
    out = tmp_path / "camera"
    old = [capture.Capture(1, 1, images[0])]
    capture.append(out, old, label=1)
    # nothing written before the end; started with SIGINT ignored (the script restores it)
    proc = start(pty, out, "--flush-every", "100", label=4, sigint_ignored=True)
    pty.write(rtl_packets(images[1:]))
    wait_for(proc, "+4 this run")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    got = loaded(out)
    np.testing.assert_array_equal(got["x"], images)
    np.testing.assert_array_equal(got["y"], [1, 4, 4, 4, 4])
    assert capture.counts(out) == {1: 1, 4: 4}
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary file left"


def test_unplugged_port_keeps_what_arrived(tmp_path, pty, digits):
    images = camera_images(digits, range(3), seed=3)
    stream = rtl_packets(images)
    out = tmp_path / "camera"
    proc = start(pty, out)
    pty.write(stream[:2 * capture.packet_bytes(8) + 10])      # two frames and a piece
    wait_for(proc, "+2 this run")
    pty.close()                                                # the cable is pulled
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and f"--port {pty.path}" in err, err
    np.testing.assert_array_equal(loaded(out)["x"], images[:2])


@pytest.mark.parametrize("args,message", [
    (["--label", "12"], "--label 12 must be a digit 0-9"),
    (["--label", "1", "--count", "0"], "--count 0 must be at least 1"),
    (["--label", "1", "--port", "/dev/does-not-exist"], "--port /dev/does-not-exist"),
])
def test_bad_arguments(tmp_path, args, message):
    cmd = [sys.executable, str(SCRIPT), "--out", str(tmp_path / "c")]
    if "--port" not in args:
        cmd += ["--port", "loop://"]
    proc = subprocess.run(cmd + args, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "c").exists()


def test_refuses_frames_of_another_size_and_keeps_the_file(tmp_path, pty, digits):
    """8x8 frames into a folder of 28x28 recordings: a clear error, the file untouched."""
    out = tmp_path / "c"
    capture.append(out, [capture.Capture(1, 1, np.zeros((28, 28), np.uint8))], label=1)
    before = (out / capture.DATASET_FILE).read_bytes()
    proc = start(pty, out, "--count", "1")
    pty.write(rtl_packets(camera_images(digits, [0], seed=4)))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "holds 28x28 images; these are 8x8" in err, err
    assert (out / capture.DATASET_FILE).read_bytes() == before
