"""skid_buffer: clock by clock what a two-place queue with registered outputs shows (a beat
out one clock after it is taken, in order, s.ready low only while a beat waits in the skid
register), under random gaps and stalls; ``full_next`` is the next clock's not s.ready; one beat
a clock when nothing stalls; MyHDL and the converted Verilog."""
import random
from collections import deque

import pytest
from myhdl import Signal, block, instance

from cosim import icarus
from hdl.lib.skid_buffer import skid_buffer
from hdl.lib.stream import Stream
from tests.hdl.helpers import clock, make_clk_rst, need_tools, run


@block
def skid_dut(clk, rst, s, m, full_next):
    """The skid buffer with ``full_next`` a port of the converted module."""
    return skid_buffer(clk, rst, s, m, full_next=full_next)


def simulate(tmp_path, *, rate, stall, clocks=400, bits=8, hdl="myhdl", seed=0):
    """Check every clock against the queue's model; return (values out, their clocks)."""
    clk, rst = make_clk_rst()
    s, m = Stream(bits), Stream(bits)
    full_next = Signal(bool(0))
    dut = skid_dut(clk, rst, s, m, full_next)
    if hdl != "myhdl":
        icarus.convert(dut, tmp_path, "skid_dut")
        dut = icarus.cosimulation(tmp_path, "skid_dut", clk=clk, rst=rst, s_valid=s.valid,
                                  s_ready=s.ready, s_data=s.data, m_valid=m.valid,
                                  m_data=m.data, m_ready=m.ready, full_next=full_next)
    rng = random.Random(seed)
    lo, hi = -(1 << (bits - 1)), 1 << (bits - 1)
    inside, out, when, state = deque(), [], [], {"clock": 0, "ahead": True}

    @instance
    def drive_and_check():
        s.valid.next = 0
        m.ready.next = 0
        yield clk.posedge
        while rst == rst.active:
            yield clk.posedge
        while True:
            offer = rng.random() < rate
            value = rng.randrange(lo, hi)
            s.valid.next = offer
            s.data.next = value
            m.ready.next = rng.random() >= stall
            yield clk.negedge
            # what the registers show: the model's beats, and ready unless two are inside
            assert bool(m.valid) == bool(inside), f"clock {state['clock']}: valid"
            assert bool(s.ready) == (len(inside) < 2), f"clock {state['clock']}: ready"
            assert bool(s.ready) == state["ahead"], f"clock {state['clock']}: full_next"
            state["ahead"] = not full_next
            if m.valid:
                assert int(m.data) == inside[0], f"clock {state['clock']}: data"
            taken, given = bool(s.valid and s.ready), bool(m.valid and m.ready)
            yield clk.posedge
            state["clock"] += 1
            if given:
                out.append(inside.popleft())
                when.append(state["clock"])
            if taken:
                inside.append(value)

    run([dut, clock(clk), drive_and_check], lambda: state["clock"] >= clocks, clk, clocks + 50,
        rst=rst)
    return out, when


@pytest.mark.parametrize("rate,stall", [(1.0, 0.0), (0.7, 0.3), (0.9, 0.7), (0.3, 0.1),
                                        (1.0, 0.5)])
def test_two_registers_clock_by_clock(tmp_path, rate, stall):
    out, when = simulate(tmp_path, rate=rate, stall=stall, seed=int(10 * rate + 100 * stall))
    assert len(out) > 50
    if rate == 1.0 and stall == 0.0:
        assert when == list(range(when[0], when[0] + len(when)))  # one value a clock


def test_converted_verilog_in_icarus(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    out, _ = simulate(tmp_path, rate=0.8, stall=0.5, bits=12, hdl="icarus", seed=3)
    assert len(out) > 50
    icarus.verilator_lint(tmp_path / "skid_dut.v", "skid_dut")


def test_bad_parameters():
    clk, rst = make_clk_rst()
    with pytest.raises(ValueError, match="m: data is 9 bits, the block needs 8"):
        skid_buffer(clk, rst, Stream(8), Stream(9))
