"""fifo: clock by clock what an ideal FIFO shows (valid exactly when a value is inside, the
oldest value on data, a value out one clock after it came in), with the writer keeping to its
credits, under random pushes and stalls; MyHDL and the converted Verilog."""
import random
from collections import deque

import pytest
from myhdl import instance

from cosim import icarus
from hdl.lib.fifo import fifo
from hdl.lib.stream import Stream
from tests.hdl.helpers import clock, make_clk_rst, need_tools, run


def simulate(tmp_path, depth, *, push_rate, stall, clocks=400, bits=8, hdl="myhdl", seed=0):
    """Check every clock against a deque; return (values out, clocks with a value out)."""
    clk, rst = make_clk_rst()
    s, m = Stream(bits, ready=False), Stream(bits)
    if hdl == "myhdl":
        dut = fifo(clk, rst, s, m, depth=depth)
    else:
        icarus.convert(fifo(clk, rst, s, m, depth=depth), tmp_path, "fifo_dut")
        dut = icarus.cosimulation(tmp_path, "fifo_dut", clk=clk, rst=rst, s_valid=s.valid,
                                  s_data=s.data, m_valid=m.valid, m_data=m.data,
                                  m_ready=m.ready)
    rng = random.Random(seed)
    lo, hi = -(1 << (bits - 1)), 1 << (bits - 1)
    inside, out, when, state = deque(), [], [], {"clock": 0}

    @instance
    def drive_and_check():
        s.valid.next = 0
        m.ready.next = 0
        yield clk.posedge
        while rst == rst.active:
            yield clk.posedge
        while True:
            # a credit for every free slot: push only while fewer than depth values are inside
            push = len(inside) < depth and rng.random() < push_rate
            value = rng.randrange(lo, hi)
            s.valid.next = push
            s.data.next = value
            m.ready.next = rng.random() >= stall
            yield clk.posedge
            state["clock"] += 1
            assert bool(m.valid) == bool(inside), f"clock {state['clock']}: valid"
            if m.valid:
                assert int(m.data) == inside[0], f"clock {state['clock']}: data"
                if m.ready:
                    out.append(inside.popleft())
                    when.append(state["clock"])
            if push:
                inside.append(value)

    run([dut, clock(clk), drive_and_check], lambda: state["clock"] >= clocks, clk, clocks + 50,
        rst=rst)
    return out, when


@pytest.mark.parametrize("depth", [2, 3, 16])
@pytest.mark.parametrize("push_rate,stall", [(1.0, 0.0), (0.7, 0.3), (0.9, 0.7), (0.3, 0.1)])
def test_an_ideal_fifo_clock_by_clock(tmp_path, depth, push_rate, stall):
    out, when = simulate(tmp_path, depth, push_rate=push_rate, stall=stall, seed=depth)
    assert len(out) > 50
    if push_rate == 1.0 and stall == 0.0:
        assert when == list(range(when[0], when[0] + len(when)))  # one value a clock


def test_overflow_stops_the_simulation():
    clk, rst = make_clk_rst()
    s, m = Stream(8, ready=False), Stream(8)

    @instance
    def flood():  # pushes every clock, never reads
        m.ready.next = 0
        s.valid.next = 0
        yield clk.posedge
        while rst == rst.active:
            yield clk.posedge
        s.valid.next = 1

    with pytest.raises(AssertionError, match="fifo overflow"):
        run([fifo(clk, rst, s, m, depth=4), clock(clk), flood], lambda: False, clk, 40, rst=rst)


def test_converted_verilog_in_icarus(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    out, _ = simulate(tmp_path, 5, push_rate=0.8, stall=0.5, bits=12, hdl="icarus", seed=3)
    assert len(out) > 50
    icarus.verilator_lint(tmp_path / "fifo_dut.v", "fifo_dut")


def test_bad_parameters():
    clk, rst = make_clk_rst()
    with pytest.raises(ValueError, match="depth=1"):
        fifo(clk, rst, Stream(8, ready=False), Stream(8), depth=1)
    with pytest.raises(ValueError, match="m: data is 9 bits, the block needs 8"):
        fifo(clk, rst, Stream(8, ready=False), Stream(9), depth=4)
