"""requant == golden.requant, both modes, in MyHDL and as converted Verilog in Icarus."""
import random

import numpy as np
import pytest
from myhdl import Signal, instance, intbv

from cosim import icarus
from hdl.cnn.requant import LATENCY, magnitude_bound, requant, scaled
from hdl.lib.stream import Stream
from model import export, golden
from tests.hdl.helpers import clock, make_clk_rst, need_tools, run

I32 = (-(1 << 31), (1 << 31) - 1)


def expected(mode, accs, chans, mults, shifts, zp, lo, hi):
    """The requantizer's outputs by golden's integer form (golden.requant_integer)."""
    wide = max(int(v) for v in mults) >= 1 << 62
    mults = np.array([int(v) for v in mults], object if wide else np.int64)
    acc = np.array(accs, np.int64)[:, None]
    table = golden.requant_integer(np.broadcast_to(acc, (len(accs), len(mults))), mode, mults,
                                   np.array(shifts, np.int64), zp, lo, hi)
    return table[np.arange(len(accs)), chans].tolist()


def simulate(tmp_path, mode, accs, chans, mults, shifts, *, acc_bits, zp=0, lo=-128, hi=127,
             gap=0.3, hdl="myhdl", seed=0, dsp_bits=0):
    mult_bits = 32 if mode == "gemmlowp" else max(int(m).bit_length() for m in mults + [1])
    export.write_mem(tmp_path / "q_multiplier.mem", mults, mult_bits)
    export.write_mem(tmp_path / "q_shift.mem", shifts, 8)
    clk, rst = make_clk_rst()
    s, m = Stream(acc_bits, ready=False), Stream(8, ready=False)
    chan = Signal(intbv(0, min=0, max=max(2, len(mults))))
    params = dict(mode=mode, acc_bits=acc_bits, mult_bits=mult_bits,
                  mult_path=tmp_path / "q_multiplier.mem", shift_path=tmp_path / "q_shift.mem",
                  zp_out=zp, act_min=lo, act_max=hi, dsp_bits=dsp_bits)
    if hdl == "myhdl":
        dut = requant(clk, rst, s, chan, m, **params)
    else:
        icarus.convert(requant(clk, rst, s, chan, m, **params), tmp_path, "requant_dut")
        dut = icarus.cosimulation(tmp_path, "requant_dut", clk=clk, rst=rst, s_valid=s.valid,
                                  s_data=s.data, s_chan=chan, m_valid=m.valid, m_data=m.data)
    rng = random.Random(seed)
    out, sent, got = [], [], []

    @instance
    def drive():
        yield clk.posedge
        while rst:
            yield clk.posedge
        for a, c in zip(accs, chans):
            while rng.random() < gap:
                s.valid.next = 0
                yield clk.posedge
            s.valid.next, s.data.next, chan.next = 1, int(a), int(c)
            yield clk.posedge
        s.valid.next = 0

    cycle = [0]

    @instance
    def take():
        while True:
            yield clk.posedge
            cycle[0] += 1
            if s.valid:
                sent.append(cycle[0])
            if m.valid:
                out.append(int(m.data))
                got.append(cycle[0])

    run([dut, clock(clk), drive, take], lambda: len(out) >= len(accs), clk, 20 * len(accs) + 50,
        rst=rst)
    # every beat comes out exactly LATENCY cycles after it went in
    assert [g - t for g, t in zip(got, sent)] == [LATENCY] * len(accs)
    return out


def random_case(mode, n, channels, rng, acc_bits=32):
    lo, hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    accs = [int(v) for v in rng.integers(lo, hi, n, endpoint=True)]
    accs[:4] = [lo, hi, 0, -1][: min(4, n)]
    chans = [int(v) for v in rng.integers(0, channels, n)]
    if mode == "gemmlowp":
        mults = [int(v) for v in rng.integers(1 << 30, 1 << 31, channels)]
        shifts = [int(v) for v in rng.integers(-31, 8, channels)]
    else:
        mults = [int(v) for v in rng.integers(1, 1 << 30, channels)]
        shifts = [int(v) for v in rng.integers(20, 40, channels)]
    return accs, chans, mults, shifts


