"""Global average pooling (TFLite MEAN over height and width, Keras GlobalAveragePooling2D),
bit-exact with ``golden.mean``: per channel, sum(x - zp_in) over the image, then
MultiplyByQuantizedMultiplier by the layer's one multiplier and shift (which fold s_in / s_out
and the division by H * W, ``qnet.mean_multiplier``), + zp_out, clamped to int8.

Input ``s``: the H x W x C image, one int8 value per beat in raster order, or ``lanes``
consecutive channels a beat (lane i in bits [8i+7 : 8i]). Output ``m``: the C means of an
image, channel order, in beats of the same ``lanes`` (the reshape that follows a MEAN, or
Flatten after a kept 1 x 1 x C, is free on the stream).

One memory, ``acc``: C/lanes words of ``lanes`` sums (``sum_bits`` each). Every beat reads its
channel word and writes it back plus the beat (the image's first pixel starts it from 0); with
one channel word the next beat's read meets this write, and the RAM forwards it
(``ram(forward=True)``).
The last pixel's sums go to ``lanes`` requantizers side by side (``requant``, gemmlowp), then
to a FIFO; a beat of the last pixel is taken only with a FIFO word reserved for it (a credit),
so output stalls never lose a mean.

Pipeline: the beat and its RAM read (1), the sums (2: written back; the last pixel's to the
requantizers), ``requant.LATENCY``, the FIFO (1). With the output ready an image takes
``H * W * C / lanes`` clocks, and a channel word's means leave ``DELAY`` clocks after the
image's last beat of that word (``trace``).

ROM files (``write_mems``): ``<layer>_multiplier.mem`` and ``<layer>_shift.mem``, one word
each, read by the requantizers as a one-channel layer's.
"""
from __future__ import annotations

from pathlib import Path

from myhdl import ConcatSignal, Signal, always, always_comb, always_seq, block, intbv

from model import export
from model.qnet import Layer, signed_bits

from ..lib.counters import credit_counter, raster
from ..lib.fifo import fifo
from ..lib.ram import ram
from ..lib.stream import Stream, check_stream, concat_lanes, lane_of
from . import mac_engine as me
from . import requant as rq

# clocks from the last beat of a channel word to its means on ``m``
DELAY = 2 + rq.LATENCY + 1


def sum_bits(layer: Layer) -> int:
    """Signed bits of a channel's sum of (x - zp_in) over the image."""
    h, w, _ = layer.in_shape
    return signed_bits(h * w * max(abs(-128 - layer.zp_in), abs(127 - layer.zp_in)))


def cycles(h: int, w: int, c: int, lanes: int = 1) -> int:
    """Clocks per image with no input gaps or output stalls (one beat per clock)."""
    return h * w * c // lanes


def trace(h: int, w: int, c: int, t_in) -> list[int]:
    """Timing model of one image: ``t_in[i]`` is the clock input value i is taken; mean ch
    leaves ``DELAY`` clocks after the image's last pixel's value ch."""
    return [t_in[(h * w - 1) * c + ch] + DELAY for ch in range(c)]


def fifo_depth(cg: int, per_image: int) -> int:
    """Output FIFO words: the most results the last pixels' beats (``cg`` in a row, every
    ``per_image`` clocks) start while a credit goes round (requant, FIFO, pop), so they never
    wait on an output that is ready (``mac_engine.fifo_depth``'s count)."""
    return me.fifo_depth(cg, per_image)


