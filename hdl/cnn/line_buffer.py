"""Window generator for a k x k convolution: k-1 row buffers and a k x k window, every window
or (stride 2) every other one in both directions.

Input ``s``: an H x W x C image in raster order (NHWC; a 'same' layer's padded image, from
``pad2d``), ``simd`` channels per beat (a packed word, lane ``i`` in bits ``[8i+7:8i]``), so
``Cg = C / simd`` beats per pixel.

Output ``m``: one beat per (output position, channel group), in raster order: for every input
beat at row y >= k-1 and column x >= k-1 (with stride 2 only where y - (k-1) and x - (k-1) are
even; k is odd) the window of rows y-k+1..y and columns x-k+1..x for that beat's ``simd``
channels. Word layout: tap ``t = ky*k + kx`` (TFLite's OHWI order) in bits ``[t*B + B-1 :
t*B]`` with ``B = 8*simd``, lanes inside as on the input. An image gives ((H-k)//stride + 1) x
((W-k)//stride + 1) x Cg window beats.

Memories (all ``ram``: one write and one registered read per clock, block-RAM shaped):

``row0`` .. ``row(k-2)``  W x Cg words each: for the column being received, the pixels k-1 ..
                          1 rows up. A beat reads all at its address and writes them back
                          shifted (row i <- row i+1's word, the last <- the new word) one
                          clock later.
``col1`` .. ``col(k-1)``  Cg words of k rows each (the window's columns one .. k-1 pixels back),
                          shifted the same way: the window register, kept as memory so a deep
                          channel count costs block RAM, not flip-flops. Consecutive beats have
                          different channel groups, so a read never meets the write before it.
                          With Cg = 1 (a first layer's one channel) they are registers instead,
                          written as a beat leaves stage 1 and read directly.

Rows that are block RAMs are one memory, k-1 rows side by side in a word (all rows share
their addresses and write enable): two 1,024 x 8 rows take one 18-bit-wide DP16KD, not two.

A row memory that is a block RAM reads ahead (``ahead``; by default a row of ``AHEAD_BITS`` or more
that Yosys gives a DP16KD on the ECP5, ``hdl.lib.memories.blocks``): every clock, at the
address the next beat will have (``addr``, or the one after it when a beat is taken this
clock), into its own register, and a fabric register takes that word with the beat. So the
block RAM's read (5.6-5.8 ns clock-to-out on the ECP5) drives only a register, never the next
row's write or the window's column memories. Only the beat in stage 1 writes, at the address
before ``addr``, so the word read ahead is never stale (a row of 2 words forwards the write).
The same values every clock as reading with the beat. A row Yosys makes LUT RAM (the ECP5's
26 x 128-bit rows of a 3x3 layer at SIMD 16) does not: its read is fast, and reading ahead put
the handshake's multiplexer before the address of every LUT-RAM cell of the row (the fastest
mnist_cnn sweep config's limit at 4e5d16f, 6-8.7 ns of routing); it reads at the address
register with the beat. Such a row is cut into pieces of ``ADDR_CHUNK`` bits, each a memory with
its own copy of the row address and of the write address (``addr_dup``, ``a1_dup``; the first
piece has stage 1's own), so no one
address register reaches every LUT-RAM cell of a wide row (the fastest mnist_cnn sweep config
at 03a4ccf, seed 1: conv2's ``addr`` 10.6 ns of routing to one of its 64 cells).

k = 1 needs neither: the window is the beat (a 1x1 convolution; with stride 2 it decimates).

Pipeline: the beat is registered with its reads (stage 1), the window is registered on the
output (stage 2). Stage 2 advances when the output register is free or being emptied
(``adv = not m.valid or m.ready``); stage 1 takes a beat when it is empty or advancing
(``s.ready = adv or not v1``), so a stalled output still lets one more beat in. Memories are
written when a beat leaves stage 1. Input gaps and output stalls lose or duplicate nothing. One
input beat per clock: ``cycles(h, w, c, simd) = h * w * c / simd``.

Enables: ``m.ready`` decides every enable above, and the window register alone is k*k*8*SIMD
flip-flops (1,152 for 3x3 x 16 channels). Given ``full_next`` (high when ``m.ready`` will be
low at the next clock: ``mac_engine`` and ``skid_buffer`` give it), each group of registers
(stage 1's control and counters, ``s.ready``, each row memory, and every piece of at most
``CHUNK`` bits of the beat's register, the column memories and each tap of the window
register) takes its enables from its own register copy of ``m.ready`` (``enables``), so no
one net, and none of the consumer's logic, reaches them all in one clock. The same values
every clock: the cycle model does not change.
"""
from __future__ import annotations

