"""crc16: the bit-serial CRC-16/CCITT-FALSE equals ``model.capture.crc16`` (binascii's) over
random bytes loaded with random gaps, with a clear between messages."""
import random

from myhdl import Signal, instance, intbv

from hdl.lib.crc16 import crc16
from model.capture import crc16 as reference
from tests.hdl.helpers import clock, make_clk_rst, run


def test_matches_the_reference():
    clk, rst = make_clk_rst()
    clear, load, busy = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    byte, crc = Signal(intbv(0)[8:]), Signal(intbv(0xFFFF)[16:])
    dut = crc16(clk, rst, clear, load, byte, crc, busy)
    rng = random.Random(3)
    messages = [b"123456789"] + [bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
                                 for _ in range(6)]
    got, state = [], {"done": False}

    @instance
    def drive():
        for _ in range(3):
            yield clk.posedge
        for message in messages:
            clear.next = 1
            yield clk.posedge
            clear.next = 0
            for value in message:
                load.next, byte.next = 1, value
                yield clk.posedge
                load.next = 0
                for _ in range(rng.randint(8, 12)):   # busy for 8 clocks
                    yield clk.posedge
            got.append(int(crc))
        state["done"] = True

    run([dut, clock(clk), drive], lambda: state["done"], clk, 20_000, rst=rst)
    assert got == [reference(m) for m in messages]
    assert got[0] == 0x29B1
