"""maxpool2x2 == golden.maxpool2x2: random and real tensors, gaps, stalls, MyHDL and Icarus."""
import numpy as np
import pytest

from cosim import icarus
from hdl.cnn.maxpool2x2 import cycles, maxpool2x2, trace
from hdl.lib.stream import Stream, sink, source
from model import golden, presets
from tests.hdl.helpers import (
    clock,
    make_clk_rst,
    need_tools,
    pack_words,
    run,
    taken,
    unpack_words,
)


def simulate(tmp_path, images, *, gap=0.0, stall=0.0, hdl="myhdl", seed=0, in_cycles=None,
             lanes=1):
    n, h, w, c = images.shape
    clk, rst = make_clk_rst()
    s, m = (Stream(8), Stream(8)) if lanes == 1 else (Stream(8 * lanes, signed=False),
                                                       Stream(8 * lanes, signed=False))
    if hdl == "myhdl":
        dut = maxpool2x2(clk, rst, s, m, h=h, w=w, c=c, lanes=lanes)
    else:
        icarus.convert(maxpool2x2(clk, rst, s, m, h=h, w=w, c=c, lanes=lanes), tmp_path,
                       "maxpool_dut")
        dut = icarus.cosimulation(tmp_path, "maxpool_dut", clk=clk, rst=rst, s_valid=s.valid,
                                  s_data=s.data, s_ready=s.ready, m_valid=m.valid,
                                  m_data=m.data, m_ready=m.ready)
    out, when = [], []
    want = n * (h // 2) * (w // 2) * c
    values = images.ravel() if lanes == 1 else pack_words(images, lanes)
    parts = [dut, clock(clk), source(clk, s, values, gap=gap, seed=seed, rst=rst),
             sink(clk, m, out, stall=stall, seed=seed + 1, cycles=when)]
    if in_cycles is not None:
        parts.append(taken(clk, s, in_cycles))
    run(parts, lambda: len(out) >= want // lanes, clk, 10 * images.size + 100, rst=rst)
    if lanes > 1:
        out = unpack_words(out, lanes)
    return np.array(out, np.int8).reshape(n, h // 2, w // 2, c), when


@pytest.mark.parametrize("h,w,c", [(4, 4, 1), (5, 7, 3), (6, 6, 8), (11, 11, 2), (2, 3, 2),
                                   (4, 2, 1), (3, 3, 1), (4, 2, 2), (2, 2, 1)])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.3, 0.4)])
def test_random(tmp_path, h, w, c, gap, stall):
    rng = np.random.default_rng(h * 100 + w * 10 + c)
    images = rng.integers(-128, 128, (2, h, w, c)).astype(np.int8)
    got, _ = simulate(tmp_path, images, gap=gap, stall=stall, seed=c)
    np.testing.assert_array_equal(got, golden.maxpool2x2(images))


@pytest.mark.parametrize("h,w,c,lanes", [(6, 6, 8, 8), (5, 7, 6, 2), (4, 4, 4, 2)])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.3, 0.4)])
def test_wide_beats(tmp_path, h, w, c, lanes, gap, stall):
    """``lanes`` channels a beat (after a wide convolution): lane-by-lane maxima, an image in
    H*W*C/lanes beats, each result two clocks after the beat that completes it."""
    rng = np.random.default_rng(h * 100 + w * 10 + c)
    images = rng.integers(-128, 128, (2, h, w, c)).astype(np.int8)
    t_in = []
    got, when = simulate(tmp_path, images, gap=gap, stall=stall, seed=c, lanes=lanes,
                         in_cycles=t_in)
    np.testing.assert_array_equal(got, golden.maxpool2x2(images))
    if gap == 0 and stall == 0:
        per = (h // 2) * (w // 2) * c // lanes
        assert when[2 * per - 1] - when[per - 1] == cycles(h, w, c, lanes)
        t_vals = [t for t in t_in for _ in range(lanes)][:h * w * c]
        assert when[:per] == trace(h, w, c, t_vals)[::lanes]


def test_extremes(tmp_path):
    images = np.full((3, 4, 6, 2), -128, np.int8)
    images[1] = 127
    images[2, 1::2, 1::2] = 127  # the maximum sits in the last position of each window
    got, _ = simulate(tmp_path, images, gap=0.2, stall=0.2)
    np.testing.assert_array_equal(got, golden.maxpool2x2(images))


def test_real_layer_slice(tmp_path, nets, digits):
    """pool1 of digits_cnn on real conv1 outputs (6x6x8 -> 3x3x8)."""
    net = nets["digits_cnn"]
    p = presets.get("digits_cnn")
    conv_out = golden.conv2d(net.quantize_input(p.to_float(digits.test.x[:3])), net.layers[0])
    got, _ = simulate(tmp_path, conv_out, gap=0.1, stall=0.3)
    np.testing.assert_array_equal(got, golden.maxpool2x2(conv_out))


@pytest.mark.parametrize("h,w,c", [(6, 6, 4), (5, 7, 3)])
def test_cycle_model(tmp_path, h, w, c):
    """Back-to-back images with no gaps: each image's last output leaves at the prediction."""
    images = np.zeros((3, h, w, c), np.int8)
    _, when = simulate(tmp_path, images)
    per_image = (h // 2) * (w // 2) * c
    last = [when[(i + 1) * per_image - 1] for i in range(3)]
    # the last output of image k completes in the input's (2*(H//2))th row: an odd tail is not
    # waited for, so compare image-to-image spacing, which is the initiation interval
    assert last[1] - last[0] == cycles(h, w, c) and last[2] - last[1] == cycles(h, w, c)


@pytest.mark.parametrize("h,w,c", [(6, 6, 4), (5, 7, 3)])
def test_timing_model(tmp_path, h, w, c):
    """One image, no gaps: trace() gives the clock of every output value exactly."""
    t_in = []
    _, when = simulate(tmp_path, np.zeros((1, h, w, c), np.int8), in_cycles=t_in)
    assert when == trace(h, w, c, t_in)


@pytest.mark.parametrize("h,w,c", [(5, 7, 3), (4, 2, 1)])  # read two beats ahead, one beat
def test_converted_verilog_in_icarus(tmp_path, h, w, c):
    need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(4)
    images = rng.integers(-128, 128, (2, h, w, c)).astype(np.int8)
    got, _ = simulate(tmp_path, images, gap=0.3, stall=0.3, hdl="icarus")
    np.testing.assert_array_equal(got, golden.maxpool2x2(images))
    icarus.verilator_lint(tmp_path / "maxpool_dut.v", "maxpool_dut")


def test_bad_parameters():
    clk, rst = make_clk_rst()
    with pytest.raises(ValueError, match="lanes=3 must divide C=8"):
        maxpool2x2(clk, rst, Stream(24, signed=False), Stream(24, signed=False), h=4, w=4, c=8,
                   lanes=3)
    with pytest.raises(ValueError, match="H=1"):
        maxpool2x2(clk, rst, Stream(8), Stream(8), h=1, w=4, c=1)
    with pytest.raises(ValueError, match="ready"):
        maxpool2x2(clk, rst, Stream(8), Stream(8, ready=False), h=4, w=4, c=1)
