"""UART transmitter: bytes from a stream, 8N1, least significant bit first.

Input ``s``: one unsigned byte per beat (valid/ready, hdl/lib/stream.py); ``s.ready`` is high while
the transmitter is idle. Output ``tx``: the serial line, high when idle; each byte is a start
bit (low), 8 data bits LSB first and a stop bit (high), every bit ``divisor`` clocks long.

Parameters: ``clk_hz`` and ``baud``. ``divisor = round(clk_hz / baud)``; a divisor whose baud
rate is off by more than 2 % (``MAX_ERROR``; a UART receiver samples mid-bit, so the error
over 10 bits must stay well below half a bit) is refused at elaboration.

Timing: a byte taken on clock t drives its start bit from t+1; the next byte can be taken on
the last clock of the stop bit, so back-to-back bytes leave with no idle time between them:
``10 * divisor`` clocks per byte (``cycles_per_byte``)::

    clk    _/~\\_/~\\_/~\\_ ... _/~\\_/~\\_
    valid  _/~~~\\__________________
    tx     ~~~~~~\\____start____/ d0 ...
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, intbv

from .stream import check_stream

MAX_ERROR = 0.02


def divisor(clk_hz: float, baud: float) -> int:
    if baud <= 0 or clk_hz <= 0:
        raise ValueError(f"uart_tx: clk_hz={clk_hz} and baud={baud} must be positive")
    div = round(clk_hz / baud)
    if div < 2:
        raise ValueError(f"uart_tx: baud={baud:g} is too fast for a {clk_hz:g} Hz clock")
    error = abs(clk_hz / div - baud) / baud
    if error > MAX_ERROR:
        raise ValueError(f"uart_tx: {clk_hz:g} Hz / {div} = {clk_hz / div:.0f} baud is "
                         f"{error:.1%} off {baud:g} (at most {MAX_ERROR:.0%})")
    return div


def cycles_per_byte(clk_hz: float, baud: float) -> int:
    return 10 * divisor(clk_hz, baud)


@block
def uart_tx(clk, rst, s, tx, *, clk_hz: float, baud: float):
    div = divisor(clk_hz, baud)
    check_stream("s", s, bits=8, ready=True, signed=False)
    shift = Signal(intbv(0x3FF)[10:])     # stop, d7..d0, start: bit 0 leaves first
    bits_left = Signal(intbv(0, min=0, max=11))
    count = Signal(intbv(0, min=0, max=div))
    free = Signal(bool(0))
    take = Signal(bool(0))

    @always_comb
    def idle():  # idle, or on the last clock of the stop bit
        free.next = bits_left == 0 or (bits_left == 1 and count == div - 1)

    @always_comb
    def handshake():
        s.ready.next = free
        take.next = s.valid and free

    @always_comb
    def line():
        tx.next = shift[0]

    @always_seq(clk.posedge, reset=rst)
    def serializer():
        if take:
            shift.next = (1 << 9) | (s.data << 1)
            bits_left.next = 10
            count.next = 0
        elif bits_left != 0:
            if count == div - 1:
                count.next = 0
                shift.next = (shift >> 1) | (1 << 9)
                bits_left.next = bits_left - 1
            else:
                count.next = count + 1

    return idle, handshake, line, serializer
