"""Counters the blocks share: a raster position and a credit count.

``raster``: the position of the next beat of an image in raster order, a channel group
fastest, then the column, then the row; ``step`` moves it on one beat, and after the image's
last beat it is back at (0, 0, 0). Any three nested counts are the same counter (the MAC
engine's channel word, step and output group).

``credit_counter``: the free places a writer may still fill in a FIFO it cannot stall (a
drain, a mean's results): ``take`` spends one, ``give`` (the FIFO's pop) returns one.
``credit_n`` (optional) is what ``credit`` holds next clock, so a block can decide a clock
ahead; its range is one wider than ``credit``'s each way, since ``take`` and ``credit`` settle
in either order within a clock (the register takes the settled value's low bits).
"""
from __future__ import annotations

from myhdl import always_comb, always_seq, block


@block
def raster(clk, rst, step, g, x, y, *, groups: int, w: int, h: int):
    """(g, x, y): channel group 0..groups-1, column 0..w-1, row 0..h-1 of the next beat."""

    @always_seq(clk.posedge, reset=rst)
    def count():
        if step:
            if g == groups - 1:
                g.next = 0
                if x == w - 1:
                    x.next = 0
                    if y == h - 1:
                        y.next = 0
                    else:
                        y.next = y + 1
                else:
                    x.next = x + 1
            else:
                g.next = g + 1

    return count


@block
def credit_counter(clk, rst, take, give, credit, credit_n=None):
    if credit_n is None:  # nobody looks ahead: no next-value signal (it would go unread)
        @always_seq(clk.posedge, reset=rst)
        def counter():
            if take and not give:
                credit.next = credit - 1
            elif give and not take:
                credit.next = credit + 1

        return counter
    bits = len(credit)

    @always_comb
    def ahead():
        if take and not give:
            credit_n.next = credit - 1
        elif give and not take:
            credit_n.next = credit + 1
        else:
            credit_n.next = credit

    @always_seq(clk.posedge, reset=rst)
    def count():
        credit.next = credit_n[bits:]

    return ahead, count
