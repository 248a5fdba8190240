"""Packer: ``lanes`` int8 values per beat in, ``simd`` values per beat out (lane 0 = first value).

Word layout: lane ``i`` in bits ``[8*i + 7 : 8*i]`` (two's complement), the layout of every
packed word in the project (line buffer, weight ROM words, a wide drain's output). With one
value per input beat (``lanes = 1``) the input is an int8 stream.

* ``simd`` a multiple of ``lanes`` (gather): ``simd / lanes`` input beats make one output word.
  The first ones are always taken; the last is taken when the output register is free or
  being emptied (``not m.valid or m.ready``). With ``simd = lanes`` it is a one-register
  pipeline stage. An output word leaves one clock after its last input beat (``delay``).
* ``lanes`` a multiple of ``simd`` (split): each input word leaves as ``lanes / simd`` words,
  lowest lanes first, one per clock. It holds two input words (the one being cut and the
  next), so two words back to back are taken without a stall. The first piece leaves two
  clocks after its input word (``delay``).

Throughput: one output word per clock, as long as the input keeps up.
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, concat, intbv

from .stream import check_stream


def check_lanes(lanes: int, simd: int, where: str = "") -> None:
    if simd < 1:
        raise ValueError(f"{where}simd={simd} must be at least 1")
    if lanes < 1:
        raise ValueError(f"{where}lanes={lanes} must be at least 1")
    if simd % lanes and lanes % simd:
        raise ValueError(f"{where}SIMD={simd} and the {lanes} channels a beat brings must "
                         f"divide one another")


def delay(lanes: int, simd: int) -> int:
    """Clocks from the input beat that completes a word (gather) or brings it (split) to the
    output word's first clock."""
    return 1 if simd % lanes == 0 else 2


@block
def pack(clk, rst, s, m, *, simd: int, lanes: int = 1):
    check_lanes(lanes, simd)
    check_stream("s", s, bits=8 * lanes, ready=True, signed=lanes == 1)
    check_stream("m", m, bits=8 * simd, ready=True, signed=False)
    if simd % lanes:
        return split(clk, rst, s, m, pieces=lanes // simd)
    cw = 8 * lanes  # bits an input beat brings
    k = simd // lanes  # input beats a word
    take = Signal(bool(0))
    n = Signal(intbv(0, min=0, max=max(2, k)))
    held = Signal(intbv(0)[cw * max(1, k - 1):])  # the first k-1 beats, newest on top
    hw = cw * (k - 1)

    if k == 1:
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
                m.data.next = s.data[cw:]
        return handshake, collect

    @always_comb
    def handshake():
        s.ready.next = n != k - 1 or not m.valid or m.ready
        take.next = s.valid and (n != k - 1 or not m.valid or m.ready)

    if k == 2:
        @always_seq(clk.posedge, reset=rst)
        def collect():
            if m.valid and m.ready:
                m.valid.next = 0
            if take:
                if n == 1:
                    m.valid.next = 1
                    m.data.next = concat(s.data[cw:], held)
                    n.next = 0
                else:
                    held.next = s.data[cw:]
                    n.next = 1
    else:
        @always_seq(clk.posedge, reset=rst)
        def collect():
            if m.valid and m.ready:
                m.valid.next = 0
            if take:
                if n == k - 1:
                    m.valid.next = 1
                    m.data.next = concat(s.data[cw:], held)
                    n.next = 0
                else:
                    held.next = concat(s.data[cw:], held[hw:cw])
                    n.next = n + 1

    return handshake, collect


@block
def split(clk, rst, s, m, *, pieces: int):
    """Each input word leaves as ``pieces`` output words, lowest bits first. Two input words
    fit: the one being cut (``buf``) and the next (``nxt``), so a pair of words arriving back
    to back (a wide layer's pixel) does not stall the sender."""
    ow = len(m.data)
    buf = Signal(intbv(0)[len(s.data):])
    nxt = Signal(intbv(0)[len(s.data):])
    have = Signal(bool(0))
    have_nxt = Signal(bool(0))
    n = Signal(intbv(0, min=0, max=pieces))
    adv = Signal(bool(0))
    take = Signal(bool(0))

    @always_comb
    def handshake():
        adv.next = not m.valid or m.ready
        s.ready.next = not have_nxt
        take.next = s.valid and not have_nxt

    @always_seq(clk.posedge, reset=rst)
    def shift_out():
        finished = False
        if adv:
            m.valid.next = have
            if have:
                m.data.next = buf[ow:]
                buf.next = buf >> ow
                if n == pieces - 1:
                    n.next = 0
                    finished = True
                else:
                    n.next = n + 1
        if finished or not have:
            # the word being cut is done (or there is none): the next one moves in
            if have_nxt:
                buf.next = nxt
                have.next = 1
                if take:
                    nxt.next = s.data
                else:
                    have_nxt.next = 0
            elif take:
                buf.next = s.data
                have.next = 1
            else:
                have.next = 0
        elif take:
            nxt.next = s.data
            have_nxt.next = 1

    return handshake, shift_out
