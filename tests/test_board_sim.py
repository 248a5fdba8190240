"""Each board top from its pins, in Verilator: camera pins in, the UART line and the display out.

The harness (``cosim.board_sim``) knows only the ports the board's constraints name: it runs
the board clock at its real frequency, leaves the reset button released (the top's power-on
reset starts it), plays the behavioural camera at the frame rate the board's XCLK gives, and
decodes the UART pin and the 7-segment (or LED) pins. digits_cnn is inside every board here,
so a board simulates in seconds; the slow suite's board checks build each with its own model.
"""
import numpy as np
import pytest

from cosim import board_sim, camera_sim
from cosim import ov7670_model as cam
from cosim.scene import paper_frame
from hdl.board import boards
from hdl.camera import uart_report
from hdl.lib.uart_tx import divisor
from model import capture, golden, presets, qnet
from model.preprocess import for_model, preprocess
from tests.hdl.helpers import need_tools

# the camera at the board's XCLK: 25 MHz (40 ns) gives 30 frames/s, 12 MHz (83 ns) 15
CAMERA = {"de10lite": (40, 30), "basys3": (40, 30), "icebreaker": (83, 15), "ulx3s": (40, 30)}


# the vendor boards' tops (Basys 3, DE10-Lite: 50 s each) in the slow suite; their pins and
# constraints are checked by tests/hdl/board and their board test by tests/test_board_link.py
SLOW_PINS = {"basys3", "de10lite"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.xdist_group(f"board_{n}")]
                                               + [pytest.mark.slow] * (n in SLOW_PINS))
                                  for n in board_sim.PINS])
def test_board_from_its_pins(tmp_path, digits, digits_board, name):
    """Three paper frames: one UART line per frame with the golden digit and the frame's
    number, the display showing that digit when its line starts (a dash before the first),
    XCLK at the rate the board's doc gives, no decimal point, anodes as documented. Then the
    same frames in capture mode: one packet each."""
    need_tools("verilator")
    board = boards.get(name)
    preset = presets.get("digits_cnn")
    net = qnet.from_tflite(preset.tflite)
    geo = for_model("digits_cnn")
    period, fps = CAMERA[name]
    run_dir = board_sim.prepare(tmp_path / "run", digits_board(name), name, pclk_ns=period)
    exe = board_sim.build(run_dir, name)

    rng = np.random.default_rng(5)
    frames = [paper_frame(digits.test.x[i], geo, rng, digit_max=16) for i in (3, 4, 5)]
    pins = cam.trace(frames, cam.Timing.at_fps(160, 120, fps, period), close=True)
    hz = board_sim.BOARD_HZ[name]
    bit = divisor(board.sys_hz, board.baud) * hz / board.sys_hz  # in board clocks (may be x.5)
    run = board_sim.run(run_dir, name, pins, divisor=bit, tail=int(hz * 0.01), exe=exe)

    q = net.pixel_table(preset.input_max)[np.stack([preprocess(f, geo) for f in frames])]
    want = golden.run_network(net, q[..., None]).prediction.tolist()
    assert [text for _, text in run.lines] == [uart_report.line(d, i + 1, 0)
                                              for i, d in enumerate(want)]
    assert run.shown(run.display[0][0]) == "-"
    assert [run.shown(start) for start, _ in run.lines] == want
    xclk_hz = board.sys_hz if name == "icebreaker" else board.sys_hz / 2
    assert run.xclk_rises == pytest.approx(run.cycles * xclk_hz / hz, abs=2)
    print(f"\n{name}: {run.cycles:,} board clocks in {run.seconds:.1f} s")

    # capture mode from the board's own switch (the iCEBreaker: a 10 ms press of BTN1, which
    # toggles it): each frame's CNN input, digit and number as a packet, and no text line
    press = int(hz * 0.01) if board_sim.PINS[name].toggle else 10 ** 9
    run = board_sim.run(run_dir, name, pins, divisor=bit, tail=int(hz * 0.01), exe=exe,
                        drive=camera_sim.Inputs(press=press))
    images = np.stack([preprocess(f, geo) for f in frames])
    assert run.uart == b"".join(capture.encode(i + 1, d, images[i]) for i, d in enumerate(want))
    assert run.shown(run.cycles, capture=True) == want[-1]


def test_display_decoder_refuses_what_no_board_shows():
    assert board_sim.decode_display("de10lite", 0xFF & ~0x06) == 1          # DP off: bit 7 high
    with pytest.raises(AssertionError, match="decimal point lit"):
        board_sim.decode_display("de10lite", 0x7F & ~0x06)
    assert board_sim.decode_display("de10lite", 0x7F & ~0x06, capture=True) == 1
    with pytest.raises(AssertionError, match="decimal point dark"):
        board_sim.decode_display("de10lite", 0xFF & ~0x06, capture=True)
    assert board_sim.decode_display("basys3", (0b1110 << 8) | 0x80 | (~0x3F & 0x7F)) == 0
    with pytest.raises(AssertionError, match="anodes"):
        board_sim.decode_display("basys3", (0b0000 << 8) | 0x80 | (~0x3F & 0x7F))
    assert board_sim.decode_display("icebreaker", 0x17) == 7
    assert board_sim.decode_display("icebreaker", 0) == "-"


