"""Preprocess: camera pixels -> the CNN's n x n input, the arithmetic of ``model/preprocess.py``.

Input ``s``: ``frame_assembler`` beats (pixels with their x, y; a GOOD or BAD verdict per
frame; no ready: one beat per clock is always taken). Output ``m``: the CNN's raw pixels
(8-bit unsigned, raster order, valid/ready), one n x n image per good frame.

Three stages, the first two at the pixel rate, the last once per frame::

    pixel -> [A] luma (shift-add), crop and cell position (counters, no division)
          -> [B] box sums: a running sum over the f pixels of a cell's row segment, and one
                 partial sum per cell column (``acc``) over its f rows; a finished cell
                 (sum >> shift) goes to the write bank of a two-bank cell buffer
    GOOD  -> [N] normaliser, on the other bank: for every cell the max over its clipped
                 (2 radius + 1)^2 window, one read per clock, ink = max - cell into an ink
                 buffer; recip = (out_max << 8) // max ink (restoring division, one bit per
                 clock); out = (ink * recip) >> 8 (shift-add over ink's 8 bits), optional
                 threshold, onto ``m``.

When the window covers the whole image for every cell (r >= n - 1, digits_cnn's 8 x 8), the
background is one number, the frame's largest cell, and the largest ink is that minus the
smallest cell: stage B keeps both while it writes the cells, so the normaliser needs no window
scan and no ink buffer (ink = background - cell as it reads each cell for the product). Same
arithmetic, about n^2 (2 r + 1)^2 fewer clocks and a block RAM less.

The banks swap when the normaliser takes a frame, so the next frame accumulates while this
one is normalised. A good frame that arrives while the normaliser is still busy is dropped
(``dropped`` pulses), so frames never queue up; so is one that arrives while ``allow`` is low
(the system holds it low while it cannot take another result); a bad frame is ignored (its cells are
overwritten by the next frame, which rewrites every cell).

``accepted`` pulses when the normaliser takes a frame. Normalising costs about
n^2 ((2 r + 1)^2 + 1) + n^2 * 12 clocks plus output stalls, n^2 * 12 with the global
background (``normalise_cycles``).
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, concat, enum, intbv

from model.preprocess import GRAY_WEIGHTS, RECIP_SHIFT, Geometry

from ..lib.ram import ram
from ..lib.stream import check_stream
from . import frame_assembler as fa

INK_BITS = 8


def global_background(geo: Geometry) -> bool:
    """Every cell's (2 r + 1)^2 window covers the whole n x n image."""
    return geo.radius >= geo.n - 1


def normalise_cycles(geo: Geometry) -> int:
    """Clocks from taking a good verdict to the transfer of the frame's last CNN pixel, with
    the CNN always ready and some ink in the frame (none: the division takes 1 clock).

    The verdict reaches the normaliser 2 clocks after it is taken; window: per cell 1 setup
    clock and one per cell of its clipped window, then 3 while the last ink is written; whole:
    1; then the division (one clock per quotient bit) and per cell READ, LOAD, the 8-step
    product and 2 clocks of output handshake. The window scan's reads are registered once
    before the comparison (a block RAM's clock-to-out leaves no time for logic after it)."""
    n, r = geo.n, geo.radius
    div = (geo.out_max << RECIP_SHIFT).bit_length()
    per_cell = INK_BITS + 4
    if global_background(geo):
        return 2 + 1 + div + n * n * per_cell
    reads = sum((min(n - 1, y + r) - max(0, y - r) + 1) * (min(n - 1, x + r) - max(0, x - r) + 1)
                for y in range(n) for x in range(n))
    return 2 + n * n + reads + 3 + div + n * n * per_cell


# The luma weights as sums of powers of two, so no multiplier is inferred (the UP5K's DSPs all
# go to the CNN): 77 = 64 + 8 + 4 + 1, 150 = 128 + 16 + 4 + 2, 29 = 16 + 8 + 4 + 1.
SHIFT_TERMS = ((6, 3, 2, 0), (7, 4, 2, 1), (4, 3, 2, 0))
assert tuple(sum(1 << k for k in t) for t in SHIFT_TERMS) == GRAY_WEIGHTS


