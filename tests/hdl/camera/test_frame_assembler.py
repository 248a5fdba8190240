"""frame_assembler: pixels with their position, and a verdict per frame; faults counted."""
import numpy as np
from myhdl import Signal, intbv

from cosim import icarus
from cosim.ov7670_model import Faults
from hdl.camera import frame_assembler as fa
from hdl.camera.ov7670_capture import EOL, PIXEL, VSYNC, WORD_BITS
from hdl.lib.stream import Stream, sink, source
from tests.hdl.camera.test_ov7670_capture import expected as capture_words
from tests.hdl.helpers import clock, make_clk_rst, need_tools, run

W, H = 6, 4


def simulate(tmp_path, words, n_verdicts, hdl="myhdl", gap=0.3):
    """Run ``words`` in until ``n_verdicts`` verdicts are out; (beats as fields, frames, bad)."""
    clk, rst = make_clk_rst()
    s = Stream(WORD_BITS, signed=False)
    m = fa.out_stream(W, H)
    frames, bad = Signal(intbv(0)[fa.FRAME_BITS:]), Signal(intbv(0)[4:])
    dut = fa.frame_assembler(clk, rst, s, m, frames, bad, width=W, height=H)
    if hdl == "icarus":
        need_tools("iverilog", "vvp", "verilator")
        icarus.convert(dut, tmp_path, "fa_dut")
        icarus.verilator_lint(tmp_path / "fa_dut.v", "fa_dut")
        dut = icarus.cosimulation(tmp_path, "fa_dut", clk=clk, rst=rst, s_valid=s.valid,
                                  s_data=s.data, s_ready=s.ready, m_valid=m.valid,
                                  m_data=m.data, frames=frames, bad_frames=bad)
    out, counts = [], {}
    values = [(tag << 16) | data for tag, data in words]

    def done():  # the counters are read here: MyHDL clears signals when a run ends
        finished = sum(v >> (m.bits - fa.KIND_BITS) != fa.KIND_PIXEL for v in out) >= n_verdicts
        if finished and not counts:
            counts.update(frames=int(frames), bad=int(bad))
        return finished

    run([dut, clock(clk), source(clk, s, values, gap=gap, rst=rst), sink(clk, m, out)],
        done, clk, 10 * len(values) + 200, rst=rst)
    return [fa.fields(v, W, H) for v in out], counts["frames"], counts["bad"]


def good_beats(frame):
    return [(fa.KIND_PIXEL, y, x, int(frame[y, x])) for y in range(H) for x in range(W)]


def frames_(n, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 1 << 16, (H, W)) for _ in range(n)]


def test_good_frames_pass_with_positions(tmp_path):
    frames = frames_(3, seed=0)
    # the camera was mid-frame at reset: words before the first VSYNC are ignored
    words = [(PIXEL, 0x1234), (EOL, 1)] + capture_words(frames) + [(VSYNC, 0)]
    got, count, bad = simulate(tmp_path, words, 3)
    want = []
    for i, f in enumerate(frames):
        want += good_beats(f) + [(fa.KIND_GOOD, 0, 0, i + 1)]
    assert got == want and (count, bad) == (3, 0)


def test_verdicts_and_counts(tmp_path):
    """Good, short line, long line, truncated, VSYNC in mid-frame (two bad pieces), extra line,
    good: each bad frame counted, the numbering keeps going, the last frame is good again."""
    frames = frames_(7, seed=2)
    frames[5] = np.vstack([frames[5], frames[5][:1]])   # one line too many
    faults = {1: Faults(line_lengths={1: W - 1}), 2: Faults(line_lengths={2: W + 2}),
              3: Faults(truncate=3), 4: Faults(vsync_at=2)}
    words = capture_words(frames, faults) + [(VSYNC, 0)]
    got, count, bad = simulate(tmp_path, words, 8, gap=0.2)
    verdicts = [(k, n) for k, _, _, n in got if k != fa.KIND_PIXEL]
    G, B = fa.KIND_GOOD, fa.KIND_BAD
    assert verdicts == [(G, 1), (B, 2), (B, 3), (B, 4), (B, 5), (B, 6), (B, 7), (G, 8)]
    assert (count, bad) == (8, 6)
    # the good frames' pixels are all there, in place, before their verdicts
    first = got[: W * H + 1]
    assert first == good_beats(frames[0]) + [(G, 0, 0, 1)]
    assert got[-(W * H + 1):] == good_beats(frames[6]) + [(G, 0, 0, 8)]
    # no pixel outside the frame is ever passed on
    assert all(y < H and x < W for k, y, x, _ in got if k == fa.KIND_PIXEL)


def test_bad_count_saturates(tmp_path):
    frames = frames_(18, seed=3)
    words = capture_words(frames, {i: Faults(truncate=1) for i in range(18)}) + [(VSYNC, 0)]
    got, count, bad = simulate(tmp_path, words, 18, gap=0.0)
    assert count == 18 and bad == 15


def test_converted_verilog_in_icarus(tmp_path):
    frames = frames_(3, seed=4)
    words = capture_words(frames, {1: Faults(line_lengths={0: 2})}) + [(VSYNC, 0)]
    got, count, bad = simulate(tmp_path, words, 3, hdl="icarus")
    verdicts = [(k, n) for k, _, _, n in got if k != fa.KIND_PIXEL]
    assert verdicts == [(fa.KIND_GOOD, 1), (fa.KIND_BAD, 2), (fa.KIND_GOOD, 3)]
    assert (count, bad) == (3, 1)
