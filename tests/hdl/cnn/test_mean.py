"""mean == golden.mean: sizes, channels, lanes, zero points, gaps, stalls, the extremes, the
timing model, MyHDL and the converted Verilog in Icarus."""
import numpy as np
import pytest

from cosim import icarus
from hdl.cnn.mean import cycles, mean, trace, write_mems
from hdl.lib.stream import Stream
from model import golden, qnet
from model.qnet import Layer
from tests.hdl.helpers import make_clk_rst, need_tools, pack_words, stream_run, unpack_words


def mean_layer(h, w, c, zp_in, zp_out, ratio):
    """A MEAN as qnet reads it: s_in / s_out = ``ratio``, folded with 1 / (H W)."""
    m, sh = qnet.mean_multiplier(ratio, h * w)
    return Layer("mean", "mean1", (h, w, c), (c,), 0, zp_in=zp_in, zp_out=zp_out,
                 multiplier=np.array([m], np.int64), shift=np.array([sh], np.int64))


def simulate(tmp_path, layer, images, lanes=1, **kw):
    want = golden.mean(images, layer)
    paths = write_mems(layer, tmp_path)
    s = Stream(8) if lanes == 1 else Stream(8 * lanes, signed=False)
    m = Stream(8) if lanes == 1 else Stream(8 * lanes, signed=False)
    values = images.ravel() if lanes == 1 else pack_words(images, lanes)
    out, when = stream_run(
        tmp_path, lambda clk, rst: mean(clk, rst, s, m, layer=layer, paths=paths, lanes=lanes),
        "mean_dut", s, m, values, want.size // lanes, **kw)
    if lanes > 1:
        out = unpack_words(out, lanes)
        when = [t for t in when for _ in range(lanes)]
    return np.array(out, np.int8).reshape(want.shape), want, when


@pytest.mark.parametrize("h,w,c,lanes", [(1, 1, 3, 1), (2, 2, 1, 1), (3, 5, 4, 1), (4, 4, 8, 2),
                                         (7, 6, 6, 3), (5, 5, 2, 2), (6, 3, 16, 4)])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.3, 0.6)])
def test_random(tmp_path, h, w, c, lanes, gap, stall):
    rng = np.random.default_rng(h * 100 + w * 10 + c)
    layer = mean_layer(h, w, c, int(rng.integers(-60, 60)), int(rng.integers(-60, 60)),
                       float(rng.uniform(0.5, 1.5)))
    # each image and channel around its own level, so the means spread over int8
    level = rng.integers(-100, 100, (3, 1, 1, c))
    images = np.clip(level + rng.integers(-28, 28, (3, h, w, c)), -128, 127).astype(np.int8)
    got, want, _ = simulate(tmp_path, layer, images, lanes, gap=gap, stall=stall, seed=c)
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(want)) >= min(3, want.size), "means should spread"


@pytest.mark.parametrize("zp_in,ratio", [(-128, 1.0), (127, 1.0), (-128, 9.0), (5, 0.01)])
def test_extremes(tmp_path, zp_in, ratio):
    """Flat images at both ends of int8 and one value off: the largest sums, saturation."""
    h, w, c = 6, 5, 3
    layer = mean_layer(h, w, c, zp_in, -3, ratio)
    images = np.stack([np.full((h, w, c), -128), np.full((h, w, c), 127),
                       np.full((h, w, c), 0)]).astype(np.int8)
    images[2, 0, 0] = 1
    got, want, _ = simulate(tmp_path, layer, images, stall=0.5)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("h,w,c,lanes", [(3, 4, 6, 1), (4, 3, 8, 2), (1, 1, 5, 1)])
def test_timing_model(tmp_path, h, w, c, lanes):
    layer = mean_layer(h, w, c, -128, 0, 1.5)
    t_in = []
    _, want, when = simulate(tmp_path, layer, np.zeros((3, h, w, c), np.int8), lanes,
                             in_cycles=t_in)
    t_vals = [t for t in t_in for _ in range(lanes)]
    per = h * w * c
    assert when == [t for i in range(3) for t in trace(h, w, c, t_vals[i * per:(i + 1) * per])]
    last = [when[(i + 1) * c - 1] for i in range(3)]
    assert [last[1] - last[0], last[2] - last[1]] == [cycles(h, w, c, lanes)] * 2


@pytest.mark.parametrize("h,w,lanes", [(4, 5, 1), (4, 5, 2), (1, 1, 1)])
def test_converted_verilog_in_icarus(tmp_path, h, w, lanes):
    need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(4)
    layer = mean_layer(h, w, 4, -7, 12, 0.8)
    images = rng.integers(-128, 128, (2, h, w, 4)).astype(np.int8)
    got, want, _ = simulate(tmp_path, layer, images, lanes, gap=0.3, stall=0.3, hdl="icarus")
    np.testing.assert_array_equal(got, want)
    icarus.verilator_lint(tmp_path / "mean_dut.v", "mean_dut")


def test_bad_parameters(tmp_path):
    clk, rst = make_clk_rst()
    layer = mean_layer(4, 4, 6, 0, 0, 1.0)
    paths = write_mems(layer, tmp_path)
    with pytest.raises(ValueError, match="lanes=4 must divide C=6"):
        mean(clk, rst, Stream(32, signed=False), Stream(32, signed=False), layer=layer,
             paths=paths, lanes=4)
    with pytest.raises(ValueError, match="is a dense, not mean"):
        mean(clk, rst, Stream(8), Stream(8), paths=paths,
             layer=Layer("dense", "dense1", (6,), (2,), 0))
