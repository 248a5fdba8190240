"""pad2d == numpy's pad with the pad word: sizes, channel groups, every side, gaps and stalls,
the leading pads waiting for the image's first word, and the converted Verilog in Icarus."""
import numpy as np
import pytest

from cosim import icarus
from hdl.cnn.pad2d import lead_words, pad2d, padded
from hdl.lib.stream import Stream
from tests.hdl.helpers import make_clk_rst, need_tools, stream_run


def simulate(tmp_path, images, cg, pad, value, **kw):
    """images: (N, H, W, Cg) words of 8 bits."""
    n, h, w, _ = images.shape
    top, bottom, left, right = pad
    want = np.pad(images, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)
    s, m = Stream(8, signed=False), Stream(8, signed=False)
    out, when = stream_run(tmp_path, lambda clk, rst: pad2d(clk, rst, s, m, h=h, w=w, cg=cg,
                                                            pad=pad, value=value),
                           "pad2d_dut", s, m, [int(v) for v in images.ravel()], want.size, **kw)
    return out, want, when


@pytest.mark.parametrize("h,w,cg,pad", [
    (3, 4, 1, (1, 1, 1, 1)), (4, 3, 2, (0, 1, 0, 1)), (2, 5, 3, (2, 3, 3, 2)),
    (3, 3, 1, (0, 0, 1, 0)), (3, 3, 2, (1, 0, 0, 0)), (1, 1, 1, (3, 3, 3, 3))])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.4, 0.4)])
def test_random(tmp_path, h, w, cg, pad, gap, stall):
    rng = np.random.default_rng(h * 100 + w * 10 + cg)
    images = rng.integers(0, 256, (3, h, w, cg))
    out, want, _ = simulate(tmp_path, images, cg, pad, 0x5A, gap=gap, stall=stall, seed=cg)
    assert out == [int(v) for v in want.ravel()]


def test_leading_pads_wait_for_the_image(tmp_path):
    """An image's top pads leave only once its first word is offered: with the input starting
    late, the first pad leaves the clock after, one a clock, and the word is taken after them."""
    h, w, cg, pad = 2, 3, 2, (1, 0, 2, 1)
    images = np.arange(h * w * cg).reshape(1, h, w, cg) + 1
    t_in = []
    out, want, when = simulate(tmp_path, images, cg, pad, 0, gap=0.9, seed=3, in_cycles=t_in)
    assert out == [int(v) for v in want.ravel()]
    lead = lead_words(w, cg, pad)
    assert t_in[0] > lead + 10, "the first word should come late"
    assert when[:lead + 1] == list(range(t_in[0] - lead + 1, t_in[0] + 2))
    assert padded(h, w, pad) == (3, 6)


def test_converted_verilog_in_icarus(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, (2, 3, 4, 2))
    out, want, _ = simulate(tmp_path, images, 2, (1, 2, 2, 1), 0x80, gap=0.3, stall=0.3,
                            hdl="icarus")
    assert out == [int(v) for v in want.ravel()]
    icarus.verilator_lint(tmp_path / "pad2d_dut.v", "pad2d_dut")


def test_bad_parameters():
    clk, rst = make_clk_rst()
    s, m = Stream(8, signed=False), Stream(8, signed=False)
    with pytest.raises(ValueError, match="not all 0"):
        pad2d(clk, rst, s, m, h=3, w=3, cg=1, pad=(0, 0, 0, 0), value=0)
    with pytest.raises(ValueError, match="does not fit"):
        pad2d(clk, rst, s, m, h=3, w=3, cg=1, pad=(1, 1, 1, 1), value=256)
