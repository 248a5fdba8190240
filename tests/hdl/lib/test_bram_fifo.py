"""bram_fifo: order, run-ahead capacity, one word per clock; converted Verilog."""
import numpy as np
import pytest
from myhdl import instance

from cosim import icarus
from hdl.lib.bram_fifo import bram_fifo
from hdl.lib.stream import Stream, source
from tests.hdl.helpers import clock, make_clk_rst, need_tools, run, stream_run, taken


def simulate(tmp_path, values, depth, bits=8, **kw):
    s, m = Stream(bits), Stream(bits)
    return stream_run(tmp_path, lambda clk, rst: bram_fifo(clk, rst, s, m, depth=depth),
                      "bram_fifo_dut", s, m, values, len(values), **kw)


@pytest.mark.parametrize("depth", [2, 3, 7])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.5, 0.2), (0.2, 0.6)])
def test_order_under_gaps_and_stalls(tmp_path, depth, gap, stall):
    values = np.random.default_rng(depth).integers(-128, 128, 60)
    t_in = []
    out, when = simulate(tmp_path, values, depth, gap=gap, stall=stall, seed=depth,
                         in_cycles=t_in)
    assert out == list(values)
    if gap == 0 and stall == 0:
        assert np.all(np.diff(when) == 1)  # one word per clock
        # three clocks through, as the cycle models take it (hdl.cnn.config.through_fifo)
        from hdl.cnn.config import through_fifo

        assert when == through_fifo(t_in, 1)


@pytest.mark.parametrize("depth", [2, 5, 16])
def test_run_ahead_capacity(depth):
    """With the output held, the FIFO takes exactly depth words + the ones in its read and output
    registers."""
    clk, rst = make_clk_rst()
    s, m = Stream(8), Stream(8)
    t_in = []
    parts = [bram_fifo(clk, rst, s, m, depth=depth), clock(clk),  # m.ready stays low
             source(clk, s, range(100), rst=rst), taken(clk, s, t_in)]
    cycles = {"n": 0}

    @instance
    def watch():
        while True:
            yield clk.posedge
            cycles["n"] += 1

    run(parts + [watch], lambda: cycles["n"] >= 3 * depth + 20, clk, 10 * depth + 100, rst=rst)
    assert len(t_in) == depth + 2


def test_converted_verilog_in_icarus(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    values = np.random.default_rng(1).integers(-2048, 2048, 80)
    out, _ = simulate(tmp_path, values, 5, bits=12, gap=0.4, stall=0.4, hdl="icarus")
    assert out == list(values)
    icarus.verilator_lint(tmp_path / "bram_fifo_dut.v", "bram_fifo_dut")


def test_bad_parameters():
    clk, rst = make_clk_rst()
    with pytest.raises(ValueError, match="depth=1"):
        bram_fifo(clk, rst, Stream(8), Stream(8), depth=1)
    with pytest.raises(ValueError, match="needs 8"):
        bram_fifo(clk, rst, Stream(8), Stream(9), depth=4)
