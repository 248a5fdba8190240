"""CRC-16/CCITT-FALSE, one bit a clock (``model.capture.crc16``: polynomial 0x1021, initial
value 0xFFFF, no reflection, no final XOR).

Ports: ``clear`` (a clock high: ``crc`` back to 0xFFFF), ``load`` with ``byte`` (a clock high:
the byte enters, most significant bit first), ``crc`` the value so far and ``busy`` (high for
the 8 clocks a byte takes; ``load`` is ignored while busy). A byte of a UART (at least 20
clocks a byte) is folded in long before the next one::

    clk    _/~\\_/~\\_/~\\_ ... _/~\\_/~\\_
    load   _/~~~\\_______ ... __________
    busy   _____/~~~~~~~~ ... ~~~~\\_____    8 clocks
    crc    ======X=X=X=== ... =X=========    one bit of the byte a clock
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, concat, intbv

POLY = 0x1021


@block
def crc16(clk, rst, clear, load, byte, crc, busy):
    if len(byte) != 8 or len(crc) != 16:
        raise ValueError(f"crc16: byte is {len(byte)} bits (8), crc {len(crc)} (16)")
    sh = Signal(intbv(0)[8:])
    left = Signal(intbv(0, min=0, max=9))

    @always_comb
    def status():
        busy.next = left != 0

    @always_seq(clk.posedge, reset=rst)
    def step():
        if clear:
            crc.next = 0xFFFF
            left.next = 0
        elif left != 0:
            if crc[15] ^ sh[7]:
                crc.next = concat(crc[15:0], False) ^ POLY
            else:
                crc.next = concat(crc[15:0], False)
            sh.next = concat(sh[7:0], False)
            left.next = left - 1
        elif load:
            sh.next = byte
            left.next = 8

    return status, step
