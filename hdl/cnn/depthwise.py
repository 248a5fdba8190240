"""k x k depthwise convolution (DEPTHWISE_CONV_2D, depth multiplier 1; k = 1, 3, 5, 7, or kh x
kw of 2 to 16 a side), stride 1 or 2 each way, 'valid' or 'same' padding, bit-exact with
``golden.depthwise``.

    s (int8, NHWC raster) -> the convolution's window side (``conv2d.front``: pack, run-ahead
      FIFO, pad2d, skid_buffer, line_buffer; windows of T = kh*kw taps of SIMD channels a beat)
      -> engine: SIMD lanes side by side, each a channel's T taps, one a clock or all at once
      -> m (SIMD int8 channels a beat, H' x W' x C in raster order)

Each output channel reads its own input channel only, so the parallelism runs over channels:
a window beat brings the T taps of SIMD channels, and lane i multiplies channel cg*SIMD + i's
taps by its own filter. Two engines:

- all taps at once (``Parallel(1, SIMD, T)``, ``T*SIMD`` multipliers, ``all_taps``): one window
  beat a clock, as fast as the line buffer gives them, so nothing inside it ever waits: no
  clock enable, every stage a plain register;
- one tap a clock (``Parallel(1, SIMD, 1)``, SIMD multipliers, ``folded``): a window beat
  every T clocks, shifted down a tap a clock, one multiplier and accumulator a lane; the
  engine takes the next window on the clock of the last tap, so the line buffer waits T
  clocks between windows and the words behind a waiting window wait with it.

All-taps pipeline (one window beat a clock; ``pipeline`` clocks from the beat to the FIFO):

    take    the window and the filter word of its channel group (``weights`` ROM, word cg:
            lane t*SIMD + i holds channel cg*SIMD + i's tap t) into registers
    fabric  the window and the filter word again, in flip-flops: the ROM is a block RAM and
            the multiplier's input register is inside the MULT18X18D
    operand x - zp_in and the weight, per tap and lane (the multiplier's input registers)
    product (x - zp_in) * w (the multiplier's pipeline register), then a fabric register
    sum     an adder tree over the k*k products, one registered level per halving
    bias    + the channel's bias (``mac_engine.wide_lane``: its ROM, by channel)
    requant one ``requant`` per lane, then the lanes side by side into the output FIFO

Backpressure: one credit per output word in flight or stored; a window beat is taken only
with a credit (``room``, a register set a clock ahead; ``full_next`` gives the line buffer its
next value for its enable copies). The FIFO holds every word in flight, so with the output
always ready the engine never refuses a beat and the cycle model is the window side's.

Cycle model: ``trace`` follows every word into the line buffer as ``conv2d.trace`` does, one
a clock, a window word at least T clocks after the one before when the taps go one a clock;
a window word's output leaves ``out_delay`` clocks after it. ``cycles`` is the
spacing of back-to-back images. Both are checked against the RTL clock for clock
(tests/hdl/cnn/test_depthwise.py).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from myhdl import Signal, always, always_comb, always_seq, block, intbv

from model import export
from model.qnet import Layer

from ..lib.counters import credit_counter
from ..lib.rom import rom
from ..lib.stream import Stream, check_stream
from . import requant as rq
from .conv2d import STEADY_IMAGES, STEADY_PERIOD, front, geometry
from .line_buffer import out_size
from .mac_engine import lane_words
from .pack import delay as pack_delay
from .pad2d import padded

PROD_BITS = 17  # int8 x (int8 - zp_in): |product| <= 128 * 255 < 2^15, 17 bits with margin


def tree_levels(taps: int) -> int:
    """Registered adder levels that sum ``taps`` products (each level halves them; one
    product still takes a level)."""
    return max(1, (taps - 1).bit_length())


def pipeline(taps: int) -> int:
    """Clocks from a window beat's take to its word's write into the output FIFO: take, the
    filter word in the fabric (the weight ROM is a block RAM and the multiplier's input
    register is inside the MULT18X18D: between the two hard blocks, a flip-flop; the KWS
    model's limit at a483f8d was dw4's ROM read routed 9.2 ns straight to a multiplier),
    operand, product, the product again in the fabric (a MULT18X18D's output is slow to leave
    it: nothing follows it in the same clock), the tree, the bias (two: its ROM read beside the
    sum's register, the add), requant."""
    return 5 + tree_levels(taps) + 2 + rq.LATENCY


def fifo_depth(taps: int) -> int:
    """Output FIFO words: every word in flight, and a few more (the credit's round trip)."""
    return pipeline(taps) + 4


def out_delay(taps: int, at_once: bool = True) -> int:
    """Clocks from a window word's clock in ``_windows`` (the clock the line buffer takes it,
    as ``conv2d.trace`` counts) to its output word on ``m``: the window side's last stages,
    the line buffer's two, the engine's ``pipeline`` and the output FIFO's register (checked
    clock for clock by tests/hdl/cnn/test_depthwise.py). One tap a clock, the sum is ready
    after the T-th tap's issue, product and accumulation instead of the adder tree."""
    if at_once:
        return pipeline(taps) + 1
    return pipeline(taps) + 1 + taps + 1 - tree_levels(taps)


def check(layer: Layer, simd: int) -> None:
    """Raise ValueError naming what the hardware cannot fold."""
    if layer.kind != "depthwise":
        raise ValueError(f"layer {layer.name} is a {layer.kind}, not depthwise")
    if layer.depth_multiplier != 1:
        raise ValueError(f"layer {layer.name}: depth multiplier {layer.depth_multiplier}; the "
                         f"hardware takes 1")
    c = layer.in_shape[-1]
    if simd < 1 or c % simd:
        raise ValueError(f"layer {layer.name}: SIMD={simd} must divide its {c} channels")


def filter_words(layer: Layer, simd: int, at_once: bool = True) -> list[int]:
    """The ``weights`` ROM. All taps at once: word cg, lane t*SIMD + i (bits [8*lane+7 :
    8*lane]) holds channel cg*SIMD + i's tap t (TFLite's kh x kw order). One tap a clock:
    word cg*T + t, lane i the same weight. Each an int8 bit pattern."""
    c = layer.in_shape[-1]
    taps = int(np.prod(layer.weights.shape[1:]))
    w = layer.weights.astype(np.int64).reshape(c // simd, simd, taps) & 0xFF
    rows = w.transpose(0, 2, 1).reshape(c // simd if at_once else c // simd * taps,
                                        taps * simd if at_once else simd)
    return [sum(int(v) << (8 * i) for i, v in enumerate(row)) for row in rows]


def weights_name(layer: Layer, simd: int, at_once: bool = True) -> str:
    return f"{layer.name}_weights_dw_simd{simd}{'_taps' if at_once else ''}.mem"


def at_once(layer: Layer, taps: int) -> bool:
    """Whether the engine takes every tap in one clock (``taps`` > 1, or a 1x1 filter)."""
    return taps > 1 or int(np.prod(layer.weights.shape[1:])) == 1


def write_mems(layer: Layer, folder, simd: int, taps: int) -> dict:
    """Every ROM file the block reads at ``simd`` x ``taps``, into ``folder``; returns their
    paths."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n_taps = int(np.prod(layer.weights.shape[1:]))
    once = at_once(layer, taps)
    paths = {"weights": folder / weights_name(layer, simd, once)}
    export.write_mem(paths["weights"], filter_words(layer, simd, once),
                     8 * (n_taps if once else 1) * simd)
    files = export.layer_files(layer)
    for key, values in (("bias", layer.bias), ("multiplier", layer.multiplier),
                        ("shift", layer.shift)):
        paths[key] = folder / files[key]["file"]
        export.write_mem(paths[key], values, files[key]["bits"])
    return paths


def trace(layer: Layer, simd: int, t_in, lanes: int = 1, taps: int | None = None) -> list[int]:
    """Clock each output value leaves (the SIMD values of a word share it; downstream always
    ready), ``t_in[i]`` the clock input value i is taken (``lanes`` values a beat share it);
    ``taps``: k*k (the default, all at once) or 1 (one a clock)."""
    k, st, pad = geometry(layer)
    n_taps = k[0] * k[1]
    once = at_once(layer, n_taps if taps is None else taps)
    delay = out_delay(n_taps, once)
    words = _windows(tuple(layer.in_shape), k, st, pad, simd, t_in, lanes,
                     1 if once else n_taps)
    return [t + delay for t in words for _ in range(simd)]


def _windows(in_shape, k, st, pad, simd, t_in, lanes, period=1) -> list[int]:
    """The clock each window word enters the line buffer, in output order: the window side
    as ``conv2d._trace`` follows it, one word a clock, a window word at least ``period``
    clocks after the one before (the engine takes one every ``period`` clocks; a word that
    must wait holds the ones behind it)."""
    h, w, c = in_shape
    top, _, left, _ = pad
    hp, wp = padded(h, w, pad)
    cg_n = c // simd
    ahead = 6 + pack_delay(lanes, simd) + (1 if any(pad) else 0)
    avail = np.asarray(t_in, np.int64).reshape(-1, cg_n, simd)[:, :, -1] + ahead
    (kh, kw), (sh, sw) = k, st
    rows = [(top <= y < top + h, y >= kh - 1 and (y - kh + 1) % sh == 0) for y in range(hp)]
    cols = [(left <= x < left + w, x >= kw - 1 and (x - kw + 1) % sw == 0) for x in range(wp)]
    out = []
    prev = -1  # the clock of the last word taken
    win = -period  # the clock of the last window word taken
    pixel = 0
    for image in range(len(avail) // (h * w)):
        # the pads before an image's first word come with it
        first = int(avail[image * h * w, 0])
        for y, (real_row, grid_y) in enumerate(rows):
            for x, (real_col, grid_x) in enumerate(cols):
                window = grid_y and grid_x
                before = y < top or (y == top and x < left)
                for j in range(cg_n):
                    if real_row and real_col:
                        prev = max(int(avail[pixel, j]), prev + 1)
                    elif before:
                        prev = max(first + j, prev + 1)
                    else:
                        prev += 1
                    if window:
                        prev = max(prev, win + period)
                        win = prev
                        out.append(prev)
                if real_row and real_col:
                    pixel += 1
    return out


@lru_cache(maxsize=1024)
def _steady(in_shape, k, st, pad, simd, lanes, period) -> int | float:
    h, w, c = in_shape
    t_in = np.arange(STEADY_IMAGES * h * w * c) // lanes
    words = _windows(in_shape, k, st, pad, simd, t_in, lanes, period)
    hp, wp = padded(h, w, pad)
    per = out_size(hp, k[0], st[0]) * out_size(wp, k[1], st[1]) * (c // simd)
    last = words[per - 1::per]
    spacing = [b - a for a, b in zip(last[-1 - STEADY_PERIOD:], last[-STEADY_PERIOD:])]
    if len(set(spacing)) == 1:
        return spacing[0]
    return sum(spacing) / STEADY_PERIOD


def cycles(layer: Layer, simd: int, lanes: int = 1, taps: int | None = None) -> int | float:
    """Clocks between back-to-back images with no input gaps or output stalls: the window
    side's (one word a clock, the pads included), with one window word every k*k clocks when
    the taps go one a clock."""
    check(layer, simd)
    k, st, pad = geometry(layer)
    n_taps = k[0] * k[1]
    once = at_once(layer, n_taps if taps is None else taps)
    return _steady(tuple(layer.in_shape), k, st, pad, simd, lanes, 1 if once else n_taps)


def _signed(bits: int) -> Signal:
    return Signal(intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1)))


@block
def operands(clk, x, w, xz, wr, *, zp_in: int):
    """One tap of one lane: xz <= int8(x) - zp_in, wr <= int8(w)."""

    @always(clk.posedge)
    def reg():
        xz.next = x.signed() - zp_in
        wr.next = w.signed()

    return reg


@block
def multiply(clk, a, b, p):
    @always(clk.posedge)
    def reg():
        p.next = a * b

    return reg


@block
def add2(clk, a, b, total):
    @always(clk.posedge)
    def reg():
        total.next = a + b

    return reg


@block
def hold(clk, a, total):
    """A tree level's odd one out: the value a clock later."""
    @always(clk.posedge)
    def reg():
        total.next = a

    return reg


@block
def adder_tree(clk, values, total, *, bits: int):
    """total = the sum of ``values``, ``tree_levels(len(values))`` clocks later."""
    insts = []
    level = list(values)
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level), 2):
            q = _signed(bits) if len(level) > 2 else total
            if i + 1 < len(level):
                insts.append(add2(clk, level[i], level[i + 1], q))
            else:
                insts.append(hold(clk, level[i], q))
            nxt.append(q)
        level = nxt
    if len(values) == 1:
        insts.append(hold(clk, values[0], total))  # the level a single product still takes
    return insts


