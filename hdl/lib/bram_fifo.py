"""FIFO in a RAM, valid/ready on both sides: lets a producer run ahead of a slow consumer.

``s`` is taken while fewer than ``depth`` words are stored (``s.ready = stored != depth``, kept
in a register of its own, ``room``, set a clock ahead: the ready then leaves a flip-flop, not
the count's comparison, on its way back through the blocks before);
``m`` shows the oldest word from one of two fabric registers loaded straight from the RAM's
read register. The memory is one ``ram`` (one write and one registered read per clock), so a deep
FIFO costs block RAM on an FPGA, not flip-flops; a block-RAM read's clock-to-out (5.6-5.8 ns on
the ECP5) then ends at a flip-flop, never in the next block's logic.

The memory reads every clock, with no read enable, at ``raddr`` (the oldest word not yet
read) into its own read register ``r``; a word read is caught a clock later by one of two
fabric registers (``q0``, ``q1``, in turn: each loads ``r`` directly, with an enable and no
logic on the data), and ``m.data`` is the older of the two (``rptr``). Why: Yosys 0.70 gives a
DP16KD read *enable* a held copy and a LUT multiplexer after the read, so the 5.8 ns
clock-to-out met logic in the same clock (the mnist_cnn default's limit at 03a4ccf, seed 2:
conv3's run-ahead FIFO through that multiplexer into ``m.data``, 10.16 ns). Now the read
register drives only flip-flops' D inputs, and the multiplexer sits after ``q0``/``q1``.

``cnt`` counts the words read and not yet taken (in ``r`` or the two registers); a read is
issued when a word is stored and a place is free, or one is taken this clock (``re = stored
!= 0 and (cnt != 2 or pop)``), so with ``m`` always ready one word a clock goes through. A word
written at edge k is read at k+1 (into ``r``), reaches ``q0``/``q1`` and ``m`` at k+2, and the
consumer takes it at k+3 at the earliest: three clocks from input to output. Addresses never
collide: a write needs ``stored < depth`` and a read ``stored > 0``. With the output held it
takes ``depth + 2`` words.

::

    clk      _/~\\_/~\\_/~\\_/~\\_/~\\_
    s.valid  _/~~~\\_______________
    stored   ___0___/~1~\\__0________
    cnt      ___________/~1~~~~~~~     (until taken)
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
    r = Signal(intbv(0, min=m.data.min, max=m.data.max))  # the memory's read register
    q0 = Signal(intbv(0, min=m.data.min, max=m.data.max))
    q1 = Signal(intbv(0, min=m.data.min, max=m.data.max))
    got = Signal(bool(0))   # r holds a word read (re a clock ago)
    wptr = Signal(bool(0))  # the register the next word read lands in
    rptr = Signal(bool(0))  # the register m shows
    cnt = Signal(intbv(0, min=0, max=3))   # words read and not yet taken
    full = Signal(intbv(0, min=0, max=3))  # words in q0/q1
    pop = Signal(bool(0))
    mem = ram(clk, push, waddr, s.data, None, raddr, r, depth=depth)

    @always_comb
    def strobes():
        s.ready.next = room
        push.next = s.valid and room
        pop.next = full != 0 and m.ready
        m.valid.next = full != 0
        if rptr:
            m.data.next = q1
        else:
            m.data.next = q0

    @always_comb
    def reading():
        re.next = stored != 0 and (cnt != 2 or pop)

    @always(clk.posedge)
    def land():
        if got and not wptr:
            q0.next = r
        if got and wptr:
            q1.next = r

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
        got.next = re
        if got:
            wptr.next = not wptr
        if pop:
            rptr.next = not rptr
        if re and not pop:
            cnt.next = cnt + 1
        elif pop and not re:
            cnt.next = cnt - 1
        if got and not pop:
            full.next = full + 1
        elif pop and not got:
            full.next = full - 1

    return mem, strobes, reading, land, pointers
