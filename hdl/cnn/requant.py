"""Requantizer: int32-range accumulator -> int8, TFLite's arithmetic bit for bit, pipelined.

Two modes, the same two the golden model has (``model.golden.requant``):

``gemmlowp``  MultiplyByQuantizedMultiplier(acc, M0, shift):
              x = wrap32(acc << max(shift, 0)); SaturatingRoundingDoublingHighMul(x, M0)
              (64-bit product, nudge, divide by 2^31 truncating toward zero, INT32_MIN x
              INT32_MIN saturates); RoundingDivideByPOT(., max(-shift, 0)) (ties away from 0).
``round``     sign(acc) * ((|acc| * M + 2^(n-1)) >> n), the exact integer form of TFLite's
              double-precision per-channel FULLY_CONNECTED requantization.

Then + zp_out and the clamp to [act_min, act_max] (ReLU when act_min = zp_out).

The int32 edges (``golden.finish``, ``golden.to_int32``): TFLite adds zp_out in int32, which
wraps, and converts a round-mode result beyond int32 to INT32_MIN, so a result near +2^31 with
zp_out >= 0 comes out as act_min, and one near -2^31 with zp_out < 0 as act_max. Where some
channel's operand can reach such a result (``overflow_thresholds``: found by a binary search at
elaboration, exactly), the channel's threshold is read from a table beside the shift ROM, the
operand compared with it at the magnitude stage, and the flag carried to the clamp, which then
gives that constant. A layer whose operands cannot reach it (every real one seen so far) has no
such logic.

Ports: ``clk``, ``rst``; input stream ``s`` (valid, data = signed accumulator of ``acc_bits``)
with ``s_chan`` (the output channel of the beat, selects multiplier and shift); output stream
``m`` (valid, data = int8); ``dsp_bits`` as in ``softmul`` (0: the product in LUTs). No ready: a beat enters on every cycle ``s.valid`` is high and
leaves exactly ``LATENCY`` cycles later; the enclosing block keeps room for it.

Per-channel multipliers and shifts come from ROMs loaded from ``mult_path``/``shift_path``
(exported ``.mem`` files; ``mult_bits`` wide, shift 8-bit signed).

The product ``|x| * multiplier`` is the one wide multiply. It is built from AND gates and
adders (``softmul``), not a ``*``: the FPGA's DSPs stay free for the MAC lanes. Its ``|x|``
operand is first clamped to ``magnitude_bound`` (computed here from the ROM contents): the
smallest magnitude beyond which every channel's output is already at its clamp, so the clamp
changes no result and the multiplier is only as wide as the layer's unsaturated range (about
20 bits on the real layers, instead of 32). Multipliers must be non-negative, as TFLite's
QuantizeMultiplier makes them.

Stages (one register each), with d = ``softmul.depth`` (at most ``softmul.LATENCY`` = 6)::

    1 acc, channel in     ROM address = channel
    2                     gemmlowp: acc << left (bits)    round: acc
    3                     gemmlowp: wrap to int32 = x     round: x = acc
                          (no positive shift in the layer: x = acc, only as wide as acc)
    4 magnitude           |x| clamped to the bound, sign
    5..4+d product        |x| * M (``softmul``; the multiplier ROM is read just before it)
    +1 rounding constant  gemmlowp: + 2^30 (x >= 0) or 2^30 - 1 (x < 0)   round: + 2^(n-1)
    +2 shift, sign back   gemmlowp: SRDHM = +-(. >> 31)                   round: +-(. >> n)
    +3                    gemmlowp: RoundingDivideByPOT                   round: -
    +4 out                + zp_out, clamp
    then 6 - d stages     the int8 result waits, so every beat takes ``LATENCY`` clocks
                          (it is the narrowest value of the pipeline)

The rounding add keeps only the product bits it needs: gemmlowp's (p + 2^30 - [x < 0]) >> 31
is (p >> 30) + 1, minus one when x < 0 and p's low 30 bits are all zero, then >> 1; round's
(p + 2^(n-1)) >> n drops the bits below 2^(n_lo - 1) first, n_lo the layer's smallest shift.
"""
from __future__ import annotations

