"""Simple dual-port RAM: one write port and one registered read port, one clock.

Ports: ``clk``; write ``we``, ``waddr``, ``wdata``; read ``re``, ``raddr``, ``rdata`` (the word
at ``raddr`` one clock after ``re``; ``rdata`` holds while ``re`` is low). A read and a write
of the same address on the same edge return the old word (read-first); callers that can hit
that case forward the new word themselves (see ``line_buffer``).

This is the shape Yosys maps to block RAM (RAMB18/36 on 7-series, SB_RAM40_4K on iCE40) when
the memory is large enough, and to LUT RAM or flip-flops when it is not.
"""
from __future__ import annotations

from myhdl import Signal, always, block, intbv


@block
def ram(clk, we, waddr, wdata, re, raddr, rdata, *, depth: int):
    if depth < 1:
        raise ValueError(f"ram: depth={depth} must be at least 1")
    if len(rdata) != len(wdata):
        raise ValueError(f"ram: rdata is {len(rdata)} bits, wdata {len(wdata)}")
    mem = [Signal(intbv(0, min=wdata.min, max=wdata.max)) for _ in range(depth)]

    @always(clk.posedge)
    def write():
        if we:
            mem[waddr].next = wdata

    @always(clk.posedge)
    def read():
        if re:
            rdata.next = mem[raddr]

    return write, read
