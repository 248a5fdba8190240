"""Result reporter: one text line per classified frame, as bytes for ``uart_tx``.

Input ``s`` (valid/ready): a result word ``{bad[8], frame[16], digit[4]}`` (``pack``); ``s.ready``
is high while no line is being written, so a result that arrives mid-line is simply not
reported in text (the display still shows it). Output ``m``: ASCII bytes (valid/ready)::

    digit=7 frame=123 bad=0\\r\\n

Numbers are decimal without leading zeros. A line template (``TEMPLATE``: literal characters
and field codes) is walked one entry per byte; each number is converted by repeated
subtraction of 10000, 1000, 100, 10, 1 (at most 9 clocks per decimal place), so the block
needs no divider. A line takes at most ~100 clocks plus the UART's time per byte.
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, enum, intbv

from ..lib.stream import check_stream

DIGIT, FRAME, BAD = 0, 1, 2
FIELD = 1 << 8          # an entry with this bit is a field code, otherwise a character
END = 1 << 9
WORD_BITS = 4 + 16 + 8
POWERS = (1, 10, 100, 1000, 10000)


def _template() -> tuple[int, ...]:
    out = []
    for part in ("digit=", DIGIT, " frame=", FRAME, " bad=", BAD, "\r\n"):
        out += [FIELD | part] if isinstance(part, int) else [ord(c) for c in part]
    return tuple(out + [END])


TEMPLATE = _template()


def pack(digit: int, frame: int, bad: int) -> int:
    return (bad << 20) | (frame << 4) | digit


def line(digit: int, frame: int, bad: int) -> str:
    """The text the block writes for one result."""
    return f"digit={digit} frame={frame} bad={bad}\r\n"


@block
def uart_report(clk, rst, s, m):
    check_stream("s", s, bits=WORD_BITS, ready=True, signed=False)
    check_stream("m", m, bits=8, ready=True, signed=False)
    State = enum("IDLE", "FETCH", "SUB", "SEND")
    state = Signal(State.IDLE)
    word = Signal(intbv(0)[WORD_BITS:])
    idx = Signal(intbv(0, min=0, max=len(TEMPLATE)))
    entry = Signal(intbv(0)[10:])
    value = Signal(intbv(0)[17:])
    place = Signal(intbv(0, min=0, max=len(POWERS)))
    power = Signal(intbv(0)[17:])
    count = Signal(intbv(0, min=0, max=10))
    started = Signal(bool(0))
    in_number = Signal(bool(0))

    @always_comb
    def lookup():
        entry.next = TEMPLATE[idx]
        power.next = POWERS[place]
        s.ready.next = state == State.IDLE

    @always_seq(clk.posedge, reset=rst)
    def walk():
        if state == State.IDLE:
            if s.valid:
                word.next = s.data
                idx.next = 0
                state.next = State.FETCH
        elif state == State.FETCH:
            if entry[9]:
                state.next = State.IDLE
            elif entry[8]:
                if entry[2:0] == DIGIT:
                    value.next = word[4:0]
                elif entry[2:0] == FRAME:
                    value.next = word[20:4]
                else:
                    value.next = word[28:20]
                place.next = len(POWERS) - 1
                count.next = 0
                started.next = 0
                in_number.next = 1
                state.next = State.SUB
            else:
                m.data.next = entry[8:0]
                m.valid.next = 1
                in_number.next = 0
                state.next = State.SEND
        elif state == State.SUB:
            if value >= power:
                value.next = value - power
                count.next = count + 1
            elif count != 0 or started or place == 0:
                m.data.next = 0x30 + count
                m.valid.next = 1
                started.next = 1
                state.next = State.SEND
            else:
                place.next = place - 1
        else:  # State.SEND
            if m.ready:
                m.valid.next = 0
                if in_number and place != 0:
                    place.next = place - 1
                    count.next = 0
                    state.next = State.SUB
                else:
                    idx.next = idx + 1
                    state.next = State.FETCH

    return lookup, walk
