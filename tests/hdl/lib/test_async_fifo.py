"""async_fifo: every word crosses between two unrelated clocks, in order, none lost or
repeated, with random gaps on the writer and stalls on the reader."""
import random

import pytest
from myhdl import (
    ResetSignal,
    Signal,
    Simulation,
    StopSimulation,
    always,
    delay,
    instance,
)

from cosim import icarus
from hdl.lib.async_fifo import async_fifo
from hdl.lib.stream import Stream
from tests.hdl.helpers import need_tools


def simulate(tmp_path, words, *, depth, wperiod, rperiod, gap, stall, hdl="myhdl", seed=0):
    wclk, rclk = Signal(bool(0)), Signal(bool(0))
    wrst = ResetSignal(1, active=1, isasync=False)
    rrst = ResetSignal(1, active=1, isasync=False)
    s, m = Stream(12, signed=False), Stream(12, signed=False)
    if hdl == "myhdl":
        dut = async_fifo(wclk, wrst, s, rclk, rrst, m, depth=depth)
    else:
        icarus.convert(async_fifo(wclk, wrst, s, rclk, rrst, m, depth=depth), tmp_path,
                       "afifo_dut")
        dut = icarus.cosimulation(tmp_path, "afifo_dut", wclk=wclk, wrst=wrst,
                                  s_valid=s.valid, s_data=s.data, s_ready=s.ready, rclk=rclk,
                                  rrst=rrst, m_valid=m.valid, m_data=m.data, m_ready=m.ready)
    rng = random.Random(seed)
    got = []
    level = {"max": 0, "sent": 0}

    @always(delay(wperiod // 2))
    def wtick():
        wclk.next = not wclk

    @always(delay(rperiod // 2))
    def rtick():
        rclk.next = not rclk

    @instance
    def writer():
        for _ in range(3):
            yield wclk.posedge
        wrst.next = 0
        for word in words:
            while rng.random() < gap:
                s.valid.next = 0
                yield wclk.posedge
            s.valid.next, s.data.next = 1, word
            yield wclk.posedge
            while not s.ready:
                yield wclk.posedge
            level["sent"] += 1
        s.valid.next = 0

    @instance
    def reader():
        for _ in range(3):
            yield rclk.posedge
        rrst.next = 0
        while True:
            m.ready.next = rng.random() >= stall
            yield rclk.posedge
            if m.valid and m.ready:
                got.append(int(m.data))
                level["max"] = max(level["max"], level["sent"] - len(got))

    @instance
    def stop():
        limit = (len(words) + 50) * max(wperiod, rperiod) * 4
        t = 0
        while len(got) < len(words) and t < limit:
            yield delay(max(wperiod, rperiod))
            t += max(wperiod, rperiod)
        # nothing more comes out afterwards
        for _ in range(20):
            yield rclk.posedge
        raise StopSimulation()

    Simulation(dut, wtick, rtick, writer, reader, stop).run(quiet=1)
    return got, level["max"]


@pytest.mark.parametrize("wperiod,rperiod,gap,stall", [
    (10, 38, 0.0, 0.0),   # fast writer: the FIFO fills, s.ready holds it off
    (38, 10, 0.0, 0.0),   # fast reader: the FIFO runs empty
    (14, 22, 0.3, 0.4),   # both random
])
def test_every_word_crosses_in_order(tmp_path, wperiod, rperiod, gap, stall):
    words = [random.Random(7).randrange(4096) for _ in range(300)]
    got, most = simulate(tmp_path, words, depth=8, wperiod=wperiod, rperiod=rperiod, gap=gap,
                         stall=stall)
    assert got == words
    assert most <= 8 + 1  # never more in flight than the FIFO holds (+1 being read)


def test_converted_verilog_in_icarus(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    words = list(range(0, 4096, 37))
    got, _ = simulate(tmp_path, words, depth=4, wperiod=10, rperiod=26, gap=0.2, stall=0.3,
                      hdl="icarus")
    assert got == words
    icarus.verilator_lint(tmp_path / "afifo_dut.v", "afifo_dut")


def test_bad_depth():
    clk, rst = Signal(bool(0)), ResetSignal(0, active=1, isasync=False)
    for depth in (2, 6):
        with pytest.raises(ValueError, match=f"depth={depth}"):
            async_fifo(clk, rst, Stream(8), clk, rst, Stream(8), depth=depth)
