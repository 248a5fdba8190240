"""uart_tx: the line decoded like a receiver does (mid-bit samples) gives back every byte."""
import random

import pytest
from myhdl import Signal, instance, intbv

from cosim import icarus
from hdl.lib.stream import Stream
from hdl.lib.uart_tx import cycles_per_byte, divisor, uart_tx
from tests.hdl.helpers import clock, make_clk_rst, need_tools, run


def simulate(tmp_path, data, *, clk_hz, baud, gap=0.0, hdl="myhdl", seed=0):
    div = divisor(clk_hz, baud)
    clk, rst = make_clk_rst()
    s, tx = Stream(8, signed=False), Signal(bool(1))
    if hdl == "myhdl":
        dut = uart_tx(clk, rst, s, tx, clk_hz=clk_hz, baud=baud)
    else:
        icarus.convert(uart_tx(clk, rst, s, tx, clk_hz=clk_hz, baud=baud), tmp_path, "uart_dut")
        dut = icarus.cosimulation(tmp_path, "uart_dut", clk=clk, rst=rst, s_valid=s.valid,
                                  s_data=s.data, s_ready=s.ready, tx=tx)
    rng = random.Random(seed)
    got, starts = [], []
    finished = [False]

    @instance
    def drive():
        yield clk.posedge
        while rst:
            yield clk.posedge
        for byte in data:
            while rng.random() < gap:  # gaps up to 2.5 byte times: the line idles
                s.valid.next = 0
                for _ in range(rng.randrange(1, 25 * div)):
                    yield clk.posedge
            s.valid.next, s.data.next = 1, byte
            yield clk.posedge
            while not s.ready:
                yield clk.posedge
        s.valid.next = 0
        # the line must stay idle (high) after the last byte: a low would decode as a byte
        for _ in range(12 * 10 * div):
            yield clk.posedge
        finished[0] = True

    @instance
    def receive():
        """A receiver: find the falling edge of a start bit, sample every bit mid-way."""
        cycle = 0
        prev = 1
        while True:
            yield clk.posedge
            cycle += 1
            if prev and not tx:
                start = cycle
                for _ in range(div // 2):
                    yield clk.posedge
                    cycle += 1
                assert not tx, "start bit too short"
                value = 0
                for bit in range(8):
                    for _ in range(div):
                        yield clk.posedge
                        cycle += 1
                    value |= int(tx) << bit
                for _ in range(div):
                    yield clk.posedge
                    cycle += 1
                assert tx, "no stop bit"
                got.append(value)
                starts.append(start)
            prev = int(tx)

    run([dut, clock(clk), drive, receive], lambda: finished[0], clk,
        (len(data) + 14) * 10 * div * (4 if gap else 1) + 100, rst=rst)
    return got, starts


@pytest.mark.parametrize("clk_hz,baud", [(50e6, 921_600), (12e6, 115_200), (1e6, 100_000)])
def test_bytes_come_back(tmp_path, clk_hz, baud):
    data = [0x00, 0xFF, 0x55, 0xAA, 0x01, 0x80] + random.Random(1).choices(range(256), k=20)
    got, starts = simulate(tmp_path, data, clk_hz=clk_hz, baud=baud)
    assert got == data
    # back to back: one byte every 10 bit times, no idle bit between them
    assert {b - a for a, b in zip(starts, starts[1:])} == {cycles_per_byte(clk_hz, baud)}


def test_gaps_between_bytes(tmp_path):
    data = list(range(0, 256, 7))
    got, _ = simulate(tmp_path, data, clk_hz=1e6, baud=100_000, gap=0.5, seed=3)
    assert got == data


def test_converted_verilog_in_icarus(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    data = [0x41, 0x00, 0xFF, 0x3C, 0x7E]
    got, _ = simulate(tmp_path, data, clk_hz=1e6, baud=125_000, gap=0.3, hdl="icarus")
    assert got == data
    icarus.verilator_lint(tmp_path / "uart_dut.v", "uart_dut")


def test_bad_baud_rates():
    with pytest.raises(ValueError, match="3.5% off 115200"):
        divisor(1e6, 115_200)  # 1 MHz / 9 = 111,111 baud
    with pytest.raises(ValueError, match="too fast"):
        divisor(1e6, 1e6)
    clk, rst = make_clk_rst()
    with pytest.raises(ValueError, match="must be positive"):
        uart_tx(clk, rst, Stream(8, signed=False), Signal(bool(1)), clk_hz=50e6, baud=0)
