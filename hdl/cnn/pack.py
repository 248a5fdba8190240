"""Packer: ``lanes`` int8 values per beat in, ``simd`` values per beat out (lane 0 = first value).

Word layout: lane ``i`` in bits ``[8*i + 7 : 8*i]`` (two's complement), the layout of every
packed word in the project (line buffer, weight ROM words, a wide drain's output). With one
value per input beat (``lanes = 1``) the input is an int8 stream.

* ``simd`` a multiple of ``lanes`` (gather): ``simd / lanes`` input beats make one output word.
  The first ones are always taken; the last is taken when the output register is free or
  being emptied (``not m.valid or m.ready``). With ``simd = lanes`` it is a one-register
  pipeline stage. An output word leaves one clock after its last input beat (``delay``).
* ``lanes`` a multiple of ``simd`` (split): each input word leaves as ``lanes / simd`` words,
  lowest lanes first, one per clock. It holds the word being cut and ``hold`` more (1 by
  default; gathering ignores ``hold``), so ``hold + 1`` words back to back are taken without
  a stall. The first piece
  leaves two clocks after its input word when nothing is queued before it (``delay``).

Throughput: one output word per clock, as long as the input keeps up.
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, concat, intbv

from ..lib.stream import check_stream


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
def pack(clk, rst, s, m, *, simd: int, lanes: int = 1, hold: int = 1):
    check_lanes(lanes, simd)
    check_stream("s", s, bits=8 * lanes, ready=True, signed=lanes == 1)
    check_stream("m", m, bits=8 * simd, ready=True, signed=False)
    if simd % lanes:
        return split(clk, rst, s, m, pieces=lanes // simd, hold=hold)
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
def split(clk, rst, s, m, *, pieces: int, hold: int = 1):
    """Each input word leaves as ``pieces`` output words, lowest bits first. Besides the word
    being cut (``buf``) ``hold`` more wait in a queue, so ``hold`` words arriving faster than
    they leave (a wide layer's pixel; the bursts a pooling layer sends on its odd rows) do not
    stall the sender. A word that finds the queue empty and ``buf`` free goes straight in."""
    if hold < 1:
        raise ValueError(f"split: hold={hold} must be at least 1")
    ow = len(m.data)
    buf = Signal(intbv(0)[len(s.data):])
    queue = [Signal(intbv(0)[len(s.data):]) for _ in range(hold)]
    head = Signal(intbv(0, min=0, max=max(2, hold)))
    tail = Signal(intbv(0, min=0, max=max(2, hold)))
    count = Signal(intbv(0, min=0, max=hold + 1))
    have = Signal(bool(0))
    n = Signal(intbv(0, min=0, max=pieces))
    adv = Signal(bool(0))
    take = Signal(bool(0))

    @always_comb
    def handshake():
        adv.next = not m.valid or m.ready
        s.ready.next = count != hold
        take.next = s.valid and count != hold

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
        if take:
            queue[tail].next = s.data
        if finished or not have:
            # the word being cut is done (or there is none): the next one moves in
            if count != 0:
                buf.next = queue[head]
                have.next = 1
                head.next = 0 if head == hold - 1 else head + 1
                if take:
                    tail.next = 0 if tail == hold - 1 else tail + 1
                else:
                    count.next = count - 1
            elif take:
                buf.next = s.data
                have.next = 1
            else:
                have.next = 0
        elif take:
            tail.next = 0 if tail == hold - 1 else tail + 1
            count.next = count + 1

    return handshake, shift_out
