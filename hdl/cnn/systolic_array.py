"""The MAC engine's systolic array: PE rows of L multiply-add stages, one multiply and one add
a clock whatever L is.

Each clock the engine issues one word: L lanes of (int8 input x_k, PE int8 weights w_k) (L =
SIMD, or 9 x SIMD with all taps in one clock). Row p computes the word's dot product

    sum_k  w_k[p] * (x_k - zp_in)

through a chain of registered stages: stage k multiplies its lane and adds the product to the
partial sum that stage k-1 handed it one clock before. The lanes arrive skewed: lane k's
operands of a word come k clocks after lane 0's (the engine reads lane k's job-buffer RAM and
weight ROM with the word's address delayed k clocks, so only addresses are skewed, not data).
Every partial sum then meets the product of its own word::

    clock:      n+1        n+2          n+3          n+4              n+L+2
    lane 0   x0,w0 -> [xz0,w0] -> [p0 = w0*xz0] -> [s0 = p0]
    lane 1           x1,w1 -> [xz1,w1] -> [p1 = w1*xz1] -> [s1 = s0+p1]
    ...                                                 ...
    lane L-1                                                   [s(L-1) = s(L-2)+p(L-1)] -> sum

    x_k -> [xz_k = x_k - zp_in] -> (x) -> [p_k] -> (+) -> [s_k] -> stage k+1
    w_k -> [w_k]  ------------------^        s_(k-1) -^

    [ ] a register. Every row has its own copy of the xz_k register (``xz_dup``): one register
    driving the PE multipliers of a lane, spread over the device's DSP columns, left 9.3 of
    13.8 ns to routing on the ECP5; a copy per row can be placed by its multiplier (whether
    nextpnr does is measured in docs/hardware.md).
    The rows share the w_k register of their lane, which holds the PE weights of lane k side by
    side: row p takes bits [8p+7 : 8p], so no weight bit drives more than one multiplier.

What each clock holds: the operand registers (the ROM's output register for w; the tap select
and the zero-point subtraction for x), one multiply into the product register, one add into
the partial sum register. On a Xilinx DSP48E1 a stage is one DSP: A/B registers, M register,
P = M + PCIN into the P register, and Yosys' ``xilinx_dsp`` cascades the chain through
PCOUT -> PCIN, so the adders leave the LUTs. On an ECP5 a stage is a MULT18X18D and one
carry chain: the operand registers become its input registers and the product register its
pipeline register (``hdl.flow.ecp5_dsp``, after synthesis).

Ports: ``clk``; ``en`` (every register holds while low; or a list of L copies of one enable,
lane k's for its operand registers and stage k of every row: ``mac_engine``'s); ``x`` (L signals, unsigned 8-bit
int8 patterns); ``w`` (L signals of 8 x PE bits); ``sums`` (PE signed signals). Latency: the
word whose lane-0 operands are on ``x[0]``/``w[0]`` at clock n is on ``sums`` at clock
n + L + 2 (``latency``), counting enabled clocks. Multipliers: PE x L.
"""
from __future__ import annotations

from myhdl import Signal, always, block, intbv

PROD_BITS = 17  # int8 x (int8 - zp): |product| <= 128 * 255 < 2^15, 17 bits with margin
XZ_BITS = 9     # int8 - zp_in, zp_in in [-128, 127]: [-255, 255]


def latency(lanes: int) -> int:
    """Enabled clocks from a word's lane-0 operands to its sums: operand, product, L sums."""
    return lanes + 2


def sum_bits(stage: int) -> int:
    """Width of stage ``stage``'s partial sum (stage + 1 products)."""
    return PROD_BITS + stage.bit_length()


def _signed(bits: int) -> Signal:
    return Signal(intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1)))


@block
def operand_x(clk, en, x, xz_dup, *, zp_in: int):
    """xz_dup <= int8(x) - zp_in: one row's copy of a lane's input operand register. The name
    ends in ``_dup``: synthesis keeps such copies apart (hdl/flow/synth.py, ``DUPLICATES``)
    rather than merging them back into one register of the same input."""

    @always(clk.posedge)
    def reg():
        if en:
            xz_dup.next = x.signed() - zp_in

    return reg


@block
def delay(clk, en, d, q):
    """q <= d while ``en``: one clock of the engine's skew and flag lines."""

    @always(clk.posedge)
    def hold():
        if en:
            q.next = d

    return hold


@block
def operand_w(clk, en, w, w_dup):
    """w_dup <= w: a lane's weight operand register (after the weight ROM's read register).
    Named ``_dup`` like the input operand copies, so that synthesis keeps its bits apart:
    Yosys would otherwise merge bits that hold the same function of the ROM address (in
    small ROMs built from LUTs, two weights' bits often are), and a bit that drives two
    multipliers cannot become a register inside either (hdl/flow/ecp5_dsp.py)."""

    @always(clk.posedge)
    def hold():
        if en:
            w_dup.next = w

    return hold


@block
def stage(clk, en, w, xz, s_in, s_out, *, first: bool):
    """One multiply-add stage: p <= int8(w) * xz; s_out <= s_in + p (stage 0: s_out <= p)."""
    p = _signed(PROD_BITS)

    @always(clk.posedge)
    def multiply():
        if en:
            p.next = w.signed() * xz

    if first:
        @always(clk.posedge)
        def add():
            if en:
                s_out.next = p

        return multiply, add

    @always(clk.posedge)
    def add_in():
        if en:
            s_out.next = s_in + p

    return multiply, add_in


@block
def systolic_array(clk, en, x, w, sums, *, pe: int, zp_in: int):
    lanes = len(x)
    if not isinstance(en, list):  # one enable, or one a lane (copies of one: mac_engine)
        en = [en] * lanes
    if lanes < 1 or len(w) != lanes:
        raise ValueError(f"systolic_array: {len(x)} input lanes and {len(w)} weight lanes must "
                         f"agree (at least one)")
    if len(sums) != pe or any(len(wk) != 8 * pe for wk in w):
        raise ValueError(f"systolic_array: PE={pe} needs {pe} sums and {8 * pe}-bit weight words")
    if not -128 <= zp_in <= 127:
        raise ValueError(f"systolic_array: zp_in={zp_in} is not an int8 zero point")
    if any(len(s) < sum_bits(lanes - 1) for s in sums):
        raise ValueError(f"systolic_array: sums need {sum_bits(lanes - 1)} bits")
    insts = []
    wq = [Signal(intbv(0)[8 * pe:]) for _ in range(lanes)]
    for k in range(lanes):
        insts.append(operand_w(clk, en[k], w[k], wq[k]))
    for p in range(pe):
        insts.append(row(clk, en, x, [wk((p + 1) * 8, p * 8) for wk in wq], sums[p],
                         zp_in=zp_in))
    return insts


@block
def row(clk, en, x, w, total, *, zp_in: int):
    """One PE row: its L stages chained, the last one's partial sum on ``total``. A block of
    its own so that the converted names say where a stage is, ``..._row<p>_stage<k>_p``
    (``hdl.flow.ecp5_dsp.place`` reads them)."""
    lanes = len(x)
    insts = []
    xz = [_signed(XZ_BITS) for _ in range(lanes)]
    chain = [_signed(sum_bits(k)) for k in range(lanes - 1)] + [total]
    for k in range(lanes):
        insts.append(operand_x(clk, en[k], x[k], xz[k], zp_in=zp_in))
        insts.append(stage(clk, en[k], w[k], xz[k], chain[k - 1] if k else chain[0], chain[k],
                           first=k == 0))
    return insts
