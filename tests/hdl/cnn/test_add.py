"""add == golden.add: random zero points and scales, fused ReLU, both inputs' lanes, gaps and
stalls on every port, the cycle model clock for clock; fork: every beat to both consumers;
the converted Verilog in Icarus."""
import numpy as np
import pytest

from cosim import icarus
from hdl.cnn import add as add_block
from hdl.lib.stream import Stream, sink, source
from model import golden, qnet
from model.qnet import ADD_LEFT_SHIFT, Layer
from tests.hdl.helpers import clock, make_clk_rst, need_tools, pack_words, run, taken


def make_add(shape, *, rng, relu=False):
    """An ADD layer as qnet reads one: input scales s1, s2, output scale so, TFLite's
    multipliers (twice the larger input scale, the 20-bit left shift)."""
    s1, s2 = rng.uniform(0.01, 0.1, 2)
    so = rng.uniform(0.02, 0.2)
    zp1, zp2, zpo = (int(v) for v in rng.integers(-128, 128, 3))
    twice = 2 * max(s1, s2)
    pairs = [qnet.quantize_multiplier(s1 / twice), qnet.quantize_multiplier(s2 / twice),
             qnet.quantize_multiplier(twice / (float(1 << ADD_LEFT_SHIFT) * so))]
    return Layer("add", "add1", shape, shape, 0, zp_in=zp1, zp_in2=zp2, zp_out=zpo,
                 act_min=zpo if relu else -128, act_max=127, relu=relu,
                 multiplier=np.array([p[0] for p in pairs], np.int64),
                 shift=np.array([p[1] for p in pairs], np.int64))


def simulate(tmp_path, layer, xa, xb, lanes_a=1, lanes_b=1, gaps=(0.0, 0.0), stall=0.0,
             seed=0, depths=(64, 64), holds=(1, 1)):
    want = golden.add(xa, xb, layer)
    paths = add_block.write_mems(layer, tmp_path)
    va = xa.ravel() if lanes_a == 1 else pack_words(xa, lanes_a)
    vb = xb.ravel() if lanes_b == 1 else pack_words(xb, lanes_b)
    clk, rst = make_clk_rst()
    out, when, t_a, t_b = [], [], [], []
    a = Stream(8) if lanes_a == 1 else Stream(8 * lanes_a, signed=False)
    b = Stream(8) if lanes_b == 1 else Stream(8 * lanes_b, signed=False)
    m = Stream(8)
    parts = [add_block.add(clk, rst, a, b, m, layer=layer, paths=paths, lanes_a=lanes_a,
                           lanes_b=lanes_b, depth_a=depths[0], depth_b=depths[1],
                           hold_a=holds[0], hold_b=holds[1]),
             clock(clk), source(clk, a, va, gap=gaps[0], seed=seed, rst=rst),
             taken(clk, a, t_a), source(clk, b, vb, gap=gaps[1], seed=seed + 1, rst=rst),
             taken(clk, b, t_b), sink(clk, m, out, stall=stall, seed=seed + 2, cycles=when)]
    run(parts, lambda: len(out) >= want.size, clk, 40 * want.size + 500, rst=rst)
    return np.array(out, np.int8).reshape(want.shape), want, when, t_a, t_b


@pytest.mark.parametrize("shape,lanes_a,lanes_b,relu", [((4, 5, 3), 1, 1, False),
                                                         ((3, 4, 4), 2, 1, True),
                                                         ((2, 3, 6), 1, 3, True),
                                                         ((5, 2, 8), 4, 8, False)])
@pytest.mark.parametrize("gaps,stall", [((0.0, 0.0), 0.0), ((0.4, 0.1), 0.3),
                                        ((0.0, 0.6), 0.5)])
def test_random(tmp_path, shape, lanes_a, lanes_b, relu, gaps, stall):
    rng = np.random.default_rng(sum(shape) + lanes_a)
    layer = make_add(shape, rng=rng, relu=relu)
    xa = rng.integers(-128, 128, (1,) + shape).astype(np.int8)
    xb = rng.integers(-128, 128, (1,) + shape).astype(np.int8)
    got, want, _, _, _ = simulate(tmp_path, layer, xa, xb, lanes_a, lanes_b, gaps, stall,
                                  seed=lanes_b)
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(want)) > want.size // 4


