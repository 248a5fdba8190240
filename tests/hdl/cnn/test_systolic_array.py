"""systolic_array: every row's sum == the word's dot product, latency(L) enabled clocks after
lane 0's operands, with the lanes skewed one clock apart and random clocks with ``en`` low;
MyHDL and the converted Verilog in Icarus, linted by Verilator."""
import re

import numpy as np
import pytest
from myhdl import ConcatSignal, Signal, always_comb, block, instance, intbv

from cosim import icarus
from hdl.cnn import systolic_array as sa
from tests.hdl.helpers import clock, make_clk_rst, need_tools, run


@block
def flat(clk, en, x_bus, w_bus, s_bus, *, lanes: int, pe: int, zp_in: int):
    """The array with one bus per port kind (a converted top takes no lists)."""
    x = [x_bus((k + 1) * 8, k * 8) for k in range(lanes)]
    w = [w_bus((k + 1) * 8 * pe, k * 8 * pe) for k in range(lanes)]
    bits = sa.sum_bits(lanes - 1)
    sums = [Signal(intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1))) for _ in range(pe)]
    arr = sa.systolic_array(clk, en, x, w, sums, pe=pe, zp_in=zp_in)
    joined = ConcatSignal(*reversed(sums)) if pe > 1 else sums[0]

    @always_comb
    def out():
        s_bus.next = joined[bits * pe:]

    return arr, out


def simulate(tmp_path, xs, ws, zp_in, *, hold=0.0, hdl="myhdl", seed=0, gates=None):
    """xs: (N, L) int8 inputs, ws: (N, PE, L) int8 weights; returns the (N, PE) sums read
    ``latency`` enabled clocks after each word's lane-0 operands. ``hdl``: "myhdl", or
    "icarus" for the converted Verilog; ``gates``: for "icarus", a function (folder, name)
    that replaces ``name.v`` by a netlist and returns the cell libraries it needs."""
    n, lanes = xs.shape
    pe = ws.shape[1]
    bits = sa.sum_bits(lanes - 1)
    clk, _ = make_clk_rst()
    en = Signal(bool(0))
    x_bus, w_bus = Signal(intbv(0)[8 * lanes:]), Signal(intbv(0)[8 * pe * lanes:])
    s_bus = Signal(intbv(0)[bits * pe:])
    dut = flat(clk, en, x_bus, w_bus, s_bus, lanes=lanes, pe=pe, zp_in=zp_in)
    if hdl != "myhdl":
        icarus.convert(dut, tmp_path, "systolic_array_dut")
        libraries = gates(tmp_path, "systolic_array_dut") if gates else ()
        dut = icarus.cosimulation(tmp_path, "systolic_array_dut", libraries, clk=clk, en=en,
                                  x_bus=x_bus, w_bus=w_bus, s_bus=s_bus)
    rng = np.random.default_rng(seed)
    lat = sa.latency(lanes)
    got = []

    @instance
    def drive():
        step = 0  # enabled clocks so far: lane k shows word step - k
        while len(got) < n:
            on = rng.random() >= hold
            xv = wv = 0
            for k in range(lanes):
                j = step - k
                if 0 <= j < n:
                    xv |= (int(xs[j, k]) & 0xFF) << (8 * k)
                    for p in range(pe):
                        wv |= (int(ws[j, p, k]) & 0xFF) << (8 * (k * pe + p))
            x_bus.next, w_bus.next, en.next = xv, wv, on
            yield clk.posedge
            if on:
                step += 1
                j = step - lat  # the word whose sums the registers now hold
                if 0 <= j < n:
                    yield clk.negedge
                    word = int(s_bus)
                    row = []
                    for p in range(pe):
                        v = (word >> (bits * p)) & ((1 << bits) - 1)
                        row.append(v - (1 << bits) if v >> (bits - 1) else v)
                    got.append(row)

    run([dut, clock(clk), drive], lambda: len(got) >= n, clk, 20 * (n + lat) + 100)
    return np.array(got)


def want(xs, ws, zp_in):
    return np.einsum("npk,nk->np", ws.astype(np.int64), xs.astype(np.int64) - zp_in)


@pytest.mark.parametrize("lanes,pe,zp_in,hold", [
    (1, 1, 0, 0.0), (2, 3, -128, 0.0), (4, 2, 127, 0.3), (9, 4, -7, 0.2), (12, 1, 5, 0.5)])
def test_dot_products(tmp_path, lanes, pe, zp_in, hold):
    rng = np.random.default_rng(lanes * 10 + pe)
    n = 40
    xs = rng.integers(-128, 128, (n, lanes))
    ws = rng.integers(-128, 128, (n, pe, lanes))
    xs[0], ws[0] = -128 if zp_in > 0 else 127, -128  # the largest products
    got = simulate(tmp_path, xs, ws, zp_in, hold=hold, seed=lanes)
    np.testing.assert_array_equal(got, want(xs, ws, zp_in))


def test_converted_verilog(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(5)
    lanes, pe, zp_in = 5, 3, -20
    xs = rng.integers(-128, 128, (24, lanes))
    ws = rng.integers(-128, 128, (24, pe, lanes))
    got = simulate(tmp_path, xs, ws, zp_in, hold=0.3, hdl="icarus")
    np.testing.assert_array_equal(got, want(xs, ws, zp_in))
    text = (tmp_path / "systolic_array_dut.v").read_text()
    # one registered multiply per stage, and each product register feeds one add
    assert len(re.findall(r"_p <= \(\$signed\(.*\) \* ", text)) == lanes * pe
    # and its own operand register (a copy per row, named for synthesis to keep apart)
    assert len(re.findall(r"_xz_dup <= ", text)) == lanes * pe
    icarus.verilator_lint(tmp_path / "systolic_array_dut.v", "systolic_array_dut")


def test_bad_parameters():
    clk, _ = make_clk_rst()
    en = Signal(bool(0))
    x = [Signal(intbv(0)[8:]) for _ in range(2)]
    w = [Signal(intbv(0)[16:]) for _ in range(2)]
    sums = [Signal(intbv(0, min=-(1 << 17), max=1 << 17)) for _ in range(2)]
    with pytest.raises(ValueError, match="2 input lanes and 1 weight lanes"):
        sa.systolic_array(clk, en, x, w[:1], sums, pe=2, zp_in=0)
    with pytest.raises(ValueError, match="PE=3 needs 3 sums"):
        sa.systolic_array(clk, en, x, w, sums, pe=3, zp_in=0)
    with pytest.raises(ValueError, match="zp_in=200"):
        sa.systolic_array(clk, en, x, w, sums, pe=2, zp_in=200)
    narrow = [Signal(intbv(0, min=-(1 << 16), max=1 << 16)) for _ in range(2)]
    with pytest.raises(ValueError, match="sums need 18 bits"):
        sa.systolic_array(clk, en, x, w, narrow, pe=2, zp_in=0)
