"""7-segment decoder: a digit 0-9 -> segments ``gfedcba`` (bit 0 = a), active high.

Segment names as on every datasheet: a top, b top right, c bottom right, d bottom, e bottom
left, f top left, g middle. ``show`` low (no result yet) or a value above 9 lights only g (a
dash). Boards with common-anode displays (DE10-Lite, Basys3) invert the outputs in their top.
"""
from __future__ import annotations

from myhdl import always_comb, block

PATTERNS = (0x3F, 0x06, 0x5B, 0x4F, 0x66, 0x6D, 0x7D, 0x07, 0x7F, 0x6F)
DASH = 0x40


def segments(digit: int | None) -> int:
    return PATTERNS[digit] if digit is not None and 0 <= digit <= 9 else DASH


@block
def seven_seg(digit, show, seg):
    if len(seg) != 7:
        raise ValueError(f"seven_seg: seg is {len(seg)} bits, it needs 7 (gfedcba)")
    table = PATTERNS + (DASH,) * ((1 << len(digit)) - len(PATTERNS))

    @always_comb
    def decode():
        if show:
            seg.next = table[digit]
        else:
            seg.next = DASH

    return decode
