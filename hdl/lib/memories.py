"""The memories a design holds, and the block RAMs each device's synthesis gives them.

``ram``, ``rom`` and ``maxpool2x2``'s row buffer note every memory they elaborate (``note``)
while a ``recording`` is open,
with the layer that owns it (``owned_by``, set by the network top before each layer's blocks). So the
block-RAM use of a config is known from one elaboration (a few seconds; no conversion, no
synthesis), per layer.

Which memories become block RAMs is Yosys' choice (``memory_libmap``): the cheapest of the
mappings its library offers, costed as its files say:

- a block RAM costs 128 (ECP5 DP16KD, 18 kbit; widths 1, 2, 4, 9, 18, and 36 read-only) or 64
  (iCE40 SB_RAM40_4K, 4 kbit; widths 2, 4, 8, 16), times the blocks it takes;
- the ECP5's LUT RAM (TRELLIS_DPR16X4, 16 words of 4 bits) costs 4 a cell, RAMs only;
- logic costs a bit (a RAM's bits in flip-flops) or 1/16 a bit (a ROM's, as LUTs); at a tie
  a RAM takes the block (the iCE40 UP5K's 8 x 8 line-buffer rows go to EBR), a ROM the logic.

The small FIFOs (``hdl.lib.fifo``) read without a clock, which no block RAM does: they are
LUT RAM or logic and are not noted.

``blocks`` applies those costs: the number of block RAMs Yosys gives a memory, 0 when it goes
to LUT RAM or logic. The Artix-7 figure counts RAMB18 (18 kbit; two to a RAMB36) by the same
rule with Yosys' 7-series costs (129 a RAMB18, 8 a 32 x 6 LUT RAM). Checked against Yosys on the four MLPerf Tiny shapes and the presets
(``tests/hdl/lib/test_memories.py``).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Memory:
    kind: str       # "rom" (read-only, from a .mem file) or "ram"
    depth: int      # words
    width: int      # bits a word
    owner: str      # the layer (or "input", "fork") it belongs to

    @property
    def bits(self) -> int:
        return self.depth * self.width


_record: list | None = None
_owner = "network"


@contextmanager
def recording():
    """Collect the memories elaborated inside the ``with`` into the list it yields."""
    global _record
    outer, _record = _record, []
    try:
        yield _record
    finally:
        _record = outer


def owned_by(name: str) -> None:
    """The memories elaborated from now on belong to ``name`` (a layer, "input", "network")."""
    global _owner
    _owner = name


def varying_bits(words, bits: int) -> int:
    """The bits of a ROM's ``bits``-bit words that are not the same in every word: Yosys
    drops the constant ones (a layer's biases are all zero when its BatchNormalization is
    untrained, and that ROM is then no memory at all)."""
    mask = (1 << bits) - 1
    first = int(words[0]) & mask if len(words) else 0
    differ = 0
    for w in words:
        differ |= (int(w) & mask) ^ first
    return bin(differ).count("1")


def note(kind: str, depth: int, width: int) -> None:
    if _record is not None:
        _record.append(Memory(kind, int(depth), int(width), _owner))


# block RAM primitives: (cost, kbit, {width: depth}), as Yosys' memory libraries give them
# (share/lattice/brams_16kd.txt, share/ice40/brams.txt, share/xilinx/brams_xc4v.txt, which
# Yosys uses for the 7-series: RAMB18 at 129, RAMB36 at 257, so two RAMB18 before one RAMB36)
PRIMITIVES = {
    "DP16KD": (128, {1: 16384, 2: 8192, 4: 4096, 9: 2048, 18: 1024, 36: 512}),
    "EBR": (64, {2: 2048, 4: 1024, 8: 512, 16: 256}),
    "RAMB18": (129, {1: 16384, 2: 8192, 4: 4096, 9: 2048, 18: 1024, 36: 512}),
}
# LUT RAM: (cost a cell, words, bits) a cell, or None (the iCE40 has none)
LUTRAMS = {"DP16KD": (4, 16, 4), "EBR": None, "RAMB18": (8, 32, 6)}
LOGIC_COST = {"ram": 1.0, "rom": 1.0 / 16}


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def block_count(mem: Memory, primitive: str) -> int:
    """The fewest ``primitive`` blocks ``mem`` fits in (side by side for width, stacked for
    depth, at the best of its widths). The ECP5's 36-bit mode is read-only-or-pseudo-dual-port
    and so serves either kind here."""
    _, shapes = PRIMITIVES[primitive]
    return min(_ceil(mem.width, w) * _ceil(mem.depth, d) for w, d in shapes.items())


def blocks(mem: Memory, primitive: str) -> int:
    """Block RAMs Yosys gives ``mem`` on the device whose block RAM is ``primitive``: the
    block mapping when it is the cheapest, else 0 (LUT RAM or logic)."""
    cost, _ = PRIMITIVES[primitive]
    block = block_count(mem, primitive) * cost
    logic = mem.bits * LOGIC_COST[mem.kind]
    lut = LUTRAMS[primitive]
    if lut is not None and mem.kind == "ram":
        cell_cost, words, bits = lut
        cells = _ceil(mem.depth, words) * _ceil(mem.width, bits)
        # the read multiplexer over the cells' outputs, half a unit an input bit (FACTOR_MUX)
        mux = 0.5 * (_ceil(mem.depth, words) - 1) * mem.width
        if cells * cell_cost + mux <= block:
            return 0  # LUT RAM, also at a tie (the ECP5's 34 x 128 line-buffer rows)
    # at a tie with logic Yosys keeps a ROM in logic and puts a RAM in the block (measured:
    # the ECP5's 256 x 8 pixel ROM is LUTs, the iCE40's 8 x 8 line-buffer rows are EBR)
    if block < logic or (mem.kind == "ram" and block == logic):
        return block // cost
    return 0
