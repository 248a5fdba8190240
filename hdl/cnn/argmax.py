"""Argmax over a stream of N int8 logits: the class index, ties to the lowest index.

Input ``s``: N int8 values per image (one per beat). Output ``m``: one unsigned beat per image,
the index of the largest value; a later value replaces the best only when strictly greater,
so ties resolve to the lowest index exactly as ``numpy.argmax`` (``golden.argmax``).

The logit is registered before it is compared (``x``), so the comparison and the registers it
enables do not share a clock with the read of the FIFO the logits come from.

Handshake (hdl/lib/stream.py): a logit is taken into ``x`` when ``x`` is empty or is being
compared; the result register holds until taken. Cycle model: N clocks per image with no gaps
or stalls (``cycles(n)``); the result leaves ``LATENCY`` clocks after the last logit is taken.
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, intbv

from ..lib.stream import Stream, check_stream


def index_bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


LATENCY = 2  # the input register, then the result register


def cycles(n: int) -> int:
    return n


@block
def argmax(clk, rst, s, m, *, n: int):
    if n < 1:
        raise ValueError(f"n={n} must be at least 1")
    check_stream("s", s, bits=8, ready=True, signed=True)
    check_stream("m", m, bits=index_bits(n), ready=True, signed=False)
    count = Signal(intbv(0, min=0, max=max(2, n)))
    best = Signal(intbv(-128, min=-128, max=128))
    best_i = Signal(intbv(0, min=0, max=max(2, n)))
    x_valid = Signal(bool(0))  # the registered logit
    x_data = Signal(intbv(-128, min=-128, max=128))
    take = Signal(bool(0))  # x is compared on this clock
    load = Signal(bool(0))  # s is taken into x on this clock

    @always_comb
    def handshake():
        take.next = x_valid and ((not m.valid) or m.ready)
        s.ready.next = (not x_valid) or ((not m.valid) or m.ready)
        load.next = s.valid and ((not x_valid) or ((not m.valid) or m.ready))

    @always_seq(clk.posedge, reset=rst)
    def hold():
        if load:
            x_valid.next = 1
            x_data.next = s.data
        elif take:
            x_valid.next = 0

    @always_seq(clk.posedge, reset=rst)
    def scan():
        if m.valid and m.ready:
            m.valid.next = 0
        if take:
            if count == n - 1:
                count.next = 0
                m.valid.next = 1
                if count != 0 and x_data > best:
                    m.data.next = count
                elif count == 0:
                    m.data.next = 0
                else:
                    m.data.next = best_i
            else:
                count.next = count + 1
                if count == 0 or x_data > best:
                    best.next = x_data
                    best_i.next = count

    return handshake, hold, scan
