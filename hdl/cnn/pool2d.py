"""kh x kw pooling, stride the window, 'valid' (2x2, 3x3, ResNet-8's 8x8, keyword spotting's
25x5 average over its whole map: any window up to 64 a side): the max (``golden.maxpool``) or the average
(``golden.avgpool``, TFLite's int8 AVERAGE_POOL_2D), streaming, on int8 values in NHWC raster
order.

Input ``s``: one int8 value per beat, channel fastest, then column, then row (H x W x C); with
``lanes`` > 1 every beat carries that many consecutive channels of one pixel, lane i in bits
[8i+7 : 8i], in and out (after a convolution whose drain is as wide as its PE array).
Output ``m``: the pooled (H//kh) x (W//kw) x C tensor in the same order; the rows and columns
past the last whole window are read and dropped, as TFLite's VALID pooling does.

One memory, ``acc``: (W//kw) x C/lanes words, a window's running result per output column and
channel word (the max so far, or the sum in ``sum_bits`` a lane). Every beat reads its word
and writes it back combined with the beat (read-modify-write, one a clock). A beat right after
one with the same address (one channel word: a window's next column) takes the previous result
as the RAM forwards it (``ram(forward=True)``: its read on that edge would return the old word).

Average: the window's sum (``sum_bits`` signed) over kh*kw, rounded half away from zero (C's
``(s + n/2) / n`` for s > 0, ``(s - n/2) / n`` otherwise), clamped to [act_min, act_max]. The
division is a multiply by a constant and a shift (``divider``), proven equal to the division
for every sum a window can make when the block is built.

Pipeline, one clock each: the beat and its RAM read (stage 1); the combined word, written back
(stage 2 holds a finished window's result); for the average, the magnitude plus half the count,
then its product by the divider's constant, shifted; the output register (for the average the
sign and the clamp before it). No clock holds more than one add or one multiply. All stages
move together when the output register is free or being emptied (``s.ready = not m.valid or
m.ready``), so an image takes ``H * W * C / lanes`` clocks, and a window's result leaves
``LATENCY[op]`` clocks after the beat that completes it (``trace``).
"""
from __future__ import annotations

from myhdl import Signal, always, always_comb, always_seq, block, intbv

from model.qnet import signed_bits

from ..lib.counters import raster
from ..lib.ram import ram
from ..lib.stream import check_stream, concat_lanes, lane_of

OPS = ("max", "avg")
MAX_SIDE = 64   # a window's sides


def pair(k) -> tuple[int, int]:
    """(rows, columns) of a window given as one number or a pair."""
    if isinstance(k, (tuple, list)):
        return int(k[0]), int(k[1])
    return int(k), int(k)
# clocks from the beat that completes a window to its result on ``m``, per op
LATENCY = {"max": 3, "avg": 5}


def cycles(h: int, w: int, c: int, lanes: int = 1) -> int:
    """Clocks per image with no input gaps or output stalls (one beat per clock)."""
    return h * w * c // lanes


