"""FIFO in a RAM, valid/ready on both sides: lets a producer run ahead of a slow consumer.

``s`` is taken while fewer than ``depth`` words are stored (``s.ready = stored != depth``, kept
in a register of its own, ``room``, set a clock ahead: the ready then leaves a flip-flop, not
the count's comparison, on its way back through the blocks before);
``m`` shows the oldest word from a fabric register loaded straight from the RAM's read
register. The memory is one ``ram`` (one write and one registered read per clock), so a deep
FIFO costs block RAM on an FPGA, not flip-flops; a block-RAM read's clock-to-out (5.6-5.8 ns on
the ECP5) then ends at a flip-flop, never in the next block's logic.

Two registers after the memory, each with its valid: the read register ``q`` (``got``) and the
output ``m.data`` (``m.valid``). The output loads ``q`` when it is empty or being emptied
(``move = got and (not m.valid or m.ready)``: an enable, no logic on the data). A read is
issued when a word is stored and ``q`` is empty or moving (``re = stored != 0 and (not got or
move)``); ``q`` holds while ``re`` is low. A word written at edge k is read at k+1, reaches
``q`` then and ``m`` at k+2, and the consumer takes it at k+3 at the earliest (three clocks
from input to output, one more than the read register alone); one word per clock in and out. Addresses never collide: a write needs ``stored < depth`` and a read
``stored > 0``. With the output held it takes ``depth + 2`` words.

::

    clk      _/~\\_/~\\_/~\\_/~\\_/~\\_
    s.valid  _/~~~\\_______________
    stored   ___0___/~1~\\__0________
    got      ___________/~~~\\______
    m.valid  _______________/~~~~~     the word, three clocks later, until taken
"""
from __future__ import annotations

from myhdl import Signal, always, always_comb, always_seq, block, intbv

from .ram import ram
from .stream import check_stream


@block
def bram_fifo(clk, rst, s, m, *, depth: int):
    if depth < 2:
        raise ValueError(f"bram_fifo: depth={depth} must be at least 2")
    check_stream("s", s, ready=True)
    check_stream("m", m, bits=s.bits, ready=True, signed=s.signed)
    waddr = Signal(intbv(0, min=0, max=depth))
    raddr = Signal(intbv(0, min=0, max=depth))
    stored = Signal(intbv(0, min=0, max=depth + 1))
    room = Signal(bool(1))  # stored != depth
    push = Signal(bool(0))
    re = Signal(bool(0))
    q = Signal(intbv(0, min=m.data.min, max=m.data.max))
    got = Signal(bool(0))
    move = Signal(bool(0))
    mem = ram(clk, push, waddr, s.data, re, raddr, q, depth=depth)

    @always_comb
    def strobes():
        s.ready.next = room
        push.next = s.valid and room
        move.next = got and (not m.valid or m.ready)

    @always_comb
    def reading():
        re.next = stored != 0 and (not got or move)

    @always(clk.posedge)
    def out():
        if move:
            m.data.next = q

    @always_seq(clk.posedge, reset=rst)
    def pointers():
        if push:
            if waddr == depth - 1:
                waddr.next = 0
            else:
                waddr.next = waddr + 1
        if re:
            if raddr == depth - 1:
                raddr.next = 0
            else:
                raddr.next = raddr + 1
        if push and not re:
            stored.next = stored + 1
            room.next = stored != depth - 1
        elif re and not push:
            stored.next = stored - 1
            room.next = 1
        if re:
            got.next = 1
        elif move:
            got.next = 0
        if move:
            m.valid.next = 1
        elif m.ready:
            m.valid.next = 0

    return mem, strobes, reading, out, pointers