# hi=127: a ReLU clamp with a nonzero zero point; hi=53: a ReLU6 clamp (zp + round(6 / scale))
@pytest.mark.parametrize("mode,acc_bits,hi", [("gemmlowp", 32, 127), ("gemmlowp", 19, 53),
                                              ("round", 24, 127), ("round", 24, 53)])
def test_random_myhdl(tmp_path, mode, acc_bits, hi):
    rng = np.random.default_rng(acc_bits)
    accs, chans, mults, shifts = random_case(mode, 400, 5, rng, acc_bits)
    zp, lo = -7, -7
    got = simulate(tmp_path, mode, accs, chans, mults, shifts, acc_bits=acc_bits, zp=zp, lo=lo,
                   hi=hi)
    assert got == expected(mode, accs, chans, mults, shifts, zp, lo, hi)


def test_negative_ties_and_int32_limits(tmp_path):
    """Negative exact halves round away from zero; INT32_MIN and INT32_MAX accumulators."""
    # channel 1: M0 = 2^30 halves exactly, then a right shift by 1: -6 -> -3 -> -1.5 -> -2
    accs = [I32[0], I32[0], -6, -10, -2, 6, 10, I32[1]]
    mults = [(1 << 31) - 1, 1 << 30]
    shifts = [0, -1]
    chans = [0, 1, 1, 1, 1, 1, 1, 1]
    got = simulate(tmp_path, "gemmlowp", accs, chans, mults, shifts, acc_bits=32, gap=0)
    want = expected("gemmlowp", accs, chans, mults, shifts, 0, -128, 127)
    assert got == want
    assert want[2:7] == [-2, -3, -1, 2, 3]  # halves away from zero on both sides


@pytest.mark.parametrize("name,index", [("mnist_cnn", 0), ("mnist_cnn", 2), ("mnist_cnn", 6),
                                        ("mnist_cnn", 7), ("digits_cnn", 3)])
