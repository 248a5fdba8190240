"""Unsigned multiplier built from AND gates and adders: no ``*`` reaches the Verilog.

``p = a * b`` for unsigned ``a`` (``a_bits`` <= 32) and ``b``, ``depth(a_bits, dsp_bits)``
clocks (at most ``LATENCY``) after the operands are presented, one product per clock (fully
pipelined, no valid: the enclosing block carries its valid bits in a shift register).

Why: the requantizer multiplies a ~20-bit accumulator by a 31..38-bit per-channel multiplier.
Written as ``*``, Yosys maps that product to 4 DSP48E1 or 4 SB_MAC16 per layer, and the DSPs
are what the MAC lanes need (an Artix-7 35T has 90, an iCE40 UP5K 8). Here it becomes LUTs and
carry chains instead.

Stages (one register each)::

    1        pairs of partial products summed:  (b if a[i] else 0) + (b if a[i+1] else 0) << 1
             (the AND gates feed the adder's carry chain; a lone last product is registered)
    2..      adder tree         pairs summed, one level per clock (5 levels hold 32 products;
                                an odd node out is registered to stay in step)

So ``depth`` is the tree's levels (at least 1). The partial products themselves are not
registered: that was a_bits x b_bits flip-flops a requantizer (about 500 of its 1,100), and a
network has one requantizer per layer or per lane (41 in the MLPerf VWW model).

Each tree node holds ``value << offset`` with the offset kept in Python, so a node is only as
wide as the products under it need.

``dsp_bits`` > 0 (for parts whose DSPs are spare, or whose LUTs are few, like the iCE40 UP5K):
the low ``dsp_bits`` bits of ``a`` go through a registered ``*`` (Yosys maps it to DSPs: two
SB_MAC16 for 16 x 31 bits), the remaining high bits (at most 16) through the tree, and a last
stage adds the two (depth 1 + tree + 1: 3 clocks for an 18-bit ``a``).
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, intbv

LEVELS = 5
LATENCY = 1 + LEVELS
MAX_A_BITS = 1 << LEVELS


@block
def gate(a, bit: int, b, out):
    """out = b if a[bit] else 0 (AND gates, no register)."""
    @always_comb
    def comb():
        if a[bit]:
            out.next = b
        else:
            out.next = 0

    return comb


@block
def add_shifted(clk, x, y, shift: int, out):
    """out = x + (y << shift), registered."""

    @always_seq(clk.posedge, reset=None)
    def stage():
        out.next = x + (y << shift)

    return stage


@block
def hold(clk, x, out):
    @always_seq(clk.posedge, reset=None)
    def stage():
        out.next = x

    return stage


def _levels(n: int) -> int:
    return max(0, (n - 1).bit_length())


def _tree_depth(n: int) -> int:
    """Clocks of ``tree`` over n partial products: pairs summed in the first."""
    return max(1, _levels(n))


def depth(a_bits: int, dsp_bits: int = 0) -> int:
    """Clocks from the operands to ``p`` (at most ``LATENCY``; a caller that needs a fixed
    latency delays its narrow operands by the difference)."""
    if dsp_bits == 0:
        return _tree_depth(a_bits)
    high = a_bits - min(dsp_bits, a_bits)
    return 1 if high == 0 else 1 + _tree_depth(high)


@block
def softmul(clk, a, b, p, *, a_bits: int, b_bits: int, dsp_bits: int = 0):
    if not 1 <= a_bits <= MAX_A_BITS:
        raise ValueError(f"softmul: a_bits={a_bits} must be in 1..{MAX_A_BITS}")
    if b_bits < 1:
        raise ValueError(f"softmul: b_bits={b_bits} must be at least 1")
    if len(p) < a_bits + b_bits:
        raise ValueError(f"softmul: p has {len(p)} bits, the product needs {a_bits + b_bits}")
    if dsp_bits < 0 or (dsp_bits and a_bits - dsp_bits > MAX_A_BITS // 2):
        raise ValueError(f"softmul: dsp_bits={dsp_bits} must be 0 or leave at most "
                         f"{MAX_A_BITS // 2} of a's {a_bits} bits to the tree")
    if dsp_bits == 0:
        return tree(clk, a, b, p, lo=0, a_bits=a_bits, b_bits=b_bits)
    lo = min(dsp_bits, a_bits)
    if lo == a_bits:
        return dsp_product(clk, a, lo, b, p)
    # the DSP part: a registered product, held until the tree of the high bits is done
    high = Signal(intbv(0)[a_bits - lo + b_bits:])
    insts = [tree(clk, a, b, high, lo=lo, a_bits=a_bits, b_bits=b_bits)]
    chain = [Signal(intbv(0)[lo + b_bits:]) for _ in range(_tree_depth(a_bits - lo))]
    insts.append(dsp_product(clk, a, lo, b, chain[0]))
    for x, y in zip(chain, chain[1:]):
        insts.append(hold(clk, x, y))
    insts.append(add_shifted(clk, chain[-1], high, lo, p))
    return insts


@block
def dsp_product(clk, a, lo: int, b, out):
    @always_seq(clk.posedge, reset=None)
    def stage():
        out.next = a[lo:] * b

    return stage


@block
def tree(clk, a, b, p, *, lo: int, a_bits: int, b_bits: int):
    """p = a[a_bits:lo] * b from partial products and an adder tree (``depth`` clocks)."""
    b_max = (1 << b_bits) - 1
    insts = []
    # a node: (signal, offset, largest value of the signal)
    nodes = []
    for i in range(lo, a_bits - 1, 2):  # pairs: gated, summed, registered
        x, y = Signal(intbv(0)[b_bits:]), Signal(intbv(0)[b_bits:])
        top = b_max + (b_max << 1)
        sig = Signal(intbv(0, min=0, max=top + 1))
        insts += [gate(a, i, b, x), gate(a, i + 1, b, y), add_shifted(clk, x, y, 1, sig)]
        nodes.append((sig, i - lo, top))
    if (a_bits - lo) % 2:  # the last product alone, registered to stay in step
        x, sig = Signal(intbv(0)[b_bits:]), Signal(intbv(0)[b_bits:])
        insts += [gate(a, a_bits - 1, b, x), hold(clk, x, sig)]
        nodes.append((sig, a_bits - 1 - lo, b_max))
    while len(nodes) > 1:
        merged = []
        for k in range(0, len(nodes) - 1, 2):
            (x, ox, mx), (y, oy, my) = nodes[k], nodes[k + 1]
            top = mx + (my << (oy - ox))
            sig = Signal(intbv(0, min=0, max=top + 1))
            insts.append(add_shifted(clk, x, y, oy - ox, sig))
            merged.append((sig, ox, top))
        if len(nodes) % 2:
            x, ox, mx = nodes[-1]
            sig = Signal(intbv(0, min=0, max=mx + 1))
            insts.append(hold(clk, x, sig))
            merged.append((sig, ox, mx))
        nodes = merged
    (root, offset, _), = nodes
    assert offset == 0
    insts.append(connect(root, p))
    return insts


@block
def connect(x, out):
    @always_comb
    def assign():
        out.next = x

    return assign
