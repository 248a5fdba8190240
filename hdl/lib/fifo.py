"""Small synchronous FIFO: a stream without ready in, a stream with ready out.

The writer must never push more values than the FIFO holds: blocks that use one
(``mac_engine``) keep a credit counter so every value they start computing has a free slot
waiting. Pushing into a full memory is a design error and stops a MyHDL simulation with an
assertion.

``m.valid`` and ``m.data`` are registers (the output register), so whatever reads the FIFO
starts its clock at a flip-flop, not at the memory's read multiplexer. Behind it sits the
memory (``depth`` words, read asynchronously: LUT RAM or flip-flops). A value that arrives
while the memory is empty and the output register is free (or being emptied) goes straight
into the register; otherwise into the memory, from which the register takes the oldest value
whenever it is free. So, as a FIFO with its memory read straight out: ``m.valid`` is high
exactly when a value is inside, the values leave in order, and a value can leave one clock
after it entered.
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, intbv

from .stream import check_stream


@block
def fifo(clk, rst, s, m, *, depth: int):
    if depth < 2:
        raise ValueError(f"fifo: depth={depth} must be at least 2")
    check_stream("m", m, bits=s.bits, ready=True, signed=s.signed)
    mem = [Signal(intbv(0, min=m.data.min, max=m.data.max)) for _ in range(depth)]
    wptr = Signal(intbv(0, min=0, max=depth))
    rptr = Signal(intbv(0, min=0, max=depth))
    count = Signal(intbv(0, min=0, max=depth + 1))  # values in the memory
    to_mem = Signal(bool(0))  # s goes into the memory on this clock
    refill = Signal(bool(0))  # the output register takes the memory's oldest value
    bypass = Signal(bool(0))  # the output register takes s

    free = Signal(bool(0))  # the output register is empty or being emptied

    @always_comb
    def emptying():
        free.next = not m.valid or m.ready

    @always_comb
    def strobes():
        refill.next = free and count != 0
        bypass.next = free and count == 0 and s.valid
        to_mem.next = s.valid and not (free and count == 0)

    @always_seq(clk.posedge, reset=None)
    def store():
        if to_mem:
            mem[wptr].next = s.data

    @always_seq(clk.posedge, reset=rst)
    def out_reg():
        if refill:
            m.data.next = mem[rptr]
            m.valid.next = 1
        elif bypass:
            m.data.next = s.data
            m.valid.next = 1
        elif m.ready:
            m.valid.next = 0

    @always_seq(clk.posedge, reset=rst)
    def pointers():
        if to_mem:
            assert count < depth or refill, "fifo overflow: the writer ignored its credits"
            if wptr == depth - 1:
                wptr.next = 0
            else:
                wptr.next = wptr + 1
        if refill:
            if rptr == depth - 1:
                rptr.next = 0
            else:
                rptr.next = rptr + 1
        if to_mem and not refill:
            count.next = count + 1
        elif refill and not to_mem:
            count.next = count - 1

    return emptying, strobes, store, out_reg, pointers
