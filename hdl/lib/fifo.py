"""Small synchronous FIFO: a stream without ready in, a stream with ready out.

The writer must never push into a full FIFO: blocks that use one (``mac_engine``) keep a
credit counter so every value they start computing has a free slot waiting. Pushing into a
full FIFO is a design error and stops a MyHDL simulation with an assertion.

``m.valid`` and ``m.data`` come from registers and the memory (read asynchronously: LUT RAM
or flip-flops, the FIFOs here are 16 deep); a value can leave one clock after it entered.
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
    count = Signal(intbv(0, min=0, max=depth + 1))
    push = Signal(bool(0))
    pop = Signal(bool(0))

    @always_comb
    def outputs():
        m.valid.next = count != 0
        m.data.next = mem[rptr]

    @always_comb
    def strobes():
        push.next = s.valid
        pop.next = m.ready and count != 0

    @always_seq(clk.posedge, reset=None)
    def store():
        if push:
            mem[wptr].next = s.data

    @always_seq(clk.posedge, reset=rst)
    def pointers():
        if push:
            assert count < depth or pop, "fifo overflow: the writer ignored its credits"
            if wptr == depth - 1:
                wptr.next = 0
            else:
                wptr.next = wptr + 1
        if pop:
            if rptr == depth - 1:
                rptr.next = 0
            else:
                rptr.next = rptr + 1
        if push and not pop:
            count.next = count + 1
        elif pop and not push:
            count.next = count - 1

    return outputs, strobes, store, pointers
