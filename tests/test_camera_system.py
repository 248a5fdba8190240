"""The whole camera path in Verilator: OV7670 pins -> camera_system -> CNN -> UART text.

Frames are MNIST test digits printed on paper (``cosim.scene``: dark ink, a light gradient,
sensor noise, offsets) played by the behavioural camera (``cosim.ov7670_model``) into the
converted ``camera_system``. Every CNN input must equal ``model.preprocess`` of the frame,
every logit the golden model's, every result and text line the frame it came from.
"""
import numpy as np
import pytest

from cosim import camera_sim
from cosim import ov7670_model as cam
from cosim.ov7670_model import Faults
from cosim.scene import paper_frame
from hdl.camera import uart_report
from hdl.cnn import config as cfg
from hdl.flow import build
from hdl.lib.uart_tx import divisor
from model import golden, presets, qnet
from model.preprocess import for_model, preprocess
from tests.hdl.helpers import need_tools

CLK_HZ, BAUD = 50e6, 1e6     # a fast UART so a line fits the short test frames
# short blanking (so 100 frames simulate in seconds), a 24 MHz PCLK (42 ns) against the
# 50 MHz system clock (20 ns): unrelated clocks
# one worker builds the mnist system once and runs every test that uses it (make test runs
# pytest-xdist with --dist loadgroup)
pytestmark = pytest.mark.xdist_group("camera_system")
SHORT = cam.Timing(period=42, line_blank=6, vsync_lines=1, front_lines=1, back_lines=20)


class System:
    def __init__(self, name, root, dataset, variant=None):
        need_tools("verilator")
        self.preset = presets.get(name)
        self.net = qnet.from_tflite(self.preset.tflite)
        self.geo = for_model(name)
        config = presets.hw_config(name, variant) if variant else presets.hw_config(name)
        build.build_system(self.net, cfg.load(config), self.geo,
                           root / "verilog", self.preset.input_max, clk_hz=CLK_HZ, baud=BAUD)
        self.run_dir = camera_sim.prepare(root / "run", root / "verilog", n_classes=10)
        self.exe = camera_sim.build(self.run_dir)
        self.data = dataset.test

    def frames(self, indices, seed):
        rng = np.random.default_rng(seed)
        return [paper_frame(self.data.x[i], self.geo, rng, digit_max=self.preset.input_max)
                for i in indices]

    def play(self, frames, timing=SHORT, faults=None, tail=200_000, drive=camera_sim.Inputs()):
        pins = self.pins = cam.trace(frames, timing, faults, close=True)
        return camera_sim.run(self.run_dir, pins, n=self.geo.n, n_classes=10,
                              divisor=divisor(CLK_HZ, BAUD), tail=tail, exe=self.exe,
                              drive=drive)

    def reference(self, frames):
        images = np.stack([preprocess(f, self.geo) for f in frames])
        q = self.net.pixel_table(self.preset.input_max)[images][..., None]
        return images, golden.run_network(self.net, q)


# session scope: built once even when the worker runs other modules' tests in between
@pytest.fixture(scope="session")
def mnist_system(tmp_path_factory, mnist):
    return System("mnist_cnn", tmp_path_factory.mktemp("mnist_system"), mnist)


def check_run(system, run, frames, numbers, bad=0):
    """Each good frame: CNN input == reference, logits == golden, result and text line."""
    images, ref = system.reference(frames)
    np.testing.assert_array_equal(run.images, images)
    np.testing.assert_array_equal(run.logits, ref.logits)
    digits = ref.prediction.tolist()
    assert [r[1] for r in run.results] == digits
    assert [r[2] for r in run.results] == numbers
    bads = [r[3] for r in run.results]
    assert run.text == "".join(uart_report.line(d, n, b) for d, n, b in zip(digits, numbers, bads))
    assert (run.bad_frames, run.dropped, run.overrun) == (bad, 0, 0)
    return ref.prediction


def test_hundred_paper_frames(mnist_system):
    """100 MNIST test digits on paper: at least 95 recognised, every CNN input bit-exact."""
    idx = list(range(100))
    frames = mnist_system.frames(idx, seed=1)
    run = mnist_system.play(frames)
    pred = check_run(mnist_system, run, frames, list(range(1, 101)))
    correct = int(np.sum(pred == mnist_system.data.y[idx]))
    print(f"\n{correct}/100 paper frames recognised")   # the README's figure (pytest -s)
    assert correct >= 95, f"{correct}/100 frames recognised"


