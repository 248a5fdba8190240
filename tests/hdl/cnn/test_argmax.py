"""argmax == golden.argmax (ties to the lowest index), gaps, stalls, MyHDL and Icarus."""
import numpy as np
import pytest

from cosim import icarus
from hdl.cnn.argmax import LATENCY, argmax, cycles, index_bits
from hdl.lib.stream import Stream, sink, source
from model import golden, presets
from tests.hdl.helpers import clock, make_clk_rst, need_tools, run, taken


def simulate(tmp_path, logits, *, gap=0.0, stall=0.0, hdl="myhdl", seed=0):
    images, n = logits.shape
    clk, rst = make_clk_rst()
    s, m = Stream(8), Stream(index_bits(n), signed=False)
    if hdl == "myhdl":
        dut = argmax(clk, rst, s, m, n=n)
    else:
        icarus.convert(argmax(clk, rst, s, m, n=n), tmp_path, "argmax_dut")
        dut = icarus.cosimulation(tmp_path, "argmax_dut", clk=clk, rst=rst, s_valid=s.valid,
                                  s_data=s.data, s_ready=s.ready, m_valid=m.valid,
                                  m_data=m.data, m_ready=m.ready)
    out, when, took = [], [], []
    parts = [dut, clock(clk), source(clk, s, logits.ravel(), gap=gap, seed=seed, rst=rst),
             sink(clk, m, out, stall=stall, seed=seed + 1, cycles=when), taken(clk, s, took)]
    run(parts, lambda: len(out) >= images, clk, 10 * logits.size + 100, rst=rst)
    return np.array(out), when, took


@pytest.mark.parametrize("n", [1, 2, 10, 13])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.4, 0.5)])
def test_random_with_ties(tmp_path, n, gap, stall):
    rng = np.random.default_rng(n)
    logits = rng.integers(-3, 3, (40, n)).astype(np.int8)  # narrow range: many ties
    logits[0] = -128
    logits[1] = 127
    got, *_ = simulate(tmp_path, logits, gap=gap, stall=stall)
    np.testing.assert_array_equal(got, golden.argmax(logits))


def test_real_logits(tmp_path, nets, digits):
    net = nets["digits_cnn"]
    p = presets.get("digits_cnn")
    logits = golden.run_network(net, net.quantize_input(p.to_float(digits.test.x[:30]))).logits
    got, *_ = simulate(tmp_path, logits, gap=0.2, stall=0.2)
    np.testing.assert_array_equal(got, golden.argmax(logits))


def test_cycle_model(tmp_path):
    logits = np.zeros((4, 10), np.int8)
    _, when, took = simulate(tmp_path, logits)
    assert np.diff(when).tolist() == [cycles(10)] * 3
    assert [w - t for w, t in zip(when, took[9::10])] == [LATENCY] * 4


def test_converted_verilog_in_icarus(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(1)
    logits = rng.integers(-2, 2, (25, 10)).astype(np.int8)
    got, *_ = simulate(tmp_path, logits, gap=0.3, stall=0.3, hdl="icarus")
    np.testing.assert_array_equal(got, golden.argmax(logits))
    icarus.verilator_lint(tmp_path / "argmax_dut.v", "argmax_dut")


def test_bad_parameters():
    clk, rst = make_clk_rst()
    with pytest.raises(ValueError, match="n=0"):
        argmax(clk, rst, Stream(8), Stream(1, signed=False), n=0)
    with pytest.raises(ValueError, match="data is 3 bits"):
        argmax(clk, rst, Stream(8), Stream(3, signed=False), n=10)
