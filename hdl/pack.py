"""Packer: one int8 value per beat in, ``simd`` values per beat out (lane 0 = first value).

Output word layout: lane ``i`` in bits ``[8*i + 7 : 8*i]`` (two's complement), the layout of
every packed word in the project (line buffer, weight ROM words). With ``simd = 1`` it is a
one-register pipeline stage.

Handshake (hdl/stream.py): the first ``simd - 1`` values of a word are always taken; the last
one is taken when the output register is free or being emptied (``not m.valid or m.ready``).
Throughput: one value per clock.
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, concat, intbv

from .stream import check_stream


@block
def pack(clk, rst, s, m, *, simd: int):
    if simd < 1:
        raise ValueError(f"simd={simd} must be at least 1")
    check_stream("s", s, bits=8, ready=True, signed=True)
    check_stream("m", m, bits=8 * simd, ready=True, signed=False)
    take = Signal(bool(0))
    n = Signal(intbv(0, min=0, max=max(2, simd)))
    held = Signal(intbv(0)[8 * max(1, simd - 1):])  # the first simd-1 lanes, newest on top
    hw = 8 * (simd - 1)

    if simd == 1:
        @always_comb
        def handshake():
            s.ready.next = not m.valid or m.ready
            take.next = s.valid and (not m.valid or m.ready)

        @always_seq(clk.posedge, reset=rst)
        def collect():
            if m.valid and m.ready:
                m.valid.next = 0
            if take:
                m.valid.next = 1
                m.data.next = s.data[8:]
        return handshake, collect

    @always_comb
    def handshake():
        s.ready.next = n != simd - 1 or not m.valid or m.ready
        take.next = s.valid and (n != simd - 1 or not m.valid or m.ready)

    if simd == 2:
        @always_seq(clk.posedge, reset=rst)
        def collect():
            if m.valid and m.ready:
                m.valid.next = 0
            if take:
                if n == 1:
                    m.valid.next = 1
                    m.data.next = concat(s.data[8:], held)
                    n.next = 0
                else:
                    held.next = s.data[8:]
                    n.next = 1
    else:
        @always_seq(clk.posedge, reset=rst)
        def collect():
            if m.valid and m.ready:
                m.valid.next = 0
            if take:
                if n == simd - 1:
                    m.valid.next = 1
                    m.data.next = concat(s.data[8:], held)
                    n.next = 0
                else:
                    held.next = concat(s.data[8:], held[hw:8])
                    n.next = n + 1

    return handshake, collect