def test_magnitude_bound_is_exact_and_tight(nets, name, index):
    """Clamping |x| at the bound changes no output of a real layer; one less would."""
    layer = nets[name].layers[index]
    args = dict(acc_bits=layer.acc_bits, zp_out=layer.zp_out, act_min=layer.act_min,
                act_max=layer.act_max)
    bound = magnitude_bound(layer.requant, layer.multiplier, layer.shift, **args)
    assert 0 < bound < 1 << (layer.acc_bits - 1)  # the point: a narrower multiplier

    def out(x):
        x = np.asarray(x, np.int64)[:, None]
        return np.clip(scaled(layer.requant, x, layer.multiplier, layer.shift) + layer.zp_out,
                       layer.act_min, layer.act_max)

    top = (1 << (layer.acc_bits - 1)) - 1
    xs = np.arange(-top - 1, top + 1, max(1, top // 200_000))
    xs = np.concatenate([xs, [bound - 1, bound, bound + 1, -bound - 1, -bound, 1 - bound]])
    clamped = np.sign(xs) * np.minimum(np.abs(xs), bound)
    assert np.array_equal(out(clamped), out(xs))
    # one less is not enough: some channel is not yet at its clamp at +-(bound - 1)
    assert not np.array_equal(out([bound - 1, 1 - bound]), out([top, -top - 1]))


def test_negative_multiplier_refused(tmp_path):
    with pytest.raises(ValueError, match="multiplier -5 is negative"):
        simulate(tmp_path, "gemmlowp", [1], [0], [-5], [0], acc_bits=16)


def test_real_layer_around_the_bound(tmp_path, nets):
    """conv2 of mnist_cnn, accumulators next to the clamp bound and at the layer's extremes."""
    layer = nets["mnist_cnn"].layers[2]
    bound = magnitude_bound(layer.requant, layer.multiplier, layer.shift,
                            acc_bits=layer.acc_bits, zp_out=layer.zp_out,
                            act_min=layer.act_min, act_max=layer.act_max)
    near = [bound + d for d in range(-3, 4)] + [-bound + d for d in range(-3, 4)]
    ends = [layer.acc_bound, -layer.acc_bound, 0, 1, -1]
    accs = [a for a in near + ends for _ in range(3)]
    rng = np.random.default_rng(4)
    chans = [int(v) for v in rng.integers(0, layer.c_out, len(accs))]
    got = simulate(tmp_path, layer.requant, accs, chans, layer.multiplier.tolist(),
                   layer.shift.tolist(), acc_bits=layer.acc_bits, zp=layer.zp_out,
                   lo=layer.act_min, hi=layer.act_max, gap=0)
    assert got == expected(layer.requant, accs, chans, layer.multiplier.tolist(),
                           layer.shift.tolist(), layer.zp_out, layer.act_min, layer.act_max)


def test_every_shift_the_exporter_can_produce(tmp_path):
    """gemmlowp shifts -31..30 (QuantizeMultiplier's range), left shifts wrapping like int32."""
    rng = np.random.default_rng(5)
    shifts = list(range(-31, 31))
    mults = [int(v) for v in rng.integers(1 << 30, 1 << 31, len(shifts))]
    chans = [c for c in range(len(shifts)) for _ in range(6)]
    accs = [int(v) for v in rng.integers(-5000, 5000, len(chans))]
    got = simulate(tmp_path, "gemmlowp", accs, chans, mults, shifts, acc_bits=32, gap=0.1)
    assert got == expected("gemmlowp", accs, chans, mults, shifts, 0, -128, 127)


def test_real_dense_layer_parameters(tmp_path, nets):
    """dense1 of mnist_cnn: 34-bit round multipliers, its own zero points and ReLU clamp."""
    layer = nets["mnist_cnn"].layers[6]
    rng = np.random.default_rng(2)
    chans = [int(v) for v in rng.integers(0, layer.c_out, 300)]
    accs = [int(v) for v in rng.integers(-layer.acc_bound, layer.acc_bound, 300)]
    got = simulate(tmp_path, layer.requant, accs, chans, layer.multiplier.tolist(),
                   layer.shift.tolist(), acc_bits=layer.acc_bits, zp=layer.zp_out,
                   lo=layer.act_min, hi=layer.act_max)
    assert got == expected(layer.requant, accs, chans, layer.multiplier.tolist(),
                           layer.shift.tolist(), layer.zp_out, layer.act_min, layer.act_max)


# narrow: shifts like a real layer's (a span of 3), so the shifters are 2 bits wide and the
# constant part n_lo (9 or 39) is a fixed shift; round's 2^(n-1) then lies beyond 32 bits
NARROW = {"gemmlowp": ([1 << 30, 3 << 29, (1 << 31) - 1], [-9, -8, -10]),
          "round": ([1 << 33, 3 << 32, (1 << 34) - 1], [39, 40, 41])}


# dsp: the multiply's low 16 bits on a DSP (as on the iCE40): it takes fewer clocks than the
# all-LUT tree, and the result waits out the difference at the end
@pytest.mark.parametrize("mode,narrow,dsp", [("gemmlowp", False, 0), ("round", False, 0),
                                             ("gemmlowp", True, 0), ("round", True, 0),
                                             ("gemmlowp", True, 16), ("round", False, 16)])
def test_converted_verilog_in_icarus(tmp_path, mode, narrow, dsp):
    need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(9)
    accs, chans, mults, shifts = random_case(mode, 120, 3, rng, 24)
    if narrow:
        mults, shifts = NARROW[mode]
        top = 1 << (17 if mode == "gemmlowp" else 13)  # most results inside int8
        accs = [int(v) for v in rng.integers(-top, top, len(accs))]
    got = simulate(tmp_path, mode, accs, chans, mults, shifts, acc_bits=24, zp=5, lo=5,
                   hi=127, hdl="icarus", dsp_bits=dsp)
    assert got == expected(mode, accs, chans, mults, shifts, 5, 5, 127)
    icarus.verilator_lint(tmp_path / "requant_dut.v", "requant_dut")


def test_accumulators_beyond_2_30_in_verilog(tmp_path):
    """A 32-bit accumulator: a dead conv channel whose int32 bias the converter set to 2^30
    (issue 41's model), with its real multipliers and shifts. The clamp bound is then above
    2^30, a constant MyHDL wrote as an unsigned literal, which made the converted comparison
    unsigned: every positive accumulator above 2^30 saturated (``hdl/__init__.py``)."""
    need_tools("iverilog", "vvp")
    mults = [1959175857, 1846577025, 2055835280]
    shifts = [-29, -24, -10]
    base = [1040485376, 1 << 30, (1 << 31) - 1, 1 << 30, -(1 << 31), -(1 << 30) - 3]
    accs = [a + d for a in base for d in (-700, -1, 0) if I32[0] <= a + d <= I32[1]]
    accs += [I32[1], I32[0], 0, 5, -5]
    chans = [i % 3 for i in range(len(accs))]
    want = expected("gemmlowp", accs, chans, mults, shifts, -128, -128, 127)
    got = simulate(tmp_path, "gemmlowp", accs, chans, mults, shifts, acc_bits=32, zp=-128,
                   lo=-128, hi=127, gap=0, hdl="icarus")
    assert got == want
    assert len(set(want)) > 3  # not all at one clamp


# the int32 edges: (mode, multipliers, shifts, zp): results near +-2^31, where TFLite's int32
# zero-point add wraps (and round mode's conversion of a result beyond int32 gives INT32_MIN)
EDGES = [("gemmlowp", [(1 << 31) - 1, 1 << 30, (1 << 31) - 1], [0, 1, -3], 3),
         ("gemmlowp", [(1 << 31) - 1, 1 << 30], [0, 1], -7),
         ("round", [1 << 34, 3 << 33, 1 << 20], [32, 33, 40], 0),
         ("round", [1 << 34, 3 << 33], [32, 33], -128)]


@pytest.mark.parametrize("hdl", ["myhdl", "icarus"])
@pytest.mark.parametrize("mode,mults,shifts,zp", EDGES)
def test_int32_edges(tmp_path, hdl, mode, mults, shifts, zp):
    """Accumulators whose results reach the int32 limits: the output turns to the other clamp
    exactly where TFLite's does (golden.finish), and nowhere else."""
    if hdl == "icarus":
        need_tools("iverilog", "vvp")
    ends = [I32[1], I32[1] - 1, I32[1] - 40, 1 << 30, (1 << 30) - 1, (1 << 29) + 5,
            I32[0], I32[0] + 1, I32[0] + 9, -(1 << 30), -(1 << 30) - 1, 100, -100]
    accs = [a for a in ends for _ in range(len(mults))]
    chans = [c for _ in ends for c in range(len(mults))]
    want = expected(mode, accs, chans, mults, shifts, zp, -128, 127)
    got = simulate(tmp_path, mode, accs, chans, mults, shifts, acc_bits=32, zp=zp, lo=-128,
                   hi=127, gap=0.1, hdl=hdl)
    assert got == want
    # the edge is reached: some output is the other clamp of a saturated one
    assert (-128 if zp >= 0 else 127) in want[:3 * len(mults)] + want[6 * len(mults):]


def test_bad_parameters(tmp_path):
    clk, rst = make_clk_rst()
    s, m = Stream(40, ready=False), Stream(8, ready=False)
    chan = Signal(intbv(0)[2:])
    with pytest.raises(ValueError, match="acc_bits=40"):
        requant(clk, rst, s, chan, m, mode="gemmlowp", acc_bits=40, mult_bits=32,
                mult_path=tmp_path / "x", shift_path=tmp_path / "y", zp_out=0, act_min=-128,
                act_max=127)
    with pytest.raises(ValueError, match="mode="):
        requant(clk, rst, Stream(8, ready=False), chan, m, mode="float", acc_bits=8,
                mult_bits=32, mult_path=tmp_path / "x", shift_path=tmp_path / "y", zp_out=0,
                act_min=-128, act_max=127)
