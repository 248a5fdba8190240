"""requant == golden.requant for parameters drawn over the whole legal space, in MyHDL and in
Verilator (hypothesis; a few examples in the default run, many under ``-m slow``).

The legal space is what TFLite's converter and kernels allow: gemmlowp multipliers 0..2^31 - 1
with shifts -31..30 (QuantizeMultiplier's range; a real multiplier below 2^-31 gives
multiplier 0, shift 0); round-mode (multiplier, shift) pairs as ``qnet.rounding_multiplier``
makes them for any scale; zero points and clamps anywhere in int8; accumulators anywhere in
the accumulator's width, up to int32, with its extremes always included."""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from myhdl import Signal, intbv

from cosim import block_sim, icarus
from hdl.cnn.requant import LATENCY, requant
from hdl.lib.stream import Stream
from model import export, qnet
from tests.hdl.cnn.test_requant import expected, simulate
from tests.hdl.helpers import make_clk_rst, need_tools

FEW = settings(max_examples=6, suppress_health_check=list(HealthCheck), deadline=None)
MANY = settings(max_examples=150, suppress_health_check=list(HealthCheck), deadline=None)
VERILATOR_FEW = settings(max_examples=2, suppress_health_check=list(HealthCheck), deadline=None)
VERILATOR_MANY = settings(max_examples=30, suppress_health_check=list(HealthCheck),
                          deadline=None)

GEMM_MULT = st.one_of(st.sampled_from([0, 1, 1 << 30, (1 << 31) - 1]),
                      st.integers(1 << 30, (1 << 31) - 1), st.integers(0, (1 << 31) - 1))


@st.composite
def clamp(draw):
    zp = draw(st.integers(-128, 127))
    relu = draw(st.booleans())
    lo = zp if relu else draw(st.integers(-128, 127))
    hi = draw(st.integers(lo, 127))
    return zp, lo, hi


@st.composite
def gemmlowp_params(draw, channels):
    mults = draw(st.lists(GEMM_MULT, min_size=channels, max_size=channels))
    shifts = draw(st.lists(st.integers(-31, 30), min_size=channels, max_size=channels))
    # TFLite's tiny-multiplier case: multiplier 0 always comes with shift 0
    shifts = [0 if m == 0 else s for m, s in zip(mults, shifts)]
    return mults, shifts


@st.composite
def round_params(draw, channels, acc_bits):
    """(multiplier, shift) per channel from qnet.rounding_multiplier for scales drawn over
    1e-12..1e3 (log-uniform) against the accumulator's whole range."""
    bound = (1 << (acc_bits - 1)) - 1
    mults, shifts = [], []
    for _ in range(channels):
        eff = float(10.0 ** draw(st.floats(-12, 3)))
        try:
            m, n = qnet.rounding_multiplier(eff, max(bound, 1))
        except qnet.UnsupportedTFLiteError:
            assume(False)
        mults.append(m)
        shifts.append(n)
    return mults, shifts


@st.composite
def requant_case(draw, mode, beats=48):
    acc_bits = draw(st.integers(2, 32))
    channels = draw(st.integers(1, 5))
    if mode == "gemmlowp":
        mults, shifts = draw(gemmlowp_params(channels))
    else:
        mults, shifts = draw(round_params(channels, acc_bits))
    zp, lo, hi = draw(clamp())
    top = 1 << (acc_bits - 1)
    accs = draw(st.lists(st.integers(-top, top - 1), min_size=beats, max_size=beats))
    accs[:4] = [-top, top - 1, 0, -1]
    chans = draw(st.lists(st.integers(0, channels - 1), min_size=len(accs),
                          max_size=len(accs)))
    return dict(acc_bits=acc_bits, mults=mults, shifts=shifts, zp=zp, lo=lo, hi=hi, accs=accs,
                chans=chans)


