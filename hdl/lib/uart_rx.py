"""UART receiver: 8N1 bytes from the serial line, least significant bit first.

Input ``rx``: the line (asynchronous to ``clk``, high when idle; two flip-flops synchronize it).
Output ``m``: one unsigned byte per beat, ``valid`` for one clock (no ``ready``: a UART cannot
wait). Parameters ``clk_hz`` and ``baud`` as for ``uart_tx`` (``uart_tx.divisor``).

A falling edge starts a byte; the start bit is checked half a bit later (a shorter low is a
glitch and is ignored), then each data bit and the stop bit are sampled in their middles,
``divisor`` clocks apart. A byte whose stop bit is low (a framing error, or a break) is
dropped. The byte is on ``m`` 2 (synchronizer) + 9.5 bit times after its falling edge::

    rx     ~~~\\_start_/ d0 / d1 ... / d7 /~stop~~
    sample        ^      ^    ^         ^    ^ -> m.valid
"""
from __future__ import annotations

from myhdl import Signal, always_seq, block, concat, enum, intbv

from .stream import check_stream
from .uart_tx import divisor


@block
def uart_rx(clk, rst, rx, m, *, clk_hz: float, baud: float):
    div = divisor(clk_hz, baud)
    check_stream("m", m, bits=8, ready=False, signed=False)
    State = enum("IDLE", "START", "DATA", "STOP")
    state = Signal(State.IDLE)
    rx_q1, rx_q2 = Signal(bool(1)), Signal(bool(1))
    count = Signal(intbv(0, min=0, max=div))
    bits = Signal(intbv(0, min=0, max=8))
    shift = Signal(intbv(0)[8:])

    @always_seq(clk.posedge, reset=rst)
    def receive():
        rx_q1.next = rx
        rx_q2.next = rx_q1
        m.valid.next = 0
        if state == State.IDLE:
            if not rx_q2:
                count.next = 0
                state.next = State.START
        elif (state == State.START and count != div // 2) or \
                (state != State.START and count != div - 1):
            count.next = count + 1
        else:
            count.next = 0
            if state == State.START:
                state.next = State.DATA if not rx_q2 else State.IDLE
                bits.next = 0
            elif state == State.DATA:
                shift.next = concat(rx_q2, shift[8:1])  # LSB first: shift in from the top
                if bits == 7:
                    state.next = State.STOP
                else:
                    bits.next = bits + 1
            else:  # State.STOP
                if rx_q2:
                    m.data.next = shift
                    m.valid.next = 1
                state.next = State.IDLE

    return receive