@block
def all_taps(clk, rst, take, data, cg, sums, load, group, *, layer: Layer, simd: int,
             paths: dict):
    """Every tap at once: the window beat taken on ``take`` (channel group ``cg``) -> operand,
    product and adder-tree registers -> ``sums`` with ``load`` and its ``group``."""
    k, _, _ = geometry(layer)
    taps = k[0] * k[1]
    c = layer.in_shape[-1]
    cg_n = c // simd
    n_flags = 5 + tree_levels(taps)
    valid = [Signal(bool(0)) for _ in range(n_flags - 1)] + [load]
    grp = [Signal(intbv(0, min=0, max=max(2, cg_n))) for _ in range(n_flags - 1)] + [group]
    win = Signal(intbv(0)[8 * taps * simd:])
    win2 = Signal(intbv(0)[8 * taps * simd:])
    wq = Signal(intbv(0)[8 * taps * simd:])
    wq2 = Signal(intbv(0)[8 * taps * simd:])  # the ROM word in the fabric
    insts = [rom(clk, cg, wq, path=paths["weights"]), hold(clk, wq, wq2)]

    @always(clk.posedge)
    def window():
        win.next = data
        win2.next = win

    @always_seq(clk.posedge, reset=rst)
    def flags():
        valid[0].next = take
        grp[0].next = cg
        for i in range(1, n_flags):
            valid[i].next = valid[i - 1]
            grp[i].next = grp[i - 1]

    insts += [window, flags]
    for i in range(simd):
        prods = []
        for t in range(taps):
            lo = 8 * (t * simd + i)
            xz, wr, p, p2 = _signed(9), _signed(8), _signed(PROD_BITS), _signed(PROD_BITS)
            insts.append(operands(clk, win2(lo + 8, lo), wq2(lo + 8, lo), xz, wr,
                                  zp_in=layer.zp_in))
            insts.append(multiply(clk, xz, wr, p))
            insts.append(hold(clk, p, p2))
            prods.append(p2)
        insts.append(adder_tree(clk, prods, sums[i], bits=layer.acc_bits))
    return insts


