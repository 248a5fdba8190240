"""FIFO in a RAM, valid/ready on both sides: lets a producer run ahead of a slow consumer.

``s`` is taken while fewer than ``depth`` words are stored (``s.ready = stored != depth``, kept
in a register of its own, ``room``, set a clock ahead: the ready then leaves a flip-flop, not
the count's comparison, on its way back through the blocks before);
``m`` shows the oldest word from the RAM's own read register. The memory is one ``ram`` (one
write and one registered read per clock), so a deep FIFO costs block RAM on an FPGA, not
flip-flops.

A read is issued when a word is stored and the output register is empty or being emptied
(``re = stored != 0 and (not m.valid or m.ready)``); the read register holds while ``re`` is
low, so ``m.data`` stays put until the beat is taken. A word written at edge k can be read at
k+1 and shows at k+2 (two clocks from input to output); one word per clock in and out.
Addresses never collide: a write needs ``stored < depth`` and a read ``stored > 0``.

::

    clk      _/~\\_/~\\_/~\\_/~\\_
    s.valid  _/~~~\\___________
    stored   ___0___/~1~\\__0____
    m.valid  ___________/~~~~~     the word, two clocks later, until taken
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, intbv

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
    mem = ram(clk, push, waddr, s.data, re, raddr, m.data, depth=depth)

    @always_comb
    def strobes():
        s.ready.next = room
        push.next = s.valid and room
        re.next = stored != 0 and (not m.valid or m.ready)

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
            m.valid.next = 1
        elif m.ready:
            m.valid.next = 0

    return mem, strobes, pointers
