"""Dual-clock FIFO: a stream crosses from one clock domain to another, unrelated one.

The camera's bytes arrive on PCLK; the CNN runs on the system clock. Nothing but this FIFO
crosses between them, and what crosses is only Gray-coded pointers through two-flop
synchronizers: the write pointer into the read domain (to know "not empty"), the read pointer
into the write domain (to know "not full"). A Gray code changes one bit per step, so a pointer
sampled mid-change is either its old or its new value, never a mix; the data itself is read
from the memory only after the synchronized pointer says it was written.

Ports: write side ``wclk``, ``wrst`` (synchronous to ``wclk``), stream ``s`` (``s.ready`` =
not full); read side ``rclk``, ``rrst`` (synchronous to ``rclk``), stream ``m`` (``m.valid`` =
not empty, data from the memory, first word fall-through). Reset both sides together (the
system resets both; each reset is released in its own domain).

Parameter: ``depth`` (a power of two >= 4). Latency: a word written on a ``wclk`` edge can
leave 2-3 ``rclk`` edges later (the synchronizer); the full flag sees a read 2-3 ``wclk``
edges late, so the FIFO is conservative, never wrong.
"""
from __future__ import annotations

from myhdl import Signal, always, always_comb, always_seq, block, intbv

from .stream import check_stream


@block
def async_fifo(wclk, wrst, s, rclk, rrst, m, *, depth: int):
    if depth < 4 or depth & (depth - 1):
        raise ValueError(f"async_fifo: depth={depth} must be a power of two >= 4")
    check_stream("m", m, bits=s.bits, ready=True, signed=s.signed)
    abits = depth.bit_length() - 1
    pbits = abits + 1
    mem = [Signal(intbv(0, min=m.data.min, max=m.data.max)) for _ in range(depth)]

    wbin, wgray = Signal(intbv(0)[pbits:]), Signal(intbv(0)[pbits:])
    rbin, rgray = Signal(intbv(0)[pbits:]), Signal(intbv(0)[pbits:])
    # two-flop synchronizers: rgray into the write domain, wgray into the read domain
    rgray_w1, rgray_w2 = Signal(intbv(0)[pbits:]), Signal(intbv(0)[pbits:])
    wgray_r1, wgray_r2 = Signal(intbv(0)[pbits:]), Signal(intbv(0)[pbits:])
    push, pop = Signal(bool(0)), Signal(bool(0))
    wbin_next, rbin_next = Signal(intbv(0)[pbits:]), Signal(intbv(0)[pbits:])
    top = 1 << abits  # full: the pointers differ only in their two top Gray bits
    top2 = 1 << (abits - 1)

    not_full, not_empty = Signal(bool(0)), Signal(bool(0))

    @always_comb
    def full_flag():  # write domain
        not_full.next = wgray != (rgray_w2 ^ (top | top2))

    @always_comb
    def empty_flag():  # read domain
        not_empty.next = rgray != wgray_r2

    @always_comb
    def write_side():
        s.ready.next = not_full
        push.next = s.valid and not_full
        wbin_next.next = (wbin + 1) % (1 << pbits)

    @always(wclk.posedge)
    def store():
        if push:
            mem[wbin[abits:]].next = s.data

    @always_seq(wclk.posedge, reset=wrst)
    def write_pointer():
        rgray_w1.next = rgray
        rgray_w2.next = rgray_w1
        if push:
            wbin.next = wbin_next
            wgray.next = wbin_next ^ (wbin_next >> 1)

    @always_comb
    def read_side():
        m.valid.next = not_empty
        m.data.next = mem[rbin[abits:]]
        pop.next = m.ready and not_empty
        rbin_next.next = (rbin + 1) % (1 << pbits)

    @always_seq(rclk.posedge, reset=rrst)
    def read_pointer():
        wgray_r1.next = wgray
        wgray_r2.next = wgray_r1
        if pop:
            rbin.next = rbin_next
            rgray.next = rbin_next ^ (rbin_next >> 1)

    return full_flag, empty_flag, write_side, store, write_pointer, read_side, read_pointer