@block
def accumulate(clk, issue, first, p, acc):
    """acc <= p on a beat's first tap, acc + p on the others (holds between beats)."""

    @always(clk.posedge)
    def reg():
        if issue:
            if first:
                acc.next = p
            else:
                acc.next = acc + p

    return reg


@block
def folded(clk, rst, take, data, cg, busy_n, sums, load, group, *, layer: Layer, simd: int,
           paths: dict):
    """One tap a clock: the window beat taken on ``take`` goes into a shift register that
    brings tap t to its bottom at the beat's t-th clock; lane i multiplies it by its filter's
    tap (``weights`` ROM word cg*T + t) and accumulates; after the T-th, ``sums`` with
    ``load``. ``busy_n``: taps left to issue after this clock (a beat can be taken when at
    most one is left now)."""
    k, _, _ = geometry(layer)
    taps = k[0] * k[1]
    c = layer.in_shape[-1]
    cg_n = c // simd
    b = 8 * simd
    win = Signal(intbv(0)[8 * taps * simd:])
    left = Signal(intbv(0, min=0, max=taps + 1))  # taps still to issue
    base = Signal(intbv(0, min=0, max=max(2, cg_n * taps)))  # the next beat's first word
    ra = Signal(intbv(0, min=0, max=max(2, cg_n * taps)))  # the word the ROM reads
    g_now = Signal(intbv(0, min=0, max=max(2, cg_n)))
    wq = Signal(intbv(0)[b:])
    wq2 = Signal(intbv(0)[b:])  # the ROM word in the fabric (``pipeline``)
    insts = [rom(clk, ra, wq, path=paths["weights"]), hold(clk, wq, wq2)]
    # issue (a tap on the shift register's bottom and its word's address on the ROM), then x
    # and the ROM word registered together, both again in the fabric, operands, product, the
    # product in the fabric, accumulate
    issue = Signal(bool(0))
    v = [Signal(bool(0)) for _ in range(5)]
    f = [Signal(bool(0)) for _ in range(5)]
    last = [Signal(bool(0)) for _ in range(5)]
    gg = [Signal(intbv(0, min=0, max=max(2, cg_n))) for _ in range(5)]
    xb = Signal(intbv(0)[b:])
    xb2 = Signal(intbv(0)[b:])

    @always_comb
    def issuing():
        issue.next = left != 0
        if take:
            busy_n.next = taps
        elif left != 0:
            busy_n.next = left - 1
        else:
            busy_n.next = 0

    @always_seq(clk.posedge, reset=rst)
    def control():
        left.next = busy_n
        if take:
            ra.next = base
            g_now.next = cg
            if base == (cg_n - 1) * taps:
                base.next = 0
            else:
                base.next = base + taps
        elif left > 1:
            ra.next = ra + 1
        # the flags of the tap issued this clock, then down the pipeline
        v[0].next = issue
        f[0].next = left == taps
        last[0].next = left == 1
        gg[0].next = g_now
        for j in range(1, 5):
            v[j].next = v[j - 1]
            f[j].next = f[j - 1]
            last[j].next = last[j - 1]
            gg[j].next = gg[j - 1]
        load.next = v[4] and last[4]
        group.next = gg[4]

    @always(clk.posedge)
    def shift():
        if take:
            win.next = data
        else:
            win.next = win >> b
        xb.next = win[b:]
        xb2.next = xb

    insts += [issuing, control, shift]
    for i in range(simd):
        xz, wr, p, p2 = _signed(9), _signed(8), _signed(PROD_BITS), _signed(PROD_BITS)
        insts.append(operands(clk, xb2(8 * i + 8, 8 * i), wq2(8 * i + 8, 8 * i), xz, wr,
                              zp_in=layer.zp_in))
        insts.append(multiply(clk, xz, wr, p))
        insts.append(hold(clk, p, p2))  # the product in the fabric before the add
        insts.append(accumulate(clk, v[4], f[4], p2, sums[i]))
    return insts