def play_camera_size(tmp_path, board_name, model, dataset, camera, indices):
    """``board_name``'s top with ``model`` and the OV7670 at ``camera``'s size, played from its
    pins at the real PCLK and frame rate of that size (``Board.camera``): the SCCB pins carry
    exactly the size's register table; each frame's UART line has the golden digit; in
    capture mode each packet's image is ``model.preprocess``'s CNN input, bit for bit. Returns
    the measured frame timing (the docs' table, printed with -s)."""
    need_tools("verilator")
    from hdl.camera.camera_system import camera_regs
    from hdl.camera.sccb_master import DEVICE_WRITE_ID
    from tests.hdl.helpers import build_top

    board = boards.get(board_name)
    preset = presets.get(model)
    net = qnet.from_tflite(preset.tflite)
    geo = for_model(model, camera=camera)
    timing = board.camera(geo)
    build_top(tmp_path / "verilog", board, model, camera)
    period = round(1e9 / timing.pclk_hz)
    run_dir = board_sim.prepare(tmp_path / "run", tmp_path / "verilog", board_name,
                                pclk_ns=period)
    exe = board_sim.build(run_dir, board_name)
    rng = np.random.default_rng(11)
    frames = [paper_frame(dataset.test.x[i], geo, rng, digit_max=preset.input_max)
              for i in indices]
    shape = cam.Timing.at_fps(geo.width, geo.height, timing.fps, period)
    pins = cam.trace(frames, shape, close=True)
    hz = board_sim.BOARD_HZ[board_name]
    bit = divisor(board.sys_hz, board.baud) * hz / board.sys_hz
    run = board_sim.run(run_dir, board_name, pins, divisor=bit, tail=int(hz * 0.01), exe=exe)

    images = np.stack([preprocess(f, geo) for f in frames])
    want = golden.run_network(net, net.pixel_table(preset.input_max)[images][..., None])
    digits = want.prediction.tolist()
    assert run.sccb == [(DEVICE_WRITE_ID, r, v) for r, v in camera_regs(geo)]
    assert [text for _, text in run.lines] == [uart_report.line(d, i + 1, 0)
                                              for i, d in enumerate(digits)]
    assert [run.shown(start) for start, _ in run.lines] == digits

    press = int(hz * 0.01) if board_sim.PINS[board_name].toggle else 10 ** 9
    cap = board_sim.run(run_dir, board_name, pins, divisor=bit, tail=int(hz * 0.02), exe=exe,
                        drive=camera_sim.Inputs(press=press))
    assert cap.uart == b"".join(capture.encode(i + 1, d, images[i]) for i, d in enumerate(digits))

    # the figures: a frame in system clocks (between two results), and from the first frame's
    # last pixel (its last HREF entry; the harness starts the camera 4 board clocks in) to
    # its line's first UART bit
    to_sys = board.sys_hz / hz
    frame_clocks = (run.lines[-1][0] - run.lines[0][0]) / (len(run.lines) - 1) * to_sys
    last = int(np.nonzero(pins & cam.HREF_BIT)[0][geo.width * geo.height * 2 - 1])
    pixel_done = (4 / hz + (last + 1) * period * 1e-9) * board.sys_hz
    after = run.lines[0][0] * to_sys - pixel_done
    assert frame_clocks == pytest.approx(board.sys_hz / timing.fps, rel=2e-3)
    assert after < frame_clocks
    figures = {"camera": camera, "pixels": geo.width * geo.height, "pclk_mhz": 1e3 / period,
               "pclk_per_frame": len(pins) // len(frames), "sys_per_frame": frame_clocks,
               "fps": board.sys_hz / frame_clocks, "after_last_pixel": after,
               "idle": 1 - after / frame_clocks}
    print(f"\n{board_name} {model} {camera.upper()}: " + ", ".join(
        f"{k} {v:,.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()))
    return figures


@pytest.mark.xdist_group("board_icebreaker")
def test_vga_on_the_icebreaker_from_its_pins(tmp_path, digits):
    """The tightest combination the boards allow: VGA on the iCEBreaker, whose 12 MHz XCLK
    makes a 12 MHz PCLK against its 12 MHz system clock (a pixel every 2 clocks)."""
    play_camera_size(tmp_path, "icebreaker", "digits_cnn", digits, "vga", (3, 4, 5))


@pytest.mark.slow
@pytest.mark.parametrize("camera", ["qqvga", "qvga", "vga"])
def test_camera_sizes_with_mnist_on_the_ulx3s(tmp_path, mnist, camera):
    """Each OV7670 size with the seed network on the ULX3S top, from its pins (slow: a
    mnist_cnn board top in Verilator)."""
    play_camera_size(tmp_path, "ulx3s", "mnist_cnn", mnist, camera, (20, 21, 22))
