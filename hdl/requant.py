"""Requantizer: int32-range accumulator -> int8, TFLite's arithmetic bit for bit, pipelined.

Two modes, the same two the golden model has (``model.golden.requant``):

``gemmlowp``  MultiplyByQuantizedMultiplier(acc, M0, shift):
              x = wrap32(acc << max(shift, 0)); SaturatingRoundingDoublingHighMul(x, M0)
              (64-bit product, nudge, divide by 2^31 truncating toward zero, INT32_MIN x
              INT32_MIN saturates); RoundingDivideByPOT(., max(-shift, 0)) (ties away from 0).
``round``     sign(acc) * ((|acc| * M + 2^(n-1)) >> n), the exact integer form of TFLite's
              double-precision per-channel FULLY_CONNECTED requantization.

Then + zp_out and the clamp to [act_min, act_max] (ReLU when act_min = zp_out).

Ports: ``clk``, ``rst``; input stream ``s`` (valid, data = signed accumulator of ``acc_bits``)
with ``s_chan`` (the output channel of the beat, selects multiplier and shift); output stream
``m`` (valid, data = int8). No ready: a beat enters on every cycle ``s.valid`` is high and
leaves exactly ``LATENCY`` cycles later; the enclosing block keeps room for it.

Per-channel multipliers and shifts come from ROMs loaded from ``mult_path``/``shift_path``
(exported ``.mem`` files; ``mult_bits`` wide, shift 8-bit signed).

Stages (one register each)::

    1 acc, channel in     ROM address = channel
    2 operand             gemmlowp: acc << left (bits)    round: |acc|, sign
    3                     wrap to int32                   |acc| * M, 2^(n-1)
    4 product             x * M0 (signed 64)              + 2^(n-1)
    5                     SRDHM                           >> n
    6                     RoundingDivideByPOT             sign back
    7 out                 + zp_out, clamp                 + zp_out, clamp
"""
from __future__ import annotations

from myhdl import Signal, always_seq, block, intbv

from .rom import rom
from .stream import Stream, check_stream

LATENCY = 7
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _signed(bits: int, value: int = 0) -> Signal:
    return Signal(intbv(value, min=-(1 << (bits - 1)), max=1 << (bits - 1)))


def _unsigned(bits: int, value: int = 0) -> Signal:
    return Signal(intbv(value)[bits:])


