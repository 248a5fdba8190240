"""uart_rx: bytes sent on the line (at the receiver's baud rate or 1.5 % off it) come back;
glitches and framing errors give no byte."""
import random

import pytest
from myhdl import Signal, instance

from cosim import icarus
from hdl.lib.stream import Stream
from hdl.lib.uart_rx import uart_rx
from hdl.lib.uart_tx import divisor
from tests.hdl.helpers import clock, make_clk_rst, need_tools, play_levels, run

CLK_HZ, BAUD = 1e6, 100_000


def simulate(tmp_path, line, *, hdl="myhdl"):
    """Play ``line`` (a list of (level, clocks)) on rx; return the bytes received."""
    clk, rst = make_clk_rst()
    rx, m = Signal(bool(1)), Stream(8, signed=False, ready=False)
    if hdl == "myhdl":
        dut = uart_rx(clk, rst, rx, m, clk_hz=CLK_HZ, baud=BAUD)
    else:
        icarus.convert(uart_rx(clk, rst, rx, m, clk_hz=CLK_HZ, baud=BAUD), tmp_path, "rx_dut")
        dut = icarus.cosimulation(tmp_path, "rx_dut", clk=clk, rst=rst, rx=rx,
                                  m_valid=m.valid, m_data=m.data)
    got, finished = [], [False]

    @instance
    def drive():
        yield from play_levels(clk, rx, line)
        rx.next = 1
        for _ in range(30 * divisor(CLK_HZ, BAUD)):
            yield clk.posedge
        finished[0] = True

    @instance
    def receive():
        while True:
            yield clk.posedge
            if m.valid:
                got.append(int(m.data))

    total = sum(c for _, c in line) + 40 * divisor(CLK_HZ, BAUD)
    run([dut, clock(clk), drive, receive], lambda: finished[0], clk, total, rst=rst)
    return got


def frame(byte, bit_clocks, stop=1, idle=0):
    """One 8N1 character as (level, clocks) pieces; ``bit_clocks`` may be fractional."""
    levels = [0] + [(byte >> i) & 1 for i in range(8)] + [stop]
    out, t = [], 0.0
    for level in levels:
        start, t = round(t), t + bit_clocks
        out.append((level, round(t) - start))
    return out + ([(1, idle)] if idle else [])


@pytest.mark.parametrize("error", [0.0, -0.015, 0.015])
def test_bytes_arrive(tmp_path, error):
    data = [0x00, 0xFF, 0x55, 0xAA, ord("c"), ord("t")] + random.Random(2).choices(range(256), k=12)
    bit = divisor(CLK_HZ, BAUD) * (1 + error)
    rng = random.Random(5)
    line = [piece for b in data for piece in frame(b, bit, idle=rng.choice([0, 0, 3, 25]))]
    assert simulate(tmp_path, line) == data


def test_glitch_and_framing_error_give_nothing(tmp_path):
    div = divisor(CLK_HZ, BAUD)
    line = ([(0, div // 3), (1, 2 * div)]           # a low shorter than half a bit
            + frame(0x42, div, stop=0, idle=0)      # stop bit low: dropped
            + [(1, 3 * div)] + frame(0x37, div))    # the line recovers
    assert simulate(tmp_path, line) == [0x37]


def test_converted_verilog_in_icarus(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    div = divisor(CLK_HZ, BAUD)
    data = [0x63, 0x00, 0xFF, 0x74]
    line = [piece for b in data for piece in frame(b, div, idle=div)]
    assert simulate(tmp_path, line, hdl="icarus") == data
    icarus.verilator_lint(tmp_path / "rx_dut.v", "rx_dut")
