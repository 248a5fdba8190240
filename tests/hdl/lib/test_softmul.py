"""softmul == a * b, LATENCY clocks later, in MyHDL and as converted Verilog in Icarus."""
import numpy as np
import pytest
from myhdl import Signal, instance, intbv

from cosim import icarus
from hdl.lib.softmul import LATENCY, depth, softmul
from tests.hdl.helpers import clock, make_clk_rst, need_tools, run


def simulate(tmp_path, pairs, a_bits, b_bits, hdl="myhdl", dsp_bits=0):
    clk, rst = make_clk_rst()
    a, b = Signal(intbv(0)[a_bits:]), Signal(intbv(0)[b_bits:])
    p = Signal(intbv(0)[a_bits + b_bits:])
    if hdl == "myhdl":
        dut = softmul(clk, a, b, p, a_bits=a_bits, b_bits=b_bits, dsp_bits=dsp_bits)
    else:
        icarus.convert(softmul(clk, a, b, p, a_bits=a_bits, b_bits=b_bits, dsp_bits=dsp_bits),
                       tmp_path, "softmul_dut")
        dut = icarus.cosimulation(tmp_path, "softmul_dut", clk=clk, a=a, b=b, p=p)
    got = []
    lat = depth(a_bits, dsp_bits)
    assert 1 <= lat <= LATENCY

    @instance
    def drive():
        for cycle, (x, y) in enumerate(pairs + [(0, 0)] * (lat + 1)):
            a.next, b.next = x, y
            yield clk.posedge
            if cycle >= lat:  # the product of the pair presented `depth` clocks before
                got.append(int(p))

    run([dut, clock(clk), drive], lambda: len(got) >= len(pairs), clk, len(pairs) + 50)
    return got[: len(pairs)]


@pytest.mark.parametrize("a_bits,b_bits,dsp_bits", [
    (1, 5, 0), (7, 31, 0), (18, 31, 0), (20, 38, 0), (32, 32, 0),
    (18, 31, 16), (12, 31, 16), (32, 31, 16), (17, 20, 1)])
def test_products_myhdl(tmp_path, a_bits, b_bits, dsp_bits):
    rng = np.random.default_rng(a_bits * 100 + b_bits)
    amax, bmax = (1 << a_bits) - 1, (1 << b_bits) - 1
    pairs = [(amax, bmax), (0, bmax), (amax, 0), (1, 1)]
    pairs += [(int(x), int(y)) for x, y in zip(rng.integers(0, amax, 200, endpoint=True),
                                               rng.integers(0, bmax, 200, endpoint=True))]
    assert simulate(tmp_path, pairs, a_bits, b_bits, dsp_bits=dsp_bits) == [x * y for x, y in pairs]


def test_converted_verilog_has_no_multiply_and_matches(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(3)
    pairs = [((1 << 19) - 1, (1 << 31) - 1)]
    pairs += [(int(x), int(y)) for x, y in zip(rng.integers(0, 1 << 19, 60),
                                               rng.integers(0, 1 << 31, 60))]
    assert simulate(tmp_path, pairs, 19, 31, hdl="icarus") == [x * y for x, y in pairs]
    text = (tmp_path / "softmul_dut.v").read_text()
    assert " * " not in text  # Yosys cannot turn it into DSPs
    icarus.verilator_lint(tmp_path / "softmul_dut.v", "softmul_dut")


def test_converted_hybrid_matches(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(4)
    pairs = [((1 << 18) - 1, (1 << 31) - 1)]
    pairs += [(int(x), int(y)) for x, y in zip(rng.integers(0, 1 << 18, 60),
                                               rng.integers(0, 1 << 31, 60))]
    got = simulate(tmp_path, pairs, 18, 31, hdl="icarus", dsp_bits=16)
    assert got == [x * y for x, y in pairs]
    assert " * " in (tmp_path / "softmul_dut.v").read_text()
    icarus.verilator_lint(tmp_path / "softmul_dut.v", "softmul_dut")


def test_bad_parameters():
    clk, _ = make_clk_rst()
    a, b, p = Signal(intbv(0)[33:]), Signal(intbv(0)[4:]), Signal(intbv(0)[40:])
    with pytest.raises(ValueError, match="a_bits=33"):
        softmul(clk, a, b, p, a_bits=33, b_bits=4)
    with pytest.raises(ValueError, match="dsp_bits=8 must be 0 or leave"):
        softmul(clk, Signal(intbv(0)[32:]), b, p, a_bits=32, b_bits=4, dsp_bits=8)
    with pytest.raises(ValueError, match="p has 8 bits"):
        softmul(clk, Signal(intbv(0)[5:]), b, Signal(intbv(0)[8:]), a_bits=5, b_bits=4)