def test_faults_cost_only_their_frames(mnist_system):
    """A truncated frame, a short line, an extra line, VSYNC in mid-frame, a burst of PCLK
    glitches: each is counted bad, nothing hangs, and the next good frame is classified."""
    idx = [10, 11, 12, 13, 14, 15, 16, 17]
    frames = mnist_system.frames(idx, seed=2)
    frames[3] = np.vstack([frames[3], frames[3][:1]])        # one line too many
    faults = {1: Faults(truncate=60), 2: Faults(line_lengths={30: 150}),
              4: Faults(vsync_at=50),                          # two bad pieces
              5: Faults(glitches={40: [100, 101, 200, 201]})}  # 4 extra bytes: a long line
    run = mnist_system.play(frames, faults=faults)
    good = [0, 6, 7]
    # frame numbers count every frame the camera delivered; VSYNC in frame 4 makes two
    check_run(mnist_system, run, [frames[i] for i in good], [1, 8, 9], bad=6)
    bads = [r[3] for r in run.results]   # the count when each line was written
    assert bads == sorted(bads) and bads[-1] == 6


def test_thirty_frames_per_second_keep_pace(mnist_system):
    """At 30 frames/s (datasheet line timing, 24 MHz PCLK) and a 50 MHz system clock every
    frame gets its result before the next frame ends: no backlog, nothing dropped."""
    timing = cam.Timing.at_fps(160, 120, 30, 42)
    frames = mnist_system.frames([20, 21, 22], seed=3)
    run = mnist_system.play(frames, timing=timing)
    check_run(mnist_system, run, frames, [1, 2, 3])
    period = (run.results[2][0] - run.results[0][0]) / 2
    assert period == pytest.approx(CLK_HZ / 30, rel=1e-3)
    # the first frame's last pixel: its last HREF entry, in system clocks (the harness starts
    # the camera 4 clocks in, one entry per PCLK period)
    last = int(np.nonzero(mnist_system.pins & cam.HREF_BIT)[0][120 * 320 - 1])
    latency = run.results[0][0] - (4 * 1e9 / CLK_HZ + (last + 1) * timing.period) * CLK_HZ / 1e9
    print(f"\nresults {period:,.0f} clocks apart; frame 1's result {latency:,.0f} clocks after "
          f"its last pixel")                              # the README's figures (pytest -s)
    assert latency < period


def check_packets(system, run, frames, numbers):
    """Capture mode: the UART carries only packets, one per frame in ``numbers`` (frame
    numbers count from 1), each the frame's reference CNN input with its golden digit."""
    images, ref = system.reference(frames)
    got = run.packets()
    assert [p.frame for p in got] == numbers
    for p in got:
        np.testing.assert_array_equal(p.image, images[p.frame - 1])
        assert p.digit == ref.prediction[p.frame - 1]
    return got


def test_capture_command_at_thirty_frames_per_second(mnist_system):
    """``c`` on rx turns capture mode on: at 30 frames/s every frame's CNN input, golden digit
    and frame number arrive as a packet (the host decoder's CRC agrees); no text line."""
    timing = cam.Timing.at_fps(160, 120, 30, 42)
    frames = mnist_system.frames([30, 31, 32], seed=5)
    div = divisor(CLK_HZ, BAUD)
    run = mnist_system.play(frames, timing=timing, tail=600_000,
                            drive=camera_sim.Inputs(cmd=ord("c"), cmd_at=1000, cmd_div=div))
    check_packets(mnist_system, run, frames, [1, 2, 3])
    # the mode changes once: at the stop bit's middle, past 2 synchronizer flops
    [(cycle, on)] = run.capture
    assert on == 1 and 1000 + 9.5 * div < cycle < 1000 + 9.5 * div + 8
    assert [r[2] for r in run.results] == [1, 2, 3]


def test_capture_switch_skips_frames_while_a_packet_is_out(mnist_system):
    """The switch held on, short frames: a packet (794 bytes) outlasts several frames, so
    frames that reach the CNN while one is on the line are skipped; the rest are exact."""
    frames = mnist_system.frames(list(range(40, 52)), seed=6)
    run = mnist_system.play(frames, tail=600_000, drive=camera_sim.Inputs(press=10 ** 8))
    assert len(run.results) == 12
    sent = [p.frame for p in run.packets()]
    assert sent[0] == 1 and sent == sorted(set(sent)) and 1 < len(sent) < 12, sent
    check_packets(mnist_system, run, frames, sent)


def test_digits_system(tmp_path, digits):
    """digits_cnn with the iCEBreaker's config (one multiplier a layer): 8x8 digits on paper, bit-exact to the
    reference."""
    system = System("digits_cnn", tmp_path, digits, variant="icebreaker")
    rng = np.random.default_rng(4)
    idx = list(range(12))
    frames = [paper_frame(system.data.x[i], system.geo, rng, digit_max=16) for i in idx]
    run = system.play(frames)
    check_run(system, run, frames, list(range(1, 13)))
    # capture mode by the switch: 8x8 packets (74 bytes) fit between the short frames
    run = system.play(frames[:4], tail=400_000, drive=camera_sim.Inputs(press=10 ** 8))
    check_packets(system, run, frames[:4], [1, 2, 3, 4])