@block
def engine(clk, rst, s, m, full_next, *, layer: Layer, simd: int, taps_at_once: bool,
           paths: dict, requant_dsp_bits: int = 0):
    c = layer.in_shape[-1]
    k, _, _ = geometry(layer)
    taps = k[0] * k[1]
    cg_n = c // simd
    check_stream("s", s, bits=8 * taps * simd, ready=True, signed=False)
    check_stream("m", m, bits=8 * simd, ready=True, signed=simd == 1)
    depth = fifo_depth(taps)
    room = Signal(bool(1))  # a credit is left (and, folded, the taps nearly issued): s.ready
    take = Signal(bool(0))
    cg = Signal(intbv(0, min=0, max=max(2, cg_n)))
    sums = [_signed(layer.acc_bits) for _ in range(simd)]
    load = Signal(bool(0))
    group = Signal(intbv(0, min=0, max=max(2, cg_n)))
    busy_n = Signal(intbv(0, min=0, max=taps + 1))
    if taps_at_once:
        insts = [all_taps(clk, rst, take, s.data, cg, sums, load, group, layer=layer,
                          simd=simd, paths=paths)]
    else:
        insts = [folded(clk, rst, take, s.data, cg, busy_n, sums, load, group, layer=layer,
                        simd=simd, paths=paths)]
    # a bias and a requantizer a lane -> one word of SIMD int8 lanes into the output FIFO
    insts.append(lane_words(clk, rst, load, sums, group, m, layer=layer, lanes=simd,
                            outs=layer.in_shape[-1], paths=paths, depth=depth,
                            requant_dsp_bits=requant_dsp_bits))
    pop = Signal(bool(0))
    credit = Signal(intbv(depth, min=0, max=depth + 1))
    credit_n = Signal(intbv(depth, min=-1, max=depth + 2))
    insts.append(credit_counter(clk, rst, take, pop, credit, credit_n))
    ready_n = Signal(bool(1))

    @always_comb
    def handshake():
        s.ready.next = room
        pop.next = m.valid and m.ready

    if taps_at_once:
        @always_comb
        def ahead():
            ready_n.next = credit_n != 0
    else:
        @always_comb
        def ahead():
            ready_n.next = credit_n != 0 and busy_n <= 1

    @always_comb
    def next_full():
        full_next.next = not ready_n

    @always_comb
    def taking():
        take.next = s.valid and s.ready

    @always_seq(clk.posedge, reset=rst)
    def credits():
        room.next = ready_n
        if take:
            if cg == cg_n - 1:
                cg.next = 0
            else:
                cg.next = cg + 1

    return insts, handshake, ahead, next_full, taking, credits


@block
def depthwise(clk, rst, s, m, *, layer: Layer, simd: int = 1, taps: int | None = None,
              paths: dict, requant_dsp_bits: int = 0, lanes: int = 1):
    check(layer, simd)
    k, _, _ = geometry(layer)
    n_taps = k[0] * k[1]
    taps = n_taps if taps is None else taps
    if taps not in (1, n_taps):
        raise ValueError(f"layer {layer.name}: taps={taps} must be 1 (one a clock) or "
                         f"{n_taps} (all at once)")
    windows = Stream(8 * n_taps * simd, signed=False)
    full_next = Signal(bool(0))
    return (front(clk, rst, s, windows, full_next, layer=layer, simd=simd, lanes=lanes),
            engine(clk, rst, windows, m, full_next, layer=layer, simd=simd,
                   taps_at_once=at_once(layer, taps), paths=paths,
                   requant_dsp_bits=requant_dsp_bits))