@block
def preprocess(clk, rst, s, m, allow, accepted, dropped, *, geo: Geometry):
    check_stream("s", s, bits=fa.out_bits(geo.width, geo.height), ready=None, signed=False)
    check_stream("m", m, bits=8, ready=True, signed=False)
    n, f, r = geo.n, geo.factor, geo.radius
    xb, yb = fa.coord_bits(geo.width, geo.height)
    body = fa.out_bits(geo.width, geo.height) - fa.KIND_BITS
    top = fa.out_bits(geo.width, geo.height)
    cbits = max(1, (n * n - 1).bit_length())
    sum_max = 255 * f * f + 1
    shift = geo.shift
    x0, y0 = geo.x0, geo.y0
    dividend = geo.out_max << RECIP_SHIFT
    qbits = dividend.bit_length()
    thresh = geo.threshold if geo.threshold is not None else 1
    use_thresh = geo.threshold is not None
    out_max = geo.out_max
    whole = global_background(geo)

    # ---- input fields and luma (combinational) ----
    kind = Signal(intbv(0)[fa.KIND_BITS:])
    px = Signal(intbv(0)[xb:])
    py = Signal(intbv(0)[yb:])
    r8, g8, b8 = (Signal(intbv(0)[8:]) for _ in range(3))
    luma = Signal(intbv(0)[8:])
    lsum = Signal(intbv(0)[16:])  # at most 256 * 255

    @always_comb
    def fields():
        kind.next = s.data[top:body]
        py.next = s.data[16 + xb + yb:16 + xb]
        px.next = s.data[16 + xb:16]
        r8.next = concat(s.data[16:11], s.data[16:13])
        g8.next = concat(s.data[11:5], s.data[11:9])
        b8.next = concat(s.data[5:0], s.data[5:2])

    @always_comb
    def weigh():
        lsum.next = (((r8 << 6) + (r8 << 3) + (r8 << 2) + r8)
                     + ((g8 << 7) + (g8 << 4) + (g8 << 2) + (g8 << 1))
                     + ((b8 << 4) + (b8 << 3) + (b8 << 2) + b8))

    @always_comb
    def to_luma():
        luma.next = lsum[16:8]

    # ---- stage A: crop and cell position ----
    fy, fx = (Signal(intbv(0, min=0, max=f)) for _ in range(2))
    cy, cx = (Signal(intbv(0, min=0, max=n)) for _ in range(2))
    rowbase = Signal(intbv(0, min=0, max=n * n))
    rowin, colin = Signal(bool(0)), Signal(bool(0))
    nfy, nfx = (Signal(intbv(0, min=0, max=f)) for _ in range(2))
    ncy, ncx = (Signal(intbv(0, min=0, max=n)) for _ in range(2))
    nrowbase = Signal(intbv(0, min=0, max=n * n))
    nrowin, ncolin = Signal(bool(0)), Signal(bool(0))

    @always_comb
    def position():
        nfy.next = fy
        ncy.next = cy
        nrowbase.next = rowbase
        nrowin.next = rowin
        if px == 0:  # a new line
            if py == y0:
                nfy.next = 0
                ncy.next = 0
                nrowbase.next = 0
                nrowin.next = 1
            elif py == 0:
                nrowin.next = 0
            elif rowin:
                if fy == f - 1:
                    nfy.next = 0
                    if cy == n - 1:
                        nrowin.next = 0
                    else:
                        ncy.next = cy + 1
                        nrowbase.next = rowbase + n
                else:
                    nfy.next = fy + 1
        nfx.next = fx
        ncx.next = cx
        ncolin.next = colin
        if px == x0:
            nfx.next = 0
            ncx.next = 0
            ncolin.next = 1
        elif px == 0:
            ncolin.next = 0
        elif colin:
            if fx == f - 1:
                nfx.next = 0
                if cx == n - 1:
                    ncolin.next = 0
                else:
                    ncx.next = cx + 1
            else:
                nfx.next = fx + 1

    a_valid, a_good = Signal(bool(0)), Signal(bool(0))
    a_g = Signal(intbv(0)[8:])
    a_cx = Signal(intbv(0, min=0, max=n))
    a_cell = Signal(intbv(0)[cbits:])
    a_fx_first, a_fx_last, a_fy_first, a_fy_last = (Signal(bool(0)) for _ in range(4))

    @always_seq(clk.posedge, reset=rst)
    def stage_a():
        a_valid.next = 0
        a_good.next = 0
        if s.valid:
            if kind == fa.KIND_PIXEL:
                fy.next = nfy
                cy.next = ncy
                rowbase.next = nrowbase
                rowin.next = nrowin
                fx.next = nfx
                cx.next = ncx
                colin.next = ncolin
                a_valid.next = nrowin and ncolin
                a_g.next = luma
                a_cx.next = ncx
                a_cell.next = nrowbase + ncx
                a_fx_first.next = nfx == 0
                a_fx_last.next = nfx == f - 1
                a_fy_first.next = nfy == 0
                a_fy_last.next = nfy == f - 1
            elif kind == fa.KIND_GOOD:
                a_good.next = 1

    # ---- stage B: box sums into the write bank ----
    # acc: one partial sum per cell column, in a small RAM read as stage A takes the pixel
    # (so its word is there in stage B) and written in stage B; with f >= 2 a column's word
    # is read again only a line later, with f = 1 it is never read (every row is a cell's first)
    acc_re, acc_we = Signal(bool(0)), Signal(bool(0))
    acc_raddr, acc_waddr = (Signal(intbv(0, min=0, max=n)) for _ in range(2))
    acc_rdata, acc_wdata = (Signal(intbv(0, min=0, max=sum_max)) for _ in range(2))
    part = Signal(intbv(0, min=0, max=sum_max))
    seg = Signal(intbv(0, min=0, max=sum_max))
    total = Signal(intbv(0, min=0, max=sum_max))
    wbank = Signal(bool(0))
    fb_we = Signal(bool(0))
    fb_waddr = Signal(intbv(0)[cbits + 1:])
    fb_wdata = Signal(intbv(0)[8:])
    b_good = Signal(bool(0))
    cell_val = Signal(intbv(0)[8:])
    fmax, fmin = Signal(intbv(0)[8:]), Signal(intbv(0)[8:])  # of the cells written (whole)

    @always_comb
    def acc_ports():
        acc_re.next = s.valid and kind == fa.KIND_PIXEL
        acc_raddr.next = ncx
        acc_we.next = a_valid and a_fx_last and not a_fy_last
        acc_waddr.next = a_cx
        acc_wdata.next = total

    @always_comb
    def box():
        if a_fx_first:
            seg.next = a_g
        else:
            seg.next = part + a_g
        if a_fy_first:
            total.next = seg
        else:
            total.next = acc_rdata + seg
        cell_val.next = total >> shift

    @always_seq(clk.posedge, reset=rst)
    def stage_b():
        fb_we.next = 0
        b_good.next = a_good
        if a_valid:
            if a_fx_last:
                if a_fy_last:
                    fb_we.next = 1
                    fb_waddr.next = concat(wbank, a_cell)
                    fb_wdata.next = cell_val
                    if whole:  # a frame's cells come in order, cell 0 first
                        if a_cell == 0 or cell_val > fmax:
                            fmax.next = cell_val
                        if a_cell == 0 or cell_val < fmin:
                            fmin.next = cell_val
            else:
                part.next = seg

    # ---- N: the normaliser on the read bank ----
    State = enum("IDLE", "SETUP", "SCAN", "FLUSH", "DIV", "READ", "LOAD", "MUL", "OUT")
    state = Signal(State.IDLE)
    rbank = Signal(bool(0))
    fb_re = Signal(bool(0))
    fb_raddr = Signal(intbv(0)[cbits + 1:])
    fb_rdata = Signal(intbv(0)[8:])
    ccy, ccx = (Signal(intbv(0, min=0, max=n)) for _ in range(2))
    cbase = Signal(intbv(0, min=0, max=n * n))          # ccy * n
    wy, wx, wy_end, wx_start, wx_end = (Signal(intbv(0, min=0, max=n)) for _ in range(5))
    wbase = Signal(intbv(0, min=0, max=n * n))          # wy * n
    d_valid, d_first, d_center, d_last = (Signal(bool(0)) for _ in range(4))
    # window: the scan's read and its flags a clock later, in registers (q_*)
    q_valid, q_first, q_center, q_last = (Signal(bool(0)) for _ in range(4))
    q_data = Signal(intbv(0)[8:])
    d_cell = Signal(intbv(0)[cbits:])
    d_end = Signal(bool(0))
    bgmax, cval = Signal(intbv(0)[8:]), Signal(intbv(0)[8:])
    cur_max, cur_c = Signal(intbv(0)[8:]), Signal(intbv(0)[8:])
    first = Signal(bool(0))
    max_ink = Signal(intbv(0)[INK_BITS:])
    ink_we = Signal(bool(0))
    ink_waddr = Signal(intbv(0)[cbits:])
    ink_wdata = Signal(intbv(0)[INK_BITS:])
    ink_re = Signal(bool(0))
    ink_raddr = Signal(intbv(0)[cbits:])
    ink_rdata = Signal(intbv(0)[INK_BITS:])
    rem = Signal(intbv(0)[INK_BITS + 1:])
    rem2 = Signal(intbv(0)[INK_BITS + 2:])
    dreg = Signal(intbv(0)[qbits:])
    recip = Signal(intbv(0)[qbits:])
    step = Signal(intbv(0, min=0, max=max(qbits, INK_BITS) + 1))
    mcand = Signal(intbv(0)[qbits + INK_BITS:])
    mplier = Signal(intbv(0)[INK_BITS:])
    prod = Signal(intbv(0)[qbits + INK_BITS:])
    scaled = Signal(intbv(0)[qbits:])
    out_cell = Signal(intbv(0)[cbits:])
    scan_cell = Signal(intbv(0)[cbits:])

    @always_comb
    def reads():  # the buffers are read where the state says, data one clock later
        scan_cell.next = wbase + wx
        if whole:  # the cells themselves, for the product
            fb_re.next = state == State.READ
        else:
            fb_re.next = state == State.SCAN

    @always_comb
    def scan_address():
        if whole:
            fb_raddr.next = concat(rbank, out_cell)
        else:
            fb_raddr.next = concat(rbank, scan_cell)

    ink_in = Signal(intbv(0)[INK_BITS:])  # the multiplier's operand, LOAD reads it

    @always_comb
    def ink_of_cell():  # whole: the cell read for the product against the background
        ink_in.next = bgmax - fb_rdata

    @always_comb
    def ink_read():  # window: the ink buffer, at the cell being output
        ink_re.next = state == State.READ
        ink_raddr.next = out_cell
        ink_in.next = ink_rdata

    @always_seq(clk.posedge, reset=rst)
    def ink_store():  # window: a cell's ink, once its window scan is complete
        if state == State.SCAN:
            d_cell.next = cbase + ccx
        ink_we.next = 0
        if q_valid and q_last:
            ink_we.next = 1
            ink_waddr.next = d_cell
            ink_wdata.next = cur_max - cur_c

    @always_seq(clk.posedge, reset=rst)
    def window_read():  # window: the block RAM's read, registered before any logic
        q_valid.next = d_valid
        q_first.next = d_first
        q_center.next = d_center
        q_last.next = d_last
        q_data.next = fb_rdata

    @always_comb
    def window():
        if q_first or bgmax < q_data:
            cur_max.next = q_data
        else:
            cur_max.next = bgmax
        if q_center:
            cur_c.next = q_data
        else:
            cur_c.next = cval
        rem2.next = concat(rem, dreg[qbits - 1])
        scaled.next = prod[qbits + INK_BITS:RECIP_SHIFT]

    @always_seq(clk.posedge, reset=rst)
    def normalise():
        accepted.next = 0
        dropped.next = 0
        d_valid.next = 0
        if b_good:
            if state == State.IDLE and allow:
                accepted.next = 1
                wbank.next = not wbank
                rbank.next = wbank
                if whole:  # background and largest ink are known already
                    bgmax.next = fmax
                    max_ink.next = fmax - fmin
                    state.next = State.FLUSH
                else:
                    ccy.next = 0
                    ccx.next = 0
                    cbase.next = 0
                    max_ink.next = 0
                    state.next = State.SETUP
            else:
                dropped.next = 1
        # the reads of the window scan come back one clock later, and are registered
        if q_valid:
            bgmax.next = cur_max
            cval.next = cur_c
            if q_last:
                if cur_max - cur_c > max_ink:
                    max_ink.next = cur_max - cur_c
        if state == State.IDLE:
            step.next = 0
        elif state == State.SETUP and not whole:
            if ccy >= r:
                wy.next = ccy - r
                wbase.next = cbase - r * n
            else:
                wy.next = 0
                wbase.next = 0
            if ccy + r <= n - 1:
                wy_end.next = ccy + r
            else:
                wy_end.next = n - 1
            if ccx >= r:
                wx_start.next = ccx - r
                wx.next = ccx - r
            else:
                wx_start.next = 0
                wx.next = 0
            if ccx + r <= n - 1:
                wx_end.next = ccx + r
            else:
                wx_end.next = n - 1
            first.next = 1
            state.next = State.SCAN
        elif state == State.SCAN and not whole:
            d_valid.next = 1
            d_first.next = first
            first.next = 0
            d_center.next = wy == ccy and wx == ccx
            d_last.next = wy == wy_end and wx == wx_end
            if wx == wx_end:
                wx.next = wx_start
                if wy == wy_end:
                    if ccx == n - 1:
                        ccx.next = 0
                        if ccy == n - 1:
                            state.next = State.FLUSH
                        else:
                            ccy.next = ccy + 1
                            cbase.next = cbase + n
                            state.next = State.SETUP
                    else:
                        ccx.next = ccx + 1
                        state.next = State.SETUP
                else:
                    wy.next = wy + 1
                    wbase.next = wbase + n
            else:
                wx.next = wx + 1
        elif state == State.FLUSH:  # the last cell's ink is being written
            if not d_valid and not q_valid:
                rem.next = 0
                dreg.next = dividend
                recip.next = 0
                step.next = 0
                state.next = State.DIV
        elif state == State.DIV:
            if max_ink == 0:
                recip.next = 0
                out_cell.next = 0
                state.next = State.READ
            else:
                if rem2 >= max_ink:
                    rem.next = rem2 - max_ink
                    recip.next = concat(recip[qbits - 1:0], True)
                else:
                    rem.next = rem2
                    recip.next = concat(recip[qbits - 1:0], False)
                dreg.next = concat(dreg[qbits - 1:0], False)
                if step == qbits - 1:
                    out_cell.next = 0
                    state.next = State.READ
                else:
                    step.next = step + 1
        elif state == State.READ:
            state.next = State.LOAD
        elif state == State.LOAD:
            mplier.next = ink_in
            mcand.next = recip
            prod.next = 0
            step.next = 0
            state.next = State.MUL
        elif state == State.MUL:
            if mplier[0]:
                prod.next = prod + mcand
            mplier.next = mplier >> 1
            mcand.next = mcand << 1
            if step == INK_BITS - 1:
                state.next = State.OUT
            else:
                step.next = step + 1
        else:  # State.OUT
            if not m.valid:
                m.valid.next = 1
                if use_thresh:
                    if scaled >= thresh:
                        m.data.next = out_max
                    else:
                        m.data.next = 0
                else:
                    m.data.next = scaled[8:]
            elif m.ready:
                m.valid.next = 0
                if out_cell == n * n - 1:
                    state.next = State.IDLE
                else:
                    out_cell.next = out_cell + 1
                    state.next = State.READ

    accs = ram(clk, acc_we, acc_waddr, acc_wdata, acc_re, acc_raddr, acc_rdata, depth=n)
    cells = ram(clk, fb_we, fb_waddr, fb_wdata, fb_re, fb_raddr, fb_rdata, depth=2 << cbits)
    if whole:
        ink = [ink_of_cell]
    else:
        ink = [ink_read, ink_store, ram(clk, ink_we, ink_waddr, ink_wdata, ink_re, ink_raddr,
                                        ink_rdata, depth=1 << cbits)]

    return (fields, weigh, to_luma, position, stage_a, acc_ports, box, stage_b, accs, reads,
            scan_address, window_read, window, normalise, cells, ink)