def trace(h: int, w: int, c: int, k, t_in, op: str = "max") -> list[int]:
    """Timing model of one image: ``t_in[i]`` is the clock input value i is taken (the values
    of one beat share it); each output leaves ``LATENCY[op]`` clocks after the input value
    that completes its window (``k``: one side, or (rows, columns))."""
    kh, kw = pair(k)
    return [t_in[((kh * py + kh - 1) * w + kw * px + kw - 1) * c + ch] + LATENCY[op]
            for py in range(h // kh) for px in range(w // kw) for ch in range(c)]


def sum_bits(k) -> int:
    """Signed bits of a window's sum of int8 values (``k``: one side, or (rows, columns))."""
    kh, kw = pair(k)
    return signed_bits(kh * kw * 128)


def divider(count: int, largest: int) -> tuple[int, int]:
    """(multiplier, shift) with (n * multiplier) >> shift == n // count for every n in
    [0, largest]: the fewest shift bits that work, checked value by value."""
    for shift in range(0, 32):
        mult = -(-(1 << shift) // count)
        if all((n * mult) >> shift == n // count for n in range(largest + 1)):
            return mult, shift
    raise ValueError(f"no multiplier divides by {count} exactly up to {largest}")


def check_params(h: int, w: int, c: int, k, op: str, lanes: int = 1) -> None:
    if op not in OPS:
        raise ValueError(f"op={op!r} must be one of {OPS}")
    kh, kw = pair(k)
    if kh * kw < 2 or not (1 <= kh <= MAX_SIDE and 1 <= kw <= MAX_SIDE):
        raise ValueError(f"pool {kh}x{kw}: a pool's sides must each be 1 to {MAX_SIDE}, the "
                         f"window at least 2 values")
    if h < kh or w < kw:
        raise ValueError(f"{h}x{w}: a {kh}x{kw} pool needs at least {kh} rows and {kw} "
                         f"columns")
    if c < 1:
        raise ValueError(f"C={c} must be at least 1")
    if lanes < 1 or c % lanes:
        raise ValueError(f"lanes={lanes} must divide C={c}")


@block
def combine_lane(first, x, base, merged, *, op: str):
    """merged = x on a window's first beat, else max(base, x) or base + x (x int8, base and
    merged as wide as the lane's running value)."""
    if op == "max":
        @always_comb
        def pick():
            if first or x > base:
                merged.next = x
            else:
                merged.next = base

        return pick

    @always_comb
    def add():
        if first:
            merged.next = x
        else:
            merged.next = base + x

    return add


@block
def average_lane(clk, en, total, out, *, count: int, mult: int, shift: int, act_min: int,
                 act_max: int):
    """out = clamp(round_half_away(total / count)), int8, two clocks after ``total`` (while
    ``en``): the magnitude plus half the count into a register, its product by ``mult``
    shifted into a register, then the sign and the clamp (combinational, into the output
    register)."""
    half = count // 2
    top = (-total.min + half) // count
    mag = Signal(intbv(0, min=0, max=-total.min + half + 1))
    q = Signal(intbv(0, min=0, max=top + 1))
    neg3, neg4 = Signal(bool(0)), Signal(bool(0))
    v = Signal(intbv(0, min=-top, max=top + 1))

    @always(clk.posedge)
    def magnitude():
        if en:
            neg3.next = total < 0
            if total < 0:
                mag.next = half - total
            else:
                mag.next = total + half

    @always(clk.posedge)
    def divide():
        if en:
            neg4.next = neg3
            q.next = (mag * mult) >> shift

    @always_comb
    def sign():
        if neg4:
            v.next = -q
        else:
            v.next = q

    @always_comb
    def clamp():
        if v < act_min:
            out.next = act_min
        elif v > act_max:
            out.next = act_max
        else:
            out.next = v

    return magnitude, divide, sign, clamp


@block
def pool2d(clk, rst, s, m, *, h: int, w: int, c: int, k, op: str, lanes: int = 1,
           act_min: int = -128, act_max: int = 127):
    check_params(h, w, c, k, op, lanes)
    kh, kw = pair(k)
    signed = lanes == 1
    check_stream("s", s, bits=8 * lanes, ready=True, signed=signed)
    check_stream("m", m, bits=8 * lanes, ready=True, signed=signed)
    cg_n = c // lanes
    oh, ow = h // kh, w // kw
    depth = ow * cg_n
    lb = 8 if op == "max" else sum_bits(k)   # bits of a lane's running value
    wb = lb * lanes

    en = Signal(bool(0))
    take = Signal(bool(0))
    # the next beat's position
    y = Signal(intbv(0, min=0, max=h))
    x = Signal(intbv(0, min=0, max=w))
    g = Signal(intbv(0, min=0, max=max(2, cg_n)))
    ky = Signal(intbv(0, min=0, max=max(2, kh)))
    kx = Signal(intbv(0, min=0, max=max(2, kw)))
    col = Signal(intbv(0, min=0, max=ow + 1))        # x // kw
    addr = Signal(intbv(0, min=0, max=max(2, depth)))
    base_addr = Signal(intbv(0, min=0, max=max(2, depth)))  # the window's first channel word
    keep = Signal(bool(0))
    read = Signal(bool(0))
    # stage 1
    v1, keep1, first1, last1 = (Signal(bool(0)) for _ in range(4))
    d1 = Signal(intbv(0, min=s.data.min, max=s.data.max))
    a1 = Signal(intbv(0, min=0, max=max(2, depth)))
    base = Signal(intbv(0)[wb:])    # the window's result so far (the write before forwarded)
    merged = Signal(intbv(0)[wb:])
    we = Signal(bool(0))
    # stage 2
    v2 = Signal(bool(0))
    v3, v4 = Signal(bool(0)), Signal(bool(0))  # the average's divide stages
    v_out = v4 if op == "avg" else v2
    r2 = Signal(intbv(0)[wb:])
    result = Signal(intbv(0, min=m.data.min, max=m.data.max))
    # whether the beat is in a whole window: flags that change where the counters cross the
    # last whole window's edge (an edge that does not exist gets the last row or column, which
    # the wrap branch takes first, so it never matches)
    row_keep = Signal(bool(1))
    col_keep = Signal(bool(1))
    row_edge = oh * kh - 1 if oh * kh < h else h - 1
    col_edge = ow * kw - 1 if ow * kw < w else w - 1

    insts = [ram(clk, we, a1, merged, read, addr, base, depth=depth, forward=True),
             raster(clk, rst, take, g, x, y, groups=cg_n, w=w, h=h)]
    news, outs = [], []
    for i in range(lanes):
        xi = Signal(intbv(0, min=-128, max=128))
        bi = Signal(intbv(0, min=-(1 << (lb - 1)), max=1 << (lb - 1)))
        ni = Signal(intbv(0, min=-(1 << (lb - 1)), max=1 << (lb - 1)))
        insts += [lane_of(d1, xi, i=i), lane_of(base, bi, i=i, bits=lb),
                  combine_lane(first1, xi, bi, ni, op=op)]
        news.append(ni)
        if op == "avg":
            ti = Signal(intbv(0, min=-(1 << (lb - 1)), max=1 << (lb - 1)))
            oi = Signal(intbv(0, min=-128, max=128))
            count = kh * kw
            mult, shift = divider(count, count * 128 + count // 2)
            insts += [lane_of(r2, ti, i=i, bits=lb),
                      average_lane(clk, en, ti, oi, count=count, mult=mult, shift=shift,
                                   act_min=act_min, act_max=act_max)]
            outs.append(oi)
    insts.append(concat_lanes(news, merged))
    if op == "avg":
        insts.append(concat_lanes(outs, result))

    @always_comb
    def handshake():
        en.next = not m.valid or m.ready
        s.ready.next = not m.valid or m.ready
        take.next = s.valid and (not m.valid or m.ready)
        keep.next = row_keep and col_keep

    @always_comb
    def ports():
        read.next = s.valid and (not m.valid or m.ready) and row_keep and col_keep
        we.next = (not m.valid or m.ready) and v1 and keep1

    # the window counters step with the raster counters (g, x, y): same conditions
    @always_seq(clk.posedge, reset=rst)
    def counters():
        if take:
            if g == cg_n - 1:
                if x == w - 1:
                    kx.next = 0
                    col.next = 0
                    addr.next = 0
                    base_addr.next = 0
                    col_keep.next = True
                    if y == h - 1:
                        ky.next = 0
                        row_keep.next = True
                    else:
                        if y == row_edge:
                            row_keep.next = False
                        if ky == kh - 1:
                            ky.next = 0
                        else:
                            ky.next = ky + 1
                else:
                    if x == col_edge:
                        col_keep.next = False
                    if kx == kw - 1:
                        kx.next = 0
                        col.next = col + 1
                        if col + 1 < ow:  # the next window's words
                            addr.next = addr + 1
                            base_addr.next = addr + 1
                        else:  # past the last whole window: unused, kept in range
                            addr.next = base_addr
                    else:
                        kx.next = kx + 1
                        addr.next = base_addr
            else:
                addr.next = addr + 1

    @always_seq(clk.posedge, reset=rst)
    def stages():
        if en:
            v1.next = take
            if take:
                d1.next = s.data
                a1.next = addr
                keep1.next = keep
                first1.next = ky == 0 and kx == 0
                last1.next = ky == kh - 1 and kx == kw - 1
            v2.next = v1 and keep1 and last1
            if v1:
                r2.next = merged
            m.valid.next = v_out
            if v_out:
                m.data.next = result

    if op == "avg":
        @always_seq(clk.posedge, reset=rst)
        def divide_stages():
            if en:
                v3.next = v2
                v4.next = v3

        insts.append(divide_stages)
    if op == "max":
        if signed:
            @always_comb
            def finish():
                result.next = r2.signed()
        else:
            @always_comb
            def finish():
                result.next = r2

        insts.append(finish)
    return insts, handshake, ports, counters, stages

