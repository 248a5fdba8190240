"""Button debouncer: a mechanical contact's level, clean.

``button`` (asynchronous, bouncing) goes through two flip-flops; ``level`` follows it once
the synchronized input has held a new value for ``clocks`` clocks in a row (any bounce
restarts the count). ``level`` is low after reset. A press shorter than ``clocks`` is
ignored; a clean edge shows on ``level`` ``clocks`` + 3 clocks later.
"""
from __future__ import annotations

from myhdl import Signal, always_seq, block, intbv


@block
def debounce(clk, rst, button, level, *, clocks: int):
    if clocks < 1:
        raise ValueError(f"debounce: clocks={clocks} must be at least 1")
    q1, q2 = Signal(bool(0)), Signal(bool(0))
    count = Signal(intbv(0, min=0, max=max(clocks, 2)))

    @always_seq(clk.posedge, reset=rst)
    def settle():
        q1.next = button
        q2.next = q1
        if q2 == level:
            count.next = 0
        elif count == clocks - 1:
            count.next = 0
            level.next = q2
        else:
            count.next = count + 1

    return settle