def test_every_value_pair(tmp_path):
    """All 65,536 (a, b) pairs of one layer: the tables and the requantizer at every input."""
    rng = np.random.default_rng(7)
    layer = make_add((256, 256, 1), rng=rng)
    grid = np.arange(-128, 128, dtype=np.int8)
    xa = np.repeat(grid, 256).reshape(1, 256, 256, 1)
    xb = np.tile(grid, 256).reshape(1, 256, 256, 1)
    want = golden.add(xa, xb, layer)
    a, b = add_block.tables(layer)
    from model.golden import finish, multiply_by_quantized_multiplier, wrap_int32
    total = wrap_int32(a[xa.astype(np.int64) & 0xFF] + b[xb.astype(np.int64) & 0xFF])
    got = finish(multiply_by_quantized_multiplier(total, layer.multiplier[2], layer.shift[2]),
                 layer.zp_out, layer.act_min, layer.act_max)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("lanes_a,lanes_b", [(1, 1), (2, 1), (1, 4)])
def test_cycle_model(tmp_path, lanes_a, lanes_b):
    """Both inputs offered a beat a clock: every output on the clock ``trace`` gives from the
    clocks the inputs were taken (tests/test_residual.py has the branches' uneven arrivals)."""
    rng = np.random.default_rng(lanes_a * 10 + lanes_b)
    shape = (4, 4, 4)
    layer = make_add(shape, rng=rng)
    xa = rng.integers(-128, 128, (1,) + shape).astype(np.int8)
    xb = rng.integers(-128, 128, (1,) + shape).astype(np.int8)
    # the packers queue what the cycle model says (a beat a clock from clock 0 on), no more
    offered = [[k // lanes for k in range(xa.size)] for lanes in (lanes_a, lanes_b)]
    holds = [add_block.pack_hold(t, n) for t, n in zip(offered, (lanes_a, lanes_b))]
    got, want, when, t_a, t_b = simulate(tmp_path, layer, xa, xb, lanes_a, lanes_b,
                                         holds=holds)
    np.testing.assert_array_equal(got, want)
    for t in (t_a, t_b):  # no beat waited: the queues were deep enough
        assert t == list(range(t[0], t[0] + len(t)))
    ta = [t for t in t_a for _ in range(lanes_a)]
    tb = [t for t in t_b for _ in range(lanes_b)]
    assert when == add_block.trace(ta, tb, lanes_a, lanes_b)
    if max(lanes_a, lanes_b) > 1:  # a burst of wide beats: the queue holds most of it
        assert max(holds) > 2


def test_fork_gives_every_beat_to_both(tmp_path):
    clk, rst = make_clk_rst()
    s, m1, m2 = Stream(8), Stream(8), Stream(8)
    values = list(np.random.default_rng(1).integers(-128, 128, 200))
    o1, o2 = [], []
    parts = [add_block.fork(clk, rst, s, m1, m2), clock(clk),
             source(clk, s, values, gap=0.3, seed=1, rst=rst),
             sink(clk, m1, o1, stall=0.5, seed=2), sink(clk, m2, o2, stall=0.2, seed=3)]
    run(parts, lambda: len(o1) >= 200 and len(o2) >= 200, clk, 5000, rst=rst)
    assert o1 == values and o2 == values


def test_converted_verilog_lints(tmp_path):
    """add (wide and one-lane inputs) and fork, converted: verilator --lint-only -Wall."""
    need_tools("verilator")
    from hdl.flow.build import to_verilog

    rng = np.random.default_rng(3)
    layer = make_add((3, 4, 4), rng=rng, relu=True)
    paths = add_block.write_mems(layer, tmp_path)
    clk, rst = make_clk_rst()
    a, b, m = Stream(16, signed=False), Stream(8), Stream(8)
    to_verilog(add_block.add(clk, rst, a, b, m, layer=layer, paths=paths, lanes_a=2, lanes_b=1,
                             depth_a=20, depth_b=4), tmp_path, "add_dut")
    icarus.verilator_lint(tmp_path / "add_dut.v", "add_dut")
    s, m1, m2 = Stream(8), Stream(8), Stream(8)
    to_verilog(add_block.fork(clk, rst, s, m1, m2), tmp_path, "fork_dut")
    icarus.verilator_lint(tmp_path / "fork_dut.v", "fork_dut")