import numpy as np
from myhdl import Signal, always, always_comb, always_seq, block, intbv, modbv

from model import golden

from ..lib import softmul as sm
from ..lib.rom import load, rom
from ..lib.stream import Stream, check_stream

LATENCY = 4 + sm.LATENCY + 4
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _signed(bits: int, value: int = 0) -> Signal:
    return Signal(intbv(value, min=-(1 << (bits - 1)), max=1 << (bits - 1)))


def _unsigned(bits: int, value: int = 0) -> Signal:
    return Signal(intbv(value)[bits:])


def scaled(mode: str, x, multipliers, shifts) -> np.ndarray:
    """The requantizer before + zp and the clamp, as a function of the multiply's operand x
    (gemmlowp: after the left shift; round: the accumulator). x (..., C) against C channels."""
    if mode == "gemmlowp":
        right = np.maximum(-np.asarray(shifts, np.int64), 0)
        return golden.rounding_divide_by_pot(
            golden.saturating_rounding_doubling_high_mul(x, multipliers), right)
    return golden.round_multiply(x, multipliers, shifts)


def magnitude_bound(mode: str, multipliers, shifts, *, acc_bits: int, zp_out: int,
                    act_min: int, act_max: int) -> int:
    """Smallest K such that clamping the multiply's operand to [-K, K] changes no output.

    The requantizer is monotone in x (multipliers >= 0) while the left shift cannot wrap, so
    K is exact when out(K) = out(top) and out(-K) = out(-top) for every channel, where top is
    the largest |x| the accumulator reaches; a binary search finds the smallest such K. When
    the left shift can wrap (accumulator bits + left shift > 32), TFLite's result is not
    monotone and the bound is 2^31 (no clamping)."""
    wide = max(int(v) for v in multipliers) >= 1 << 62
    mults = np.asarray([int(v) for v in multipliers], object if wide else np.int64)
    shifts = np.asarray(shifts, np.int64)
    if np.any(mults < 0):
        raise ValueError(f"requant: multiplier {int(mults.min())} is negative (TFLite's "
                         f"QuantizeMultiplier gives multipliers >= 0)")
    left = int(np.maximum(shifts, 0).max()) if mode == "gemmlowp" else 0
    if acc_bits - 1 + left > 31:
        return 1 << 31
    top = 1 << (acc_bits - 1 + left)

    def out(x):
        return np.clip(scaled(mode, np.full(len(mults), x, np.int64), mults, shifts) + zp_out,
                       act_min, act_max)

    hi, lo = out(top), out(-top)
    a, b = 0, top  # the predicate holds at b; find the smallest such value
    while a < b:
        mid = (a + b) // 2
        if np.array_equal(out(mid), hi) and np.array_equal(out(-mid), lo):
            b = mid
        else:
            a = mid + 1
    return b


def overflow_thresholds(mode: str, multipliers, shifts, *, x_bits: int,
                        zp_out: int) -> list[int] | None:
    """Per channel, where the kernel's int32 steps turn a saturated output into the other
    clamp (the module docstring): zp_out >= 0: the smallest operand x > 0 whose result reaches
    2^31 - zp_out (the output is then act_min); zp_out < 0: minus the smallest magnitude whose
    negative result reaches -2^31 - zp_out - 1 (the output is then act_max). A channel that
    cannot get there within the operand's ``x_bits`` gets a value beyond the operand's range.
    None when no channel can. The result is monotone in x, so a binary search is exact."""
    top = (1 << (x_bits - 1)) - 1
    out = []
    for mult, shift in zip(multipliers, shifts):
        def result(x):
            return int(scaled(mode, np.array([x], np.int64), [int(mult)], [int(shift)])[0])

        if zp_out >= 0:
            target = (1 << 31) - zp_out
            if result(top) < target:
                out.append(top + 1)
                continue
            a, b = 1, top
            while a < b:
                mid = (a + b) // 2
                a, b = (a, mid) if result(mid) >= target else (mid + 1, b)
            out.append(a)
        else:
            target = -(1 << 31) - zp_out - 1
            if result(-top - 1) > target:
                out.append(-top - 2)
                continue
            a, b = 1, top + 1
            while a < b:
                mid = (a + b) // 2
                a, b = (a, mid) if result(-mid) <= target else (mid + 1, b)
            out.append(-a)
    if zp_out >= 0 and all(t > top for t in out):
        return None
    if zp_out < 0 and all(t < -top - 1 for t in out):
        return None
    return out