def write_mems(layer: Layer, folder) -> dict:
    """The multiplier and shift ROM files of a mean layer, into ``folder``; returns their
    paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"multiplier": folder / f"{layer.name}_multiplier.mem",
             "shift": folder / f"{layer.name}_shift.mem"}
    export.write_mem(paths["multiplier"], layer.multiplier, export.mult_bits(layer))
    export.write_mem(paths["shift"], layer.shift, 8)
    return paths


@block
def accumulate_lane(first, x, base, total, *, zp_in: int):
    """total = (0 on an image's first pixel, else base) + x - zp_in."""
    @always_comb
    def add():
        if first:
            total.next = x - zp_in
        else:
            total.next = base + x - zp_in

    return add


@block
def constant_zero(clk, q):
    """q = 0, a register (the requantizers' channel: a mean has one multiplier)."""
    @always(clk.posedge)
    def hold():
        q.next = 0

    return hold


@block
def mean(clk, rst, s, m, *, layer: Layer, paths: dict, lanes: int = 1):
    if layer.kind != "mean":
        raise ValueError(f"layer {layer.name} is a {layer.kind}, not mean")
    h, w, c = layer.in_shape
    if lanes < 1 or c % lanes:
        raise ValueError(f"layer {layer.name}: lanes={lanes} must divide C={c}")
    signed = lanes == 1
    check_stream("s", s, bits=8 * lanes, ready=True, signed=signed)
    check_stream("m", m, bits=8 * lanes, ready=True, signed=signed)
    cg_n = c // lanes
    sb = sum_bits(layer)
    if sb > 32:
        raise ValueError(f"layer {layer.name}: a {h}x{w} sum needs {sb} bits, TFLite has 32")
    wb = sb * lanes
    depth = fifo_depth(cg_n, h * w * cg_n)

    take = Signal(bool(0))
    y = Signal(intbv(0, min=0, max=max(2, h)))
    x = Signal(intbv(0, min=0, max=max(2, w)))
    g = Signal(intbv(0, min=0, max=max(2, cg_n)))
    first_px = Signal(bool(0))
    last_px = Signal(bool(0))
    credit = Signal(intbv(depth, min=0, max=depth + 1))
    pop = Signal(bool(0))
    take_last = Signal(bool(0))  # a last pixel's beat is taken: its means need a credit
    # stage 1
    v1, first1, last1 = (Signal(bool(0)) for _ in range(3))
    d1 = Signal(intbv(0, min=s.data.min, max=s.data.max))
    a1 = Signal(intbv(0, min=0, max=max(2, cg_n)))
    base = Signal(intbv(0)[wb:])    # the channel word's sums so far (the write before forwarded)
    total = Signal(intbv(0)[wb:])
    chan = Signal(intbv(0, min=0, max=2))

    insts = [ram(clk, v1, a1, total, take, g, base, depth=cg_n, forward=True),
             constant_zero(clk, chan), raster(clk, rst, take, g, x, y, groups=cg_n, w=w, h=h),
             credit_counter(clk, rst, take_last, pop, credit)]
    totals, q_lanes, q_valids = [], [], []
    for i in range(lanes):
        xi = Signal(intbv(0, min=-128, max=128))
        bi = Signal(intbv(0, min=-(1 << (sb - 1)), max=1 << (sb - 1)))
        ti = Signal(intbv(0, min=-(1 << (sb - 1)), max=1 << (sb - 1)))
        insts += [lane_of(d1, xi, i=i), lane_of(base, bi, i=i, bits=sb),
                  accumulate_lane(first1, xi, bi, ti, zp_in=layer.zp_in)]
        totals.append(ti)
        acc_s = Stream(sb, ready=False)
        q_s = Stream(8, ready=False)
        insts.append(lane_input(clk, rst, v1, last1, ti, acc_s))
        insts.append(rq.requant(clk, rst, acc_s, chan, q_s, mode="gemmlowp", acc_bits=sb,
                                mult_bits=export.mult_bits(layer),
                                mult_path=paths["multiplier"], shift_path=paths["shift"],
                                zp_out=layer.zp_out, act_min=-128, act_max=127))
        q_lanes.append(q_s.data)
        q_valids.append(q_s.valid)
    insts.append(concat_lanes(totals, total))
    word = Stream(8 * lanes, signed=signed, ready=False)
    insts.append(concat_lanes(q_lanes, word.data))
    insts.append(fifo(clk, rst, word, m, depth=depth))
    # the lanes keep step; the word is valid when all are (every requantizer's valid is read)
    valids = ConcatSignal(*q_valids) if lanes > 1 else q_valids[0]
    every = (1 << lanes) - 1

    @always_comb
    def position():
        first_px.next = x == 0 and y == 0
        last_px.next = x == w - 1 and y == h - 1

    @always_comb
    def handshake():
        s.ready.next = not last_px or credit != 0
        take.next = s.valid and (not last_px or credit != 0)
        take_last.next = s.valid and last_px and credit != 0
        pop.next = m.valid and m.ready
        word.valid.next = valids == every

    @always_seq(clk.posedge, reset=rst)
    def stage1():
        v1.next = take
        if take:
            d1.next = s.data
            a1.next = g
            first1.next = first_px
            last1.next = last_px

    return insts, position, handshake, stage1


@block
def lane_input(clk, rst, v1, last1, total, acc_s):
    """A lane's requantizer input: the last pixel's sum, registered."""
    @always_seq(clk.posedge, reset=rst)
    def reg():
        acc_s.valid.next = v1 and last1
        if v1 and last1:
            acc_s.data.next = total

    return reg