def check_myhdl(tmp_path, mode, case):
    got = simulate(tmp_path, mode, case["accs"], case["chans"], case["mults"], case["shifts"],
                   acc_bits=case["acc_bits"], zp=case["zp"], lo=case["lo"], hi=case["hi"],
                   gap=0.2)
    assert got == expected(mode, case["accs"], case["chans"], case["mults"], case["shifts"],
                           case["zp"], case["lo"], case["hi"]), case


def verilator_requant(folder, mode, case, seed=0):
    """Convert the requantizer for ``case``, run it in Verilator with random input gaps;
    returns (outputs in order, clocks from each input beat to its output)."""
    mults, shifts = case["mults"], case["shifts"]
    mult_bits = 32 if mode == "gemmlowp" else max(int(m).bit_length() for m in mults + [1])
    export.write_mem(folder / "q_multiplier.mem", mults, mult_bits)
    export.write_mem(folder / "q_shift.mem", shifts, 8)
    clk, rst = make_clk_rst()
    acc_bits = case["acc_bits"]
    s, m = Stream(acc_bits, ready=False), Stream(8, ready=False)
    chan_bits = max(1, (len(mults) - 1).bit_length())
    chan = Signal(intbv(0)[chan_bits:])
    icarus.convert(requant(clk, rst, s, chan, m, mode=mode, acc_bits=acc_bits,
                           mult_bits=mult_bits, mult_path=folder / "q_multiplier.mem",
                           shift_path=folder / "q_shift.mem", zp_out=case["zp"],
                           act_min=case["lo"], act_max=case["hi"]),
                   folder, "requant_prop", testbench=False)
    rng = np.random.default_rng(seed)
    rows, sent = [], []
    for a, c in zip(case["accs"], case["chans"]):
        while rng.random() < 0.25:
            rows.append((0, 0, 0))
        sent.append(len(rows))
        rows.append((1, a, c))
    rows += [(0, 0, 0)] * (LATENCY + 2)
    out = block_sim.run(folder / "requant_prop.v", "requant_prop",
                        [("s_valid", 1), ("s_data", acc_bits), ("s_chan", chan_bits)],
                        [("m_valid", 1, False), ("m_data", 8, True)], rows)
    at = np.flatnonzero(out["m_valid"])
    return out["m_data"][at].tolist(), [int(t) - s for t, s in zip(at, sent)]


def check_verilator(tmp_path, mode, case):
    got, clocks = verilator_requant(tmp_path, mode, case)
    assert got == expected(mode, case["accs"], case["chans"], case["mults"], case["shifts"],
                           case["zp"], case["lo"], case["hi"]), case
    # the harness reads after each rising edge: a beat applied before edge i leaves after
    # edge i + LATENCY - 1, as the MyHDL test's LATENCY clocks between the two edges it sees
    assert clocks == [LATENCY - 1] * len(case["accs"])


@pytest.mark.parametrize("mode", ["gemmlowp", "round"])
@FEW
@given(data=st.data())
def test_requant_myhdl(tmp_path_factory, mode, data):
    case = data.draw(requant_case(mode))
    check_myhdl(tmp_path_factory.mktemp("rq"), mode, case)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["gemmlowp", "round"])
@MANY
@given(data=st.data())
def test_requant_myhdl_many(tmp_path_factory, mode, data):
    case = data.draw(requant_case(mode))
    check_myhdl(tmp_path_factory.mktemp("rq"), mode, case)


@pytest.mark.parametrize("mode", ["gemmlowp", "round"])
@VERILATOR_FEW
@given(data=st.data())
def test_requant_verilator(tmp_path_factory, mode, data):
    need_tools("verilator")
    case = data.draw(requant_case(mode, beats=200))
    check_verilator(tmp_path_factory.mktemp("rqv"), mode, case)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["gemmlowp", "round"])
@VERILATOR_MANY
@given(data=st.data())
def test_requant_verilator_many(tmp_path_factory, mode, data):
    need_tools("verilator")
    case = data.draw(requant_case(mode, beats=200))
    check_verilator(tmp_path_factory.mktemp("rqv"), mode, case)