from myhdl import ConcatSignal, Signal, always, always_comb, always_seq, block, intbv

from ..lib import memories as memories_
from ..lib.counters import raster
from ..lib.ram import ram
from ..lib.stream import check_stream, wire

KERNELS = (1, 3, 5, 7)
# a window side (rows or columns) the line buffer takes: any up to this (a square window's
# side is one of ``KERNELS``; a rectangular one, as keyword spotting's 10x4, any)
MAX_SIDE = 16
# the most flip-flops one copy of the ready enables (a wider register is cut into pieces)
CHUNK = 64
# a row memory of at least this many bits that is a block RAM on the ECP5 reads ahead into a
# fabric register (smaller rows are LUT RAM or flip-flops, whose read is fast, and on the iCE40
# every flip-flop costs a logic cell)
AHEAD_BITS = 1024
STRIDES = (1, 2)
# the bits of a LUT-RAM row of AHEAD_BITS or more that share one copy of the row address (16:
# a native width of the iCE40's EBR, so the pieces take the block RAMs the whole row would)
ADDR_CHUNK = 16


def pair(v) -> tuple[int, int]:
    """(rows, columns) of a window side or stride given as one number or a pair."""
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def cycles(h: int, w: int, c: int, simd: int = 1) -> int:
    """Clocks per image with no input gaps or output stalls (one beat per clock)."""
    return h * w * (c // simd)


def spans(lo: int, hi: int) -> list[tuple[int, int]]:
    """Bits lo..hi-1 in pieces of at most ``CHUNK``: (low, high) of each, low first."""
    return [(a, min(a + CHUNK, hi)) for a in range(lo, hi, CHUNK)]


def joined(parts: list):
    """The pieces of a register side by side, the first in the low bits."""
    return ConcatSignal(*parts[::-1]) if len(parts) > 1 else parts[0]


def out_size(size: int, k: int, stride: int) -> int:
    """Window rows (or columns) along an axis of ``size`` pixels."""
    return (size - k) // stride + 1


def check_params(h: int, w: int, c: int, simd: int, k=3, stride=1) -> None:
    """``k`` and ``stride``: one number (square) or (rows, columns)."""
    kh, kw = pair(k)
    sh, sw = pair(stride)
    if kh == kw and kh not in KERNELS:
        raise ValueError(f"k={kh}: the window side must be one of {KERNELS}")
    if kh != kw and not (2 <= kh <= MAX_SIDE and 2 <= kw <= MAX_SIDE):
        raise ValueError(f"window {kh}x{kw}: a rectangular window's sides must each be 2 to "
                         f"{MAX_SIDE}")
    for s in (sh, sw):
        if s not in STRIDES:
            raise ValueError(f"stride={s} must be one of {STRIDES}")
    if h < kh:
        raise ValueError(f"H={h}: a {kh}x{kw} window needs at least {kh} rows")
    if w < kw:
        raise ValueError(f"W={w}: a {kh}x{kw} window needs at least {kw} columns")
    if c < 1:
        raise ValueError(f"C={c} must be at least 1")
    if simd < 1 or c % simd:
        raise ValueError(f"SIMD={simd} must divide C={c}")


def reads_ahead(depth: int, bits: int) -> bool:
    """A row memory of ``depth`` words of ``bits`` reads ahead: it has ``AHEAD_BITS`` or more
    and Yosys makes it a block RAM on the ECP5 (not LUT RAM)."""
    row = memories_.Memory("ram", depth, bits, "")
    return depth * bits >= AHEAD_BITS and memories_.blocks(row, "DP16KD") > 0


@block
def address_copy(clk, rst, adv, v1, take, addr_dup, a1_dup, *, depth: int):
    """A copy of the row address (``addr_dup``, stepping as stage 1's ``addr``: back to 0
    after the row's last word) and of stage 1's write address (``a1_dup``), for one piece of a
    wide LUT-RAM row (the ``_dup`` names keep synthesis from merging the copies,
    hdl/flow/synth.py)."""

    @always_seq(clk.posedge, reset=rst)
    def step():
        if (adv or not v1) and take:
            a1_dup.next = addr_dup
            if addr_dup == depth - 1:
                addr_dup.next = 0
            else:
                addr_dup.next = addr_dup + 1

    return step


@block
def piece_reg(clk, en, d, q):
    """q <= d while ``en``: one piece of the beat, column (Cg = 1) or window register, with
    the enable of its own group."""

    @always(clk.posedge)
    def hold():
        if en:
            q.next = d

    return hold


@block
def enables(clk, rst, s_valid, v1, m_valid, m_ready, full_next, *, accept=None, take=None,
            adv=None, we=None):
    """The handshake's enables for one group of registers (each output optional): ``accept``
    (stage 1 can take a beat: ``s.ready``), ``take`` (it takes one), ``adv`` (stage 2
    advances), ``we`` (a beat leaves stage 1). With ``full_next`` (the consumer's next
    not-ready, ``skid_buffer`` and ``mac_engine`` give it) the group has its own register copy
    of ``m.ready`` (``ready_dup``: synthesis keeps such copies apart, hdl/flow/synth.py), so
    no single net drives the enables of the whole window; without, ``m.ready`` itself."""
    insts = []
    if full_next is None:
        ready_dup = m_ready  # no copy (``m_ready`` is ``None`` when there are copies)
    else:
        ready_dup = Signal(bool(1))

        @always_seq(clk.posedge, reset=rst)
        def copy():
            ready_dup.next = not full_next

        insts.append(copy)
    if accept is not None:
        @always_comb
        def accepting():
            accept.next = not m_valid or ready_dup or not v1

        insts.append(accepting)
    if take is not None:
        @always_comb
        def taking():
            take.next = s_valid and (not m_valid or ready_dup or not v1)

        insts.append(taking)
    if adv is not None:
        @always_comb
        def advancing():
            adv.next = not m_valid or ready_dup

        insts.append(advancing)
    if we is not None:
        @always_comb
        def writing():
            we.next = v1 and (not m_valid or ready_dup)

        insts.append(writing)
    return insts


@block
def line_buffer(clk, rst, s, m, *, h: int, w: int, c: int, simd: int = 1, k=3,
                stride=1, full_next=None, ahead: bool | None = None):
    check_params(h, w, c, simd, k, stride)
    kh, kw = pair(k)
    sh, sw = pair(stride)
    b = 8 * simd
    cg_n = c // simd
    check_stream("s", s, bits=b, ready=True, signed=False)
    check_stream("m", m, bits=kh * kw * b, ready=True, signed=False)
    row_depth = w * cg_n

    # input position of the next beat
    x = Signal(intbv(0, min=0, max=max(2, w)))
    y = Signal(intbv(0, min=0, max=max(2, h)))
    cg = Signal(intbv(0, min=0, max=max(2, cg_n)))
    addr = Signal(intbv(0, min=0, max=max(2, row_depth)))
    on_grid = Signal(bool(0))
    # stage 1: the beat and its reads
    v1 = Signal(bool(0))
    win1 = Signal(bool(0))
    d1 = Signal(intbv(0)[b:])
    a1 = Signal(intbv(0, min=0, max=max(2, row_depth)))
    cg1 = Signal(intbv(0, min=0, max=max(2, cg_n)))

    insts = []

    hs = (clk, rst, s.valid, v1, m.valid, m.ready if full_next is None else None,
          full_next)  # ``enables``' ports

    # stage 1's own registers and the raster counters; s.ready
    take, adv, accept = (Signal(bool(0)) for _ in range(3))
    insts.append(enables(*hs, take=take, adv=adv))
    insts.append(raster(clk, rst, take, cg, x, y, groups=cg_n, w=w, h=h))  # a beat enters
    insts += [enables(*hs, accept=accept), wire(accept, s.ready)]
    # the beat's register, in pieces of at most CHUNK bits, each with its own enable (sliced
    # from a signal of the block's own: MyHDL converts a slice of a top-level port to 0)
    data_in = Signal(intbv(0)[b:])
    parts = []
    insts.append(wire(s.data, data_in))
    for lo, hi in spans(0, b):
        q, take_c = Signal(intbv(0)[hi - lo:]), Signal(bool(0))
        insts += [enables(*hs, take=take_c), piece_reg(clk, take_c, data_in(hi, lo), q)]
        parts.append(q)
    insts.append(wire(joined(parts), d1))

    # the rows above: up[i] is row y-(kh-1)+i at this column (row i's word)
    up = [Signal(intbv(0)[b:]) for _ in range(kh - 1)]
    if ahead is None:
        ahead = reads_ahead(row_depth, b)
    ahead_addr = Signal(intbv(0, min=0, max=max(2, row_depth)))  # addr after this clock
    addr_inc = Signal(intbv(1 % max(2, row_depth), min=0, max=max(2, row_depth)))  # addr's next
    for i in range(kh - 1):
        below = up[i + 1] if i + 1 < kh - 1 else d1
        if not ahead and row_depth * b < AHEAD_BITS:
            we_i, take_i = Signal(bool(0)), Signal(bool(0))
            insts.append(enables(*hs, we=we_i, take=take_i))
            insts.append(ram(clk, we_i, a1, below, take_i, addr, up[i], depth=row_depth))
            continue
        if not ahead:  # a wide LUT-RAM row: pieces, each with its own addresses
            parts = []
            for lo in range(0, b, ADDR_CHUNK):
                hi = min(lo + ADDR_CHUNK, b)
                q, we_c, take_c = Signal(intbv(0)[hi - lo:]), Signal(bool(0)), Signal(bool(0))
                insts.append(enables(*hs, we=we_c, take=take_c))
                if lo == 0:  # the first piece takes stage 1's own addresses
                    addr_dup, a1_dup = addr, a1
                else:
                    addr_dup = Signal(intbv(0, min=0, max=max(2, row_depth)))
                    a1_dup = Signal(intbv(0, min=0, max=max(2, row_depth)))
                    insts.append(address_copy(clk, rst, adv, v1, take, addr_dup, a1_dup,
                                              depth=row_depth))
                insts.append(ram(clk, we_c, a1_dup, below(hi, lo), take_c, addr_dup, q,
                                 depth=row_depth))
                parts.append(q)
            insts.append(wire(joined(parts), up[i]))
            continue
        if i == 0:  # every row in one memory, row i in bits [i*B + B-1 : i*B] of a word
            we_i = Signal(bool(0))
            insts.append(enables(*hs, we=we_i))
            rows = Signal(intbv(0)[(kh - 1) * b:])
            written = [up[j + 1] if j + 1 < kh - 1 else d1 for j in range(kh - 1)]
            rows_in = joined(written)
            insts.append(ram(clk, we_i, a1, rows_in, None, ahead_addr, rows, depth=row_depth,
                             forward=row_depth <= 2))
        parts = []
        for lo, hi in spans(i * b, (i + 1) * b):  # the fabric register, pieces with own enables
            q, take_c = Signal(intbv(0)[hi - lo:]), Signal(bool(0))
            insts += [enables(*hs, take=take_c), piece_reg(clk, take_c, rows(hi, lo), q)]
            parts.append(q)
        insts.append(wire(joined(parts), up[i]))
    # back[j]: the window column j pixels back, rows y-kh+1 (low) .. y (high)
    back = [Signal(intbv(0)[kh * b:]) for _ in range(kw)]
    if kh == 1:
        insts.append(wire(d1, back[0]))
    else:
        insts.append(wire(ConcatSignal(*([d1] + up[::-1])), back[0]))
    for j in range(1, kw):  # in pieces of at most CHUNK bits, each with its own enables
        parts = []
        for lo, hi in spans(0, kh * b):
            q, we_c, take_c = Signal(intbv(0)[hi - lo:]), Signal(bool(0)), Signal(bool(0))
            if cg_n == 1:
                insts += [enables(*hs, we=we_c),
                          piece_reg(clk, we_c, back[j - 1](hi, lo), q)]
            else:
                insts += [enables(*hs, we=we_c, take=take_c),
                          ram(clk, we_c, cg1, back[j - 1](hi, lo), take_c, cg, q,
                              depth=cg_n)]
            parts.append(q)
        insts.append(wire(joined(parts), back[j]))
    if cg_n > 1 and kw > 1:  # the column memories' write address: the beat's channel group
        @always_seq(clk.posedge, reset=rst)
        def group1():
            if (adv or not v1) and take:
                cg1.next = cg

        insts.append(group1)
    # tap (ky, kx) = column kw-1-kx back, row ky; tap ky*kw + kx, tap 0 in the low bits.
    # Stage 2, the window register, in pieces of at most CHUNK bits of a tap, each with its
    # own enable
    held = []
    for ky in range(kh):
        for kx in range(kw):
            for lo, hi in spans(b * ky, b * (ky + 1)):
                q, adv_c = Signal(intbv(0)[hi - lo:]), Signal(bool(0))
                insts += [enables(*hs, adv=adv_c),
                          piece_reg(clk, adv_c, back[kw - 1 - kx](hi, lo), q)]
                held.append(q)
    insts.append(wire(joined(held), m.data))

    # a window ends where y - (kh-1) and x - (kw-1) are on the stride: with stride 2, where
    # y's parity is kh-1's (x's kw-1's)
    py, px = (kh - 1) % 2, (kw - 1) % 2
    if (sh, sw) == (1, 1):
        @always_comb
        def grid():
            on_grid.next = x >= kw - 1 and y >= kh - 1
    elif (sh, sw) == (2, 2):
        @always_comb
        def grid():
            on_grid.next = x >= kw - 1 and y >= kh - 1 and x[0] == px and y[0] == py
    elif sh == 2:
        @always_comb
        def grid():
            on_grid.next = x >= kw - 1 and y >= kh - 1 and y[0] == py
    else:
        @always_comb
        def grid():
            on_grid.next = x >= kw - 1 and y >= kh - 1 and x[0] == px

    # reading ahead, the row address after this clock is only a multiplexer: the address after
    # ``addr`` waits in a register (``addr_inc``), so no compare or carry chain lies between
    # the handshake and the block RAM's address
    @always_comb
    def address_ahead():
        if take:
            ahead_addr.next = addr_inc
        else:
            ahead_addr.next = addr

    @always_seq(clk.posedge, reset=rst)
    def stage1_ahead():
        if adv or not v1:
            v1.next = take
            if take:
                a1.next = addr
                win1.next = on_grid
                addr.next = addr_inc
                if addr_inc == row_depth - 1:
                    addr_inc.next = 0
                else:
                    addr_inc.next = addr_inc + 1

    @always_seq(clk.posedge, reset=rst)
    def stage1():
        if adv or not v1:
            v1.next = take
            if take:
                a1.next = addr
                win1.next = on_grid
                # the row address steps with the raster counters: back to 0 at a row's end
                if cg == cg_n - 1 and x == w - 1:
                    addr.next = 0
                else:
                    addr.next = addr + 1

    # k = 1: no memories, so no row address
    @always_seq(clk.posedge, reset=rst)
    def stage1_pointwise():
        if adv or not v1:
            v1.next = take
            if take:
                win1.next = on_grid

    @always_seq(clk.posedge, reset=rst)
    def stage2():
        if adv:
            m.valid.next = v1 and win1

    if kh == 1 and kw == 1:
        return insts, grid, stage1_pointwise, stage2
    if ahead and kh > 1:
        return insts, grid, address_ahead, stage1_ahead, stage2
    return insts, grid, stage1, stage2