@block
def requant(clk, rst, s, s_chan, m, *, mode: str, acc_bits: int, mult_bits: int,
            mult_path, shift_path, zp_out: int, act_min: int, act_max: int,
            dsp_bits: int = 0):
    if mode not in ("gemmlowp", "round"):
        raise ValueError(f"mode={mode!r} must be 'gemmlowp' or 'round'")
    check_stream("s", s, bits=acc_bits, ready=None, signed=True)
    check_stream("m", m, bits=8, signed=True)
    if not 2 <= acc_bits <= 32:
        raise ValueError(f"acc_bits={acc_bits} must be in 2..32 (TFLite accumulates in int32)")
    if mode == "gemmlowp" and mult_bits > 32:
        raise ValueError(f"mult_bits={mult_bits}: a gemmlowp multiplier is at most 32 bits")
    if not -128 <= act_min <= act_max <= 127:
        raise ValueError(f"clamp [{act_min}, {act_max}] must lie within int8")
    if not -128 <= zp_out <= 127:
        raise ValueError(f"zp_out={zp_out} must be an int8 value")

    gemm = mode == "gemmlowp"
    mults = load(mult_path, 32 if gemm else mult_bits, gemm)
    shifts = load(shift_path, 8, gemm)
    try:
        bound = magnitude_bound(mode, mults, shifts, acc_bits=acc_bits, zp_out=zp_out,
                                act_min=act_min, act_max=act_max)
    except ValueError as exc:
        raise ValueError(f"{mult_path}: {exc}") from None
    mag_bits = max(1, bound.bit_length())
    b_bits = 31 if gemm else mult_bits  # gemmlowp: M0 in [0, 2^31)
    prod_bits = mag_bits + b_bits
    # the largest |value| after the product's shift (gemmlowp: before RoundingDivideByPOT)
    if gemm:
        y_top = (bound * max(int(v) for v in mults) + (1 << 30)) >> 31
    else:
        y_top = max((bound * int(v) + (1 << (int(n) - 1))) >> int(n)
                    for v, n in zip(mults, shifts))
    dsp_bits = min(dsp_bits, mag_bits)
    # the right shifts the ROM holds (gemmlowp: RoundingDivideByPOT's exponent; round: n) span
    # [n_lo, n_hi]; the pipeline carries n - n_lo, so the shifters are only as wide as that
    # span (a real layer's shifts differ by a few bits, not 0..62)
    rights = [max(-int(v), 0) if gemm else int(v) for v in shifts]
    n_lo = min(rights)
    # round: the product register reaches at least 2^(n_hi - 1), the rounding constant's bit,
    # so the rounding add has a place for it. A product narrower than that is a channel whose
    # every result rounds to 0 (a tiny scale, or a clamp that leaves the magnitude bound at 0)
    if not gemm:
        prod_bits = max(prod_bits, max(rights))
    n_bits = max(1, (max(rights) - n_lo).bit_length())
    # left shifts only where a shift is positive (and then n_lo = 0: their right shift is 0)
    has_left = gemm and max(int(v) for v in shifts) > 0
    # x: the int32 after the left shift, or (no left shift) the accumulator itself
    x_bits = 32 if has_left else acc_bits
    # RoundingDivideByPOT's remainder is the low n bits of the two's complement value, so
    # mask and remainder are n_hi bits wide and y holds at least n_hi + 1 bits
    mask_bits = max(1, max(rights))
    y_bits = max(y_top.bit_length() + 2, mask_bits + 1)
    # the multiply takes sm.depth clocks; the int8 result waits the rest of sm.LATENCY at the
    # end, where it is narrowest (the multiplier ROM reads a delayed channel, so no 31-bit
    # value is delayed)
    mul_depth = sm.depth(mag_bits, dsp_bits)
    pad = sm.LATENCY - mul_depth

    # shift ROM output registered: aligned with stage 1; multiplier ROM: with stage 4
    # the file's words, >= 0 (checked above). Named ``_dup`` so that on the ECP5 synthesis
    # keeps it apart (hdl/flow/synth.py, DUPLICATES): requantizers side by side (a wide drain)
    # have ROMs whose bits are often the same function of the channel, and Yosys merged them
    # into one register driving two multipliers' adder trees across the die (11.2 ns of one
    # route, the digits_cnn default's limit)
    mult_dup = _unsigned(b_bits)
    shift = _signed(8) if gemm else _unsigned(8)  # round: a right shift, 1..62
    chan_late = Signal(intbv(0, min=s_chan.min, max=s_chan.max))
    rom_m = rom(clk, chan_late, mult_dup, path=mult_path, signed=False)
    rom_s = rom(clk, s_chan, shift, path=shift_path, signed=gemm)

    v1, v2, v3, v4 = (Signal(bool(0)) for _ in range(4))
    acc1 = _signed(32 if has_left else acc_bits)
    shl2 = _unsigned(64)
    x2 = _signed(x_bits)
    x3 = _signed(x_bits)
    n2, n3, n4 = (_unsigned(n_bits) for _ in range(3))  # the right shift - n_lo
    neg4 = Signal(bool(0))
    mag4 = _unsigned(mag_bits)
    prod = _unsigned(prod_bits)
    chan_delay = delay(clk, rst, s_chan, chan_late, 3)
    # the int32 edges (module docstring): a threshold per channel, read beside stage 2 so it is
    # ready with x3; the flag leaves the magnitude stage and waits for the clamp
    thresholds = overflow_thresholds(mode, mults, shifts, x_bits=x_bits, zp_out=zp_out)
    edge = []
    if thresholds is not None:
        over_value = act_min if zp_out >= 0 else act_max
        chan2 = Signal(intbv(0, min=s_chan.min, max=s_chan.max))
        thr = _signed(x_bits + 2)
        over4, over13 = Signal(bool(0)), Signal(bool(0))
        edge = [delay(clk, rst, s_chan, chan2, 2),
                threshold_rom(clk, chan2, thr, table=tuple(thresholds)),
                overflow_flag(clk, rst, x3, thr, over4, above=zp_out >= 0),
                delay(clk, rst, over4, over13, mul_depth + 3)]
    mul = sm.softmul(clk, mag4, mult_dup, prod, a_bits=mag_bits, b_bits=b_bits,
                     dsp_bits=dsp_bits)

    # side band of stage 4, delayed along the multiplier
    v10, neg10, n10 = Signal(bool(0)), Signal(bool(0)), _unsigned(n_bits)
    delays = [delay(clk, rst, v4, v10, mul_depth), delay(clk, rst, neg4, neg10, mul_depth),
              delay(clk, rst, n4, n10, mul_depth)]

    v11, v12, v13 = (Signal(bool(0)) for _ in range(3))
    neg11 = Signal(bool(0))
    n11, n12 = _unsigned(n_bits), _unsigned(n_bits)
    # the rounding add only needs the product's bits from the rounding constant's up:
    # gemmlowp adds 2^30 (x >= 0) or 2^30 - 1, so the low 30 bits only matter through "are
    # they zero"; round adds 2^(n-1) with n >= n_lo, so bits below n_lo - 1 never matter
    cut = 30 if gemm else max(n_lo - 1, 0)
    t11 = _unsigned(prod_bits - cut + 1)
    y12 = _signed(y_bits)
    mask12 = _unsigned(mask_bits)
    y13 = _signed(y_bits)

    right = _signed(9)  # the right shift: gemmlowp -shift (read only when shift <= 0), round shift

    @always_comb
    def right_gemmlowp():
        right.next = -shift

    @always_comb
    def right_round():
        right.next = shift

    @always_seq(clk.posedge, reset=rst)
    def operand_left():  # gemmlowp with some shift > 0
        # stage 1: accumulator in, sign-extended to int32 (the ROMs read the channel)
        v1.next = s.valid
        acc1.next = s.data
        # stage 2: left shift of the int32 bit pattern (wraps like C++'s x * (1 << left))
        v2.next = v1
        if shift > 0:
            shl2.next = acc1[32:] << shift
            n2.next = 0
        else:
            shl2.next = acc1[32:]
            n2.next = right - n_lo
        # stage 3: back to a signed int32
        v3.next = v2
        x3.next = shl2[32:].signed()
        n3.next = n2

    @always_seq(clk.posedge, reset=rst)
    def operand_plain():  # no left shift: x is the accumulator
        v1.next = s.valid
        acc1.next = s.data
        v2.next = v1
        n2.next = right - n_lo
        x2.next = acc1
        v3.next = v2
        x3.next = x2
        n3.next = n2

    # |x| >= bound saturates: written as > bound - 1 so that bound = 2^31 (no clamping) needs
    # no constant beyond int32 (only INT32_MIN reaches it, and its magnitude is the bound)
    last = bound - 1

    @always_seq(clk.posedge, reset=rst)
    def magnitude():
        # stage 4: sign, and the magnitude clamped to the bound
        v4.next = v3
        n4.next = n3
        neg4.next = x3 < 0
        if x3 > last or x3 < -last:
            mag4.next = bound
        elif x3 < 0:
            mag4.next = -x3
        else:
            mag4.next = x3

    @always_seq(clk.posedge, reset=rst)
    def result_gemmlowp():
        # stage 11: nudge, SRDHM's (ab + nudge) / 2^31 toward zero done on the magnitude
        v11.next = v10
        neg11.next = neg10
        n11.next = n10
        # (p + 2^30 - [x < 0]) >> 31 with p = hi * 2^30 + lo: (hi + 1 - [x < 0 and lo = 0]) >> 1
        if neg10 and prod[cut:] == 0:
            t11.next = prod[prod_bits:cut]
        else:
            t11.next = prod[prod_bits:cut] + 1
        # stage 12: >> 31 and the sign back: SaturatingRoundingDoublingHighMul
        v12.next = v11
        n12.next = n11
        if neg11:
            y12.next = -(t11 >> 1)
        else:
            y12.next = t11 >> 1
        # stage 13: RoundingDivideByPOT (threshold mask/2, plus one for negative values)
        v13.next = v12
        if y12 < 0:
            if (y12[mask_bits:] & mask12) > (mask12 >> 1) + 1:
                y13.next = ((y12 >> n_lo) >> n12) + 1
            else:
                y13.next = (y12 >> n_lo) >> n12
        elif (y12[mask_bits:] & mask12) > (mask12 >> 1):
            y13.next = ((y12 >> n_lo) >> n12) + 1
        else:
            y13.next = (y12 >> n_lo) >> n12

    # no reset: the mask is read only with a valid y12, and a layer whose shifts are all one
    # value makes it a constant. With a reset it stayed a register holding that constant,
    # and Yosys merged such registers across layers (conv1's drove conv3's rounding, 6 ns
    # apart on the ECP5)
    @always(clk.posedge)
    def mask_gemmlowp():
        mask12.next = ((1 << n11) << n_lo) - 1

    @always_seq(clk.posedge, reset=rst)
    def result_round():
        # stage 11: round half up on the magnitude (= halves away from zero with the sign):
        # (p + 2^(n-1)) >> n = ((p >> (n_lo - 1)) + 2^(n - n_lo)) >> (n - n_lo + 1)
        v11.next = v10
        neg11.next = neg10
        n11.next = n10
        t11.next = prod[prod_bits:cut] + (1 << n10)
        # stage 12: the shift, and the sign back
        v12.next = v11
        if neg11:
            y12.next = -((t11 >> 1) >> n11)
        else:
            y12.next = (t11 >> 1) >> n11
        # stage 13: nothing left to do (kept so both modes have one latency)
        v13.next = v12
        y13.next = y12

    @always_seq(clk.posedge, reset=rst)
    def result_round_small():  # n_lo = 0: some channel does not shift at all
        v11.next = v10
        neg11.next = neg10
        n11.next = n10
        t11.next = prod + ((1 << n10) >> 1)  # 2^(n-1), or 0 when n = 0
        v12.next = v11
        if neg11:
            y12.next = -(t11 >> n11)
        else:
            y12.next = t11 >> n11
        v13.next = v12
        y13.next = y12

    operand = [right_gemmlowp if gemm else right_round, operand_left if has_left else operand_plain]
    if gemm:
        result = [result_gemmlowp, mask_gemmlowp]
    else:
        result = result_round if n_lo else result_round_small
    out = Stream(8, ready=False) if pad else m
    if thresholds is None:
        tail = [clamp(clk, rst, v13, y13, out, zp_out, act_min, act_max)]
    else:
        tail = [clamp(clk, rst, v13, y13, out, zp_out, act_min, act_max, over13, over_value)]
    if pad:
        tail += [delay(clk, rst, out.valid, m.valid, pad), delay(clk, rst, out.data, m.data, pad)]
    return rom_m, rom_s, operand, magnitude, chan_delay, mul, delays, result, tail, edge


