"""Padding on the stream: an H x W image of packed words in, the (top + H + bottom) x (left + W +
right) image out, every padded position a word of ``value`` in each lane (a 'same' convolution
pads with its input zero point, so padded positions add nothing: ``golden.conv2d_acc``).

Input ``s`` and output ``m``: raster order (NHWC), ``Cg`` words a pixel, ``bits`` a word.

The output register walks the padded raster. At an input position it takes the next input word
(the input's valid and ready pass through one register); at a padded one it sends the pad word
without taking. The pads before an image's first input word (its top rows and the first row's
left columns) wait until that word is valid, so an idle block holds nothing of the next image
and an image's timing depends only on its own words (the conv2d cycle model counts on it); every
other pad goes out one a clock. ``s.ready = adv and inside``: one word a clock either way.

Parameters are checked at elaboration; ``pad2d`` with no padding is not built (``conv2d`` leaves
it out).
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, intbv

from ..lib.stream import check_stream


def padded(h: int, w: int, pad: tuple) -> tuple[int, int]:
    """(rows, columns) of the padded image; ``pad`` = (top, bottom, left, right)."""
    top, bottom, left, right = pad
    return top + h + bottom, left + w + right


def lead_words(w: int, cg: int, pad: tuple) -> int:
    """Words an image's first input word waits behind: its top rows and first left pads."""
    top, _, left, right = pad
    return (top * (left + w + right) + left) * cg


@block
def pad2d(clk, rst, s, m, *, h: int, w: int, cg: int, pad: tuple, value: int):
    top, bottom, left, right = (int(v) for v in pad)
    if min(top, bottom, left, right) < 0 or not any((top, bottom, left, right)):
        raise ValueError(f"pad2d: padding {pad} must be >= 0 and not all 0")
    if h < 1 or w < 1 or cg < 1:
        raise ValueError(f"pad2d: image {h}x{w} of {cg} words a pixel must not be empty")
    bits = len(s.data)
    check_stream("s", s, ready=True, signed=False)
    check_stream("m", m, bits=bits, ready=True, signed=False)
    if not 0 <= value < 1 << bits:
        raise ValueError(f"pad2d: pad word {value:#x} does not fit {bits} bits")
    hp, wp = padded(h, w, pad)

    adv = Signal(bool(0))
    step = Signal(bool(0))
    y = Signal(intbv(0, min=0, max=hp))
    x = Signal(intbv(0, min=0, max=wp))
    g = Signal(intbv(0, min=0, max=max(2, cg)))
    # where (y, x) is, kept as flags that change where the counters cross an edge (the reset
    # values are the image's first position)
    row_in = Signal(bool(top == 0))
    col_in = Signal(bool(left == 0))
    lead = Signal(bool(top > 0 or left > 0))
    first_col_in = left == 0
    first_row_in = top == 0
    lead_at_start = top > 0 or left > 0
    # the counter values just before an edge; an edge that does not exist gets the last row
    # or column, which the wrap branch takes first, so it never matches
    above_edge = top - 1 if top else hp - 1
    below_edge = top + h - 1 if bottom else hp - 1
    left_edge = left - 1 if left else wp - 1
    right_edge = left + w - 1 if right else wp - 1

    @always_comb
    def handshake():
        adv.next = not m.valid or m.ready
        s.ready.next = (not m.valid or m.ready) and row_in and col_in
        # the output register takes a word: an input word once valid, a leading pad once the
        # image's first word is there, any other pad at once
        step.next = (not m.valid or m.ready) and (s.valid or not ((row_in and col_in) or lead))

    @always_seq(clk.posedge, reset=rst)
    def out():
        if adv:
            m.valid.next = step
            if row_in and col_in:
                m.data.next = s.data
            else:
                m.data.next = value
        if step:
            if g == cg - 1:
                g.next = 0
                if x == wp - 1:
                    x.next = 0
                    col_in.next = first_col_in
                    if y == hp - 1:
                        y.next = 0
                        row_in.next = first_row_in
                        lead.next = lead_at_start
                    else:
                        y.next = y + 1
                        if y == above_edge:
                            row_in.next = True
                            if first_col_in:
                                lead.next = False
                        elif y == below_edge:
                            row_in.next = False
                else:
                    x.next = x + 1
                    if x == left_edge:
                        col_in.next = True
                        if row_in and lead:
                            lead.next = False
                    elif x == right_edge:
                        col_in.next = False
            else:
                g.next = g + 1

    return handshake, out
