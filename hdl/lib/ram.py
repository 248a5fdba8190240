"""Simple dual-port RAM: one write port and one registered read port, one clock.

Ports: ``clk``; write ``we``, ``waddr``, ``wdata``; read ``re``, ``raddr``, ``rdata`` (the word
at ``raddr`` one clock after ``re``; ``rdata`` holds while ``re`` is low; ``re=None`` reads
every clock). A read and a write
of the same address on the same edge return the old word (read-first). With ``forward``, that
read returns the word being written instead (a read-modify-write loop of one word a clock:
``pool2d``, ``mean``): the written word and the match are registered beside the read, and a
multiplexer after the memory picks one, so the memory itself stays block-RAM shaped.

This is the shape Yosys maps to block RAM (RAMB18/36 on 7-series, SB_RAM40_4K on iCE40) when
the memory is large enough, and to LUT RAM or flip-flops when it is not.
"""
from __future__ import annotations

from myhdl import Signal, always, always_comb, block, intbv

from . import memories


@block
def ram(clk, we, waddr, wdata, re, raddr, rdata, *, depth: int, forward: bool = False):
    if depth < 1:
        raise ValueError(f"ram: depth={depth} must be at least 1")
    if len(rdata) != len(wdata):
        raise ValueError(f"ram: rdata is {len(rdata)} bits, wdata {len(wdata)}")
    memories.note("ram", depth, len(wdata))
    mem = [Signal(intbv(0, min=wdata.min, max=wdata.max)) for _ in range(depth)]
    q = Signal(intbv(0, min=rdata.min, max=rdata.max)) if forward else rdata

    @always(clk.posedge)
    def write():
        if we:
            mem[waddr].next = wdata

    if re is None:
        @always(clk.posedge)
        def read():
            q.next = mem[raddr]
    else:
        @always(clk.posedge)
        def read():
            if re:
                q.next = mem[raddr]

    if not forward:
        return write, read
    hit = Signal(bool(0))
    written = Signal(intbv(0, min=wdata.min, max=wdata.max))

    if re is None:
        @always(clk.posedge)
        def match():
            hit.next = we and waddr == raddr
            written.next = wdata
    else:
        @always(clk.posedge)
        def match():
            if re:
                hit.next = we and waddr == raddr
                written.next = wdata

    @always_comb
    def pick():
        if hit:
            rdata.next = written
        else:
            rdata.next = q

    return write, read, match, pick
