"""pool2d == golden.maxpool / golden.avgpool: k = 2 and 3, sizes with rows and columns past the
last window, channels, lanes, gaps, stalls, the extremes of the average's rounding and clamp,
the timing model, MyHDL and the converted Verilog in Icarus."""
import numpy as np
import pytest

from cosim import icarus
from hdl.cnn.pool2d import cycles, divider, pool2d, trace
from hdl.lib.stream import Stream
from model import golden
from model.qnet import Layer
from tests.hdl.helpers import make_clk_rst, need_tools, pack_words, stream_run, unpack_words


def golden_pool(images, k, op, act_min=-128, act_max=127):
    n, h, w, c = images.shape
    kh, kw = (k, k) if isinstance(k, int) else k
    layer = Layer("maxpool" if op == "max" else "avgpool", "pool1", (h, w, c),
                  (h // kh, w // kw, c), 0, kernel=kh, stride=kh, kernel_w=kw, stride_w=kw,
                  act_min=act_min, act_max=act_max)
    return (golden.maxpool if op == "max" else golden.avgpool)(images, layer)


def simulate(tmp_path, images, k, op, lanes=1, act_min=-128, act_max=127, **kw):
    n, h, w, c = images.shape
    want = golden_pool(images, k, op, act_min, act_max)
    s = Stream(8) if lanes == 1 else Stream(8 * lanes, signed=False)
    m = Stream(8) if lanes == 1 else Stream(8 * lanes, signed=False)
    values = images.ravel() if lanes == 1 else pack_words(images, lanes)
    out, when = stream_run(
        tmp_path, lambda clk, rst: pool2d(clk, rst, s, m, h=h, w=w, c=c, k=k, op=op, lanes=lanes,
                                          act_min=act_min, act_max=act_max),
        "pool2d_dut", s, m, values, want.size // lanes, **kw)
    if lanes > 1:
        out = unpack_words(out, lanes)
        when = [t for t in when for _ in range(lanes)]
    return np.array(out, np.int8).reshape(want.shape), want, when


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("h,w,c,k,lanes", [(4, 4, 1, 2, 1), (5, 7, 3, 2, 1), (6, 6, 2, 3, 1),
                                           (7, 8, 4, 3, 2), (3, 3, 1, 3, 1), (9, 5, 4, 2, 4)])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.3, 0.4)])
def test_random(tmp_path, op, h, w, c, k, lanes, gap, stall):
    rng = np.random.default_rng(h * 100 + w * 10 + c + k)
    images = rng.integers(-128, 128, (2, h, w, c)).astype(np.int8)
    got, want, _ = simulate(tmp_path, images, k, op, lanes, gap=gap, stall=stall, seed=c)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("k", [2, 3])
def test_average_rounding_and_clamp(tmp_path, k):
    """Every window sum's rounding, ties away from zero in both signs (windows of one value
    and one odd value out), the extremes, and a ReLU-style clamp."""
    n = k * k
    rng = np.random.default_rng(k)
    wins = [np.full(n, v) for v in (-128, 127, 0, -1, 1)]
    for total in range(-n * 128, n * 127 + 1, 7):  # sums across the whole range
        vals = np.full(n, total // n)
        vals[: total - vals.sum()] += 1
        wins.append(vals)
    wins += [rng.integers(-128, 128, n) for _ in range(40)]
    blocks = np.stack(wins)[:, :n].reshape(-1, k, k)
    images = np.concatenate(blocks, axis=1)[None, :, :, None].astype(np.int8)  # 1 x k x (kN) x 1
    for act_min, act_max in [(-128, 127), (-20, 100)]:
        got, want, _ = simulate(tmp_path, images, k, "avg", act_min=act_min, act_max=act_max)
        np.testing.assert_array_equal(got, want)


def test_divider_is_exact():
    for count in (4, 9):
        mult, shift = divider(count, 9 * 128 + 4)
        assert all((v * mult) >> shift == v // count for v in range(9 * 128 + 5))
    assert divider(4, 1000) == (1, 2)


@pytest.mark.parametrize("op,h,w,c,k,lanes", [("avg", 7, 6, 2, 3, 1), ("max", 6, 5, 4, 2, 2)])
def test_timing_model(tmp_path, op, h, w, c, k, lanes):
    """trace() gives every output's clock exactly; back to back an image takes cycles()."""
    images = np.zeros((3, h, w, c), np.int8)
    t_in = []
    _, want, when = simulate(tmp_path, images, k, op, lanes, in_cycles=t_in)
    t_vals = [t for t in t_in for _ in range(lanes)]
    per = h * w * c
    assert when == [t for i in range(3)
                    for t in trace(h, w, c, k, t_vals[i * per:(i + 1) * per], op)]
    per_out = want[0].size
    last = [when[(i + 1) * per_out - 1] for i in range(3)]
    assert [last[1] - last[0], last[2] - last[1]] == [cycles(h, w, c, lanes)] * 2


@pytest.mark.parametrize("op,lanes", [("max", 1), ("avg", 1), ("avg", 2)])
def test_converted_verilog_in_icarus(tmp_path, op, lanes):
    need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(9)
    images = rng.integers(-128, 128, (2, 7, 8, 4)).astype(np.int8)
    got, want, _ = simulate(tmp_path, images, 3, op, lanes, act_min=-100, gap=0.3, stall=0.3,
                            hdl="icarus")
    np.testing.assert_array_equal(got, want)
    icarus.verilator_lint(tmp_path / "pool2d_dut.v", "pool2d_dut")


def test_bad_parameters():
    clk, rst = make_clk_rst()
    for kw, match in [(dict(k=1), "pool 1x1"), (dict(k=(2, 65)), "pool 2x65"),
                      (dict(op="min"), "op='min'"), (dict(h=2), "2x5"),
                      (dict(lanes=3), "lanes=3")]:
        args = dict(h=5, w=5, c=4, k=3, op="max", lanes=1) | kw
        lanes = args["lanes"]
        stream = Stream(8) if lanes == 1 else Stream(8 * lanes, signed=False)
        with pytest.raises(ValueError, match=match):
            pool2d(clk, rst, stream, stream, **args)


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("h,w,c,k,lanes", [(25, 5, 4, (25, 5), 1), (7, 9, 3, (3, 2), 1),
                                           (6, 9, 4, (2, 4), 2), (5, 4, 2, (5, 1), 1)])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.3, 0.4)])
def test_rectangular(tmp_path, op, h, w, c, k, lanes, gap, stall):
    """kh x kw windows at stride kh x kw (keyword spotting's 25x5 average over its whole map),
    bit-exact under gaps and stalls; with no gaps each result on the clock trace gives."""
    rng = np.random.default_rng(h * 100 + w * 10 + c)
    images = rng.integers(-128, 128, (2, h, w, c)).astype(np.int8)
    t_in = []
    got, want, when = simulate(tmp_path, images, k, op, lanes, gap=gap, stall=stall, seed=c,
                               in_cycles=t_in)
    np.testing.assert_array_equal(got, want)
    if gap == stall == 0:
        t_vals = [t for t in t_in for _ in range(lanes)][:h * w * c]
        per = want[0].size
        assert when[:per] == trace(h, w, c, k, t_vals, op)
