"""Window generator for a 3x3 valid convolution: two row buffers and a 3x3 window.

Input ``s``: an H x W x C image in raster order (NHWC), ``simd`` channels per beat (a packed
word, lane ``i`` in bits ``[8i+7:8i]``), so ``Cg = C / simd`` beats per pixel.

Output ``m``: one beat per (valid output position, channel group), in raster order: for every
input beat at row y >= 2 and column x >= 2 the window of rows y-2..y and columns x-2..x for
that beat's ``simd`` channels. Word layout: tap ``t = ky*3 + kx`` (TFLite's OHWI order) in bits
``[t*B + B-1 : t*B]`` with ``B = 8*simd``, lanes inside as on the input. No padding: an image
gives (H-2) x (W-2) x Cg window beats.

Memories (all ``ram``: one write and one registered read per clock, block-RAM shaped):

``row0``, ``row1``  W x Cg words each: for the column being received, the pixels one and two
                    rows up. A beat reads both at its address and writes them back shifted
                    (row0 <- row1's word, row1 <- the new word) one clock later.
``col1``, ``col2``  Cg words of three rows each (the window's column triples one and two pixels
                    back), shifted the same way: the 3x3 window register, kept as memory so a
                    deep channel count costs block RAM, not flip-flops. With Cg = 1 the next
                    beat reads the address the previous one is writing; the new triple is
                    forwarded. With Cg = 1 (a first layer's one channel) they are two
                    registers instead, written as a beat leaves stage 1 and read directly:
                    no read registers and no forwarding.

Pipeline: the beat is registered with its reads (stage 1), the window is registered on the
output (stage 2). Stage 2 advances when the output register is free or being emptied
(``adv = not m.valid or m.ready``); stage 1 takes a beat when it is empty or advancing
(``s.ready = adv or not v1``), so a stalled output still lets one more beat in. Memories are
written when a beat leaves stage 1. Input gaps and output stalls lose or duplicate nothing. One
input beat per clock: ``cycles(h, w, c, simd) = h * w * c / simd``.
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, concat, intbv

from ..lib.ram import ram
from ..lib.stream import check_stream


def cycles(h: int, w: int, c: int, simd: int = 1) -> int:
    """Clocks per image with no input gaps or output stalls (one beat per clock)."""
    return h * w * (c // simd)


def check_params(h: int, w: int, c: int, simd: int) -> None:
    if h < 3:
        raise ValueError(f"H={h}: a 3x3 window needs at least 3 rows")
    if w < 3:
        raise ValueError(f"W={w}: a 3x3 window needs at least 3 columns")
    if c < 1:
        raise ValueError(f"C={c} must be at least 1")
    if simd < 1 or c % simd:
        raise ValueError(f"SIMD={simd} must divide C={c}")


@block
def line_buffer(clk, rst, s, m, *, h: int, w: int, c: int, simd: int = 1):
    check_params(h, w, c, simd)
    b = 8 * simd
    cg_n = c // simd
    check_stream("s", s, bits=b, ready=True, signed=False)
    check_stream("m", m, bits=9 * b, ready=True, signed=False)
    row_depth = w * cg_n

    adv = Signal(bool(0))
    take = Signal(bool(0))
    # input position of the next beat
    x = Signal(intbv(0, min=0, max=w))
    y = Signal(intbv(0, min=0, max=h))
    cg = Signal(intbv(0, min=0, max=max(2, cg_n)))
    addr = Signal(intbv(0, min=0, max=max(2, row_depth)))
    # stage 1: the beat and its reads
    v1 = Signal(bool(0))
    win1 = Signal(bool(0))
    fwd1 = Signal(bool(0))
    d1 = Signal(intbv(0)[b:])
    a1 = Signal(intbv(0, min=0, max=max(2, row_depth)))
    cg1 = Signal(intbv(0, min=0, max=max(2, cg_n)))
    up2 = Signal(intbv(0)[b:])      # row y-2 (row0's word)
    up1 = Signal(intbv(0)[b:])      # row y-1 (row1's word)
    col1_q = Signal(intbv(0)[3 * b:])
    col2_q = Signal(intbv(0)[3 * b:])
    triple = Signal(intbv(0)[3 * b:])   # column x: rows y-2 (low), y-1, y (high)
    back1 = Signal(intbv(0)[3 * b:])    # column x-1, forwarded when needed
    back2 = Signal(intbv(0)[3 * b:])    # column x-2
    prev_triple = Signal(intbv(0)[3 * b:])
    prev_back1 = Signal(intbv(0)[3 * b:])
    we = Signal(bool(0))

    mems = [
        ram(clk, we, a1, up1, take, addr, up2, depth=row_depth),       # row0
        ram(clk, we, a1, d1, take, addr, up1, depth=row_depth),        # row1
    ]
    col1r = Signal(intbv(0)[3 * b:])
    col2r = Signal(intbv(0)[3 * b:])

    @always_comb
    def handshake():
        adv.next = not m.valid or m.ready
        s.ready.next = not m.valid or m.ready or not v1
        take.next = s.valid and (not m.valid or m.ready or not v1)
        we.next = v1 and (not m.valid or m.ready)

    @always_comb
    def columns():
        triple.next = concat(d1, up1, up2)
        if fwd1:
            back1.next = prev_triple
            back2.next = prev_back1
        else:
            back1.next = col1_q
            back2.next = col2_q

    @always_seq(clk.posedge, reset=rst)
    def stage1():
        if adv or not v1:
            v1.next = take
            if take:
                d1.next = s.data
                a1.next = addr
                win1.next = x >= 2 and y >= 2
                # raster counters: channel group fastest, then column, then row
                if cg == cg_n - 1:
                    cg.next = 0
                    if x == w - 1:
                        x.next = 0
                        addr.next = 0
                        if y == h - 1:
                            y.next = 0
                        else:
                            y.next = y + 1
                    else:
                        x.next = x + 1
                        addr.next = addr + 1
                else:
                    cg.next = cg + 1
                    addr.next = addr + 1

    @always_seq(clk.posedge, reset=rst)
    def stage2():
        if adv:
            m.valid.next = v1 and win1
            m.data.next = concat(triple[3 * b:2 * b], back1[3 * b:2 * b], back2[3 * b:2 * b],
                                 triple[2 * b:b], back1[2 * b:b], back2[2 * b:b],
                                 triple[b:0], back1[b:0], back2[b:0])

    @always_seq(clk.posedge, reset=rst)
    def forward():
        if (adv or not v1) and take:
            cg1.next = cg
            fwd1.next = v1 and cg1 == cg
            prev_triple.next = triple
            prev_back1.next = back1

    # Cg = 1: the column memories are one word each, and the beat in stage 1 always finds the
    # previous beat's columns there (written as that beat left stage 1): two registers, no
    # read registers, no forwarding
    @always_seq(clk.posedge, reset=None)
    def column_regs():
        if we:
            col1r.next = triple
            col2r.next = back1

    @always_comb
    def columns_one():
        triple.next = concat(d1, up1, up2)
        back1.next = col1r
        back2.next = col2r

    if cg_n == 1:
        return mems, handshake, column_regs, columns_one, stage1, stage2
    mems += [ram(clk, we, cg1, triple, take, cg, col1_q, depth=cg_n),   # col1
             ram(clk, we, cg1, back1, take, cg, col2_q, depth=cg_n)]    # col2
    return mems, handshake, columns, forward, stage1, stage2