@block
def requant(clk, rst, s, s_chan, m, *, mode: str, acc_bits: int, mult_bits: int,
            mult_path, shift_path, zp_out: int, act_min: int, act_max: int):
    if mode not in ("gemmlowp", "round"):
        raise ValueError(f"mode={mode!r} must be 'gemmlowp' or 'round'")
    check_stream("s", s, bits=acc_bits, ready=None, signed=True)
    check_stream("m", m, bits=8, signed=True)
    if not 2 <= acc_bits <= 32:
        raise ValueError(f"acc_bits={acc_bits} must be in 2..32 (TFLite accumulates in int32)")
    if mode == "gemmlowp" and mult_bits > 32:
        raise ValueError(f"mult_bits={mult_bits}: a gemmlowp multiplier is at most 32 bits")
    if mode == "round" and acc_bits - 1 + mult_bits > 63:
        raise ValueError(f"acc_bits={acc_bits} + mult_bits={mult_bits}: product exceeds 63 bits")
    if not -128 <= act_min <= act_max <= 127:
        raise ValueError(f"clamp [{act_min}, {act_max}] must lie within int8")
    if not -128 <= zp_out <= 127:
        raise ValueError(f"zp_out={zp_out} must be an int8 value")

    gemm = mode == "gemmlowp"
    # ROM outputs (registered: aligned with stage 2 of the beat whose channel entered stage 1)
    mult = Signal(intbv(0, min=-(1 << 31), max=1 << 31)) if gemm else _unsigned(mult_bits)
    shift = _signed(8) if gemm else _unsigned(8)  # round: a right shift, 1..62
    rom_m = rom(clk, s_chan, mult, path=mult_path, signed=gemm)
    rom_s = rom(clk, s_chan, shift, path=shift_path, signed=gemm)

    v1, v2, v3, v4, v5, v6 = (Signal(bool(0)) for _ in range(6))
    if gemm:
        acc1 = _signed(32)
        shl2 = _unsigned(64)
        x3 = _signed(32)
        m2 = Signal(intbv(0, min=-(1 << 31), max=1 << 31))
        m3 = Signal(intbv(0, min=-(1 << 31), max=1 << 31))
        r2, r3, r4, r5 = (_unsigned(6) for _ in range(4))
        mask4, mask5 = _unsigned(32), _unsigned(32)
        p4 = _signed(64)
        sat4 = Signal(bool(0))
        q5 = _signed(33)
        y6 = _signed(34)

        @always_seq(clk.posedge, reset=rst)
        def stages():
            # stage 1: accumulator in, sign-extended to int32 (ROMs read the channel)
            v1.next = s.valid
            acc1.next = s.data
            # stage 2: left shift of the int32 bit pattern (wraps like C++'s x * (1 << left))
            v2.next = v1
            if shift > 0:
                shl2.next = acc1[32:] << shift
                r2.next = 0
            else:
                shl2.next = acc1[32:]
                r2.next = -shift
            m2.next = mult
            # stage 3: back to a signed int32
            v3.next = v2
            x3.next = shl2[32:].signed()
            m3.next = m2
            r3.next = r2
            # stage 4: 64-bit product
            v4.next = v3
            p4.next = x3 * m3
            sat4.next = (x3 == INT32_MIN) and (m3 == INT32_MIN)
            r4.next = r3
            mask4.next = (1 << r3) - 1
            # stage 5: SaturatingRoundingDoublingHighMul
            v5.next = v4
            r5.next = r4
            mask5.next = mask4
            if sat4:
                q5.next = INT32_MAX
            elif p4 >= 0:
                q5.next = (p4 + (1 << 30)) >> 31
            else:
                # (p + 1 - 2^30) / 2^31 truncating toward zero = floor((p + 2^31 - 2^30) / 2^31)
                q5.next = (p4 + ((1 << 31) - (1 << 30))) >> 31
            # stage 6: RoundingDivideByPOT (threshold mask/2, plus one for negative x)
            v6.next = v5
            if q5 < 0:
                if (q5[32:] & mask5) > (mask5 >> 1) + 1:
                    y6.next = (q5 >> r5) + 1
                else:
                    y6.next = q5 >> r5
            else:
                if (q5[32:] & mask5) > (mask5 >> 1):
                    y6.next = (q5 >> r5) + 1
                else:
                    y6.next = q5 >> r5

        return rom_m, rom_s, stages, clamp(clk, rst, v6, y6, m, zp_out, act_min, act_max)

    prod_bits = acc_bits - 1 + mult_bits
    acc1 = _signed(acc_bits)
    mag2 = _unsigned(acc_bits)
    neg2, neg3, neg4, neg5 = (Signal(bool(0)) for _ in range(4))
    m2u = _unsigned(mult_bits)
    n2, n3, n4 = _unsigned(8), _unsigned(8), _unsigned(8)
    p3u = _unsigned(prod_bits)
    half3 = _unsigned(prod_bits)
    t4 = _unsigned(prod_bits + 1)
    mag5 = _unsigned(prod_bits + 1)
    y6 = _signed(prod_bits + 2)

    @always_seq(clk.posedge, reset=rst)
    def stages_round():
        v1.next = s.valid
        acc1.next = s.data
        # stage 2: magnitude and sign
        v2.next = v1
        if acc1 < 0:
            mag2.next = -acc1
            neg2.next = 1
        else:
            mag2.next = acc1
            neg2.next = 0
        m2u.next = mult
        n2.next = shift
        # stage 3: product, and the rounding constant 2^(n-1)
        v3.next = v2
        p3u.next = mag2 * m2u
        if n2 != 0:
            half3.next = 1 << (n2 - 1)
        else:
            half3.next = 0
        neg3.next = neg2
        n3.next = n2
        # stage 4: round half up on the magnitude (= halves away from zero with the sign)
        v4.next = v3
        t4.next = p3u + half3
        neg4.next = neg3
        n4.next = n3
        # stage 5: shift
        v5.next = v4
        mag5.next = t4 >> n4
        neg5.next = neg4
        # stage 6: sign back
        v6.next = v5
        if neg5:
            y6.next = -mag5
        else:
            y6.next = mag5

    return rom_m, rom_s, stages_round, clamp(clk, rst, v6, y6, m, zp_out, act_min, act_max)


@block
def clamp(clk, rst, valid, value, m, zp_out, act_min, act_max):
    """Stage 7 of both modes: + zp_out, clamp to [act_min, act_max], register the output."""

    @always_seq(clk.posedge, reset=rst)
    def out():
        m.valid.next = valid
        if value + zp_out < act_min:
            m.data.next = act_min
        elif value + zp_out > act_max:
            m.data.next = act_max
        else:
            m.data.next = value + zp_out

    return out