@block
def delay(clk, rst, x, out, n: int):
    """out = x, n clocks later (a register chain)."""
    regs = [Signal(intbv(0, min=x.min, max=x.max)) if isinstance(x.val, intbv)
            else Signal(bool(0)) for _ in range(n - 1)] + [out]
    insts = []
    prev = x
    for reg in regs:
        insts.append(stage(clk, rst, prev, reg))
        prev = reg
    return insts


@block
def stage(clk, rst, x, out):
    @always_seq(clk.posedge, reset=rst)
    def reg():
        out.next = x

    return reg


@block
def clamp(clk, rst, valid, value, m, zp_out, act_min, act_max, over=None, over_value=0):
    """Stage 14 of both modes: + zp_out, clamp to [act_min, act_max], register the output;
    ``over_value`` where the int32 edge flag ``over`` (if any) is set.

    value + zp_out is compared with the bounds as value against act_min - zp_out and
    act_max - zp_out (constants), so no adder sits before the comparisons (the mnist_cnn
    default's seed-2 limit at 2d15e59: dense1's y13 through the add and then the compare, two
    carry chains in a row). A result inside the bounds is int8, so the sum that is kept is its
    low 8 bits, an 8-bit add beside the comparisons."""
    lo, hi = act_min - zp_out, act_max - zp_out
    insts = []
    ext = value  # value, at least 8 bits wide
    if len(value) < 8:
        ext = Signal(intbv(0, min=-128, max=128))

        @always_comb
        def widen():
            ext.next = value

        insts.append(widen)
    low = Signal(modbv(0)[8:])  # wraps: the sum's low 8 bits
    kept = Signal(intbv(0, min=-128, max=128))
    zp8 = zp_out & 0xFF

    @always_comb
    def add():
        low.next = ext[8:] + zp8

    @always_comb
    def keep():
        kept.next = low.signed()

    insts += [add, keep]

    if over is None:
        @always_seq(clk.posedge, reset=rst)
        def out():
            m.valid.next = valid
            if value < lo:
                m.data.next = act_min
            elif value > hi:
                m.data.next = act_max
            else:
                m.data.next = kept

    else:
        @always_seq(clk.posedge, reset=rst)
        def out():
            m.valid.next = valid
            if over:
                m.data.next = over_value
            elif value < lo:
                m.data.next = act_min
            elif value > hi:
                m.data.next = act_max
            else:
                m.data.next = kept

    insts.append(out)
    return insts


@block
def threshold_rom(clk, addr, dout, *, table: tuple):
    """dout <= table[addr] on each rising edge (a case ROM; addresses past the table read its
    last word)."""
    table = tuple(table) + (table[-1],) * (addr.max - len(table))

    @always(clk.posedge)
    def read():
        dout.next = table[int(addr)]

    return read


@block
def overflow_flag(clk, rst, x, thr, flag, *, above: bool):
    """flag <= x >= thr (``above``) or x <= thr: the operand has reached its channel's int32
    edge."""
    if above:
        @always_seq(clk.posedge, reset=rst)
        def compare():
            flag.next = x >= thr
    else:
        @always_seq(clk.posedge, reset=rst)
        def compare():
            flag.next = x <= thr
    return compare


