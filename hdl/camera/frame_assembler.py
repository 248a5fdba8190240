"""Frame assembler: tagged capture words -> pixels with their position, and a verdict per frame.

``ov7670_capture`` reports what the pins did (pixels, line ends, VSYNC); this block, in the
system clock domain, decides whether that was a frame. A frame is good when, between two
VSYNCs, exactly ``height`` lines of exactly ``width`` pixels arrived. Anything else (a short or
long line, missing or extra lines, a VSYNC in mid-frame, a frame cut off) makes it bad: it
is counted in ``bad_frames`` and the next VSYNC starts afresh, so the front-end resynchronises
at every VSYNC and nothing can wait forever. Words before the first VSYNC after reset (the
camera was mid-frame) are ignored without counting.

Ports: ``clk``, ``rst``; ``s``: capture words (18 bits, ``s.ready`` always high: the block
takes a word every clock); ``m`` (no ready, one beat per clock at most), ``KIND_BITS`` + 16 +
``xy`` bits::

    kind = PIXEL  data = {y, x, RGB565}      only pixels inside the frame (x < width, y < height)
    kind = GOOD   data = frame number        the frame ended good (at the next VSYNC)
    kind = BAD    data = frame number        the frame ended bad

``frames`` counts every frame that ended (good or bad, 16 bits, wrapping): a frame's number;
``bad_frames`` counts bad ones (saturating at ``bad_bits``). A pixel's beat leaves one clock
after its word; a verdict one clock after the VSYNC word.
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, intbv

from ..lib.stream import Stream, check_stream
from .ov7670_capture import EOL, PIXEL, VSYNC, WORD_BITS

KIND_PIXEL, KIND_GOOD, KIND_BAD = 0, 1, 2
KIND_BITS = 2
FRAME_BITS = 16


def coord_bits(width: int, height: int) -> tuple[int, int]:
    return max(1, (width - 1).bit_length()), max(1, (height - 1).bit_length())


def out_bits(width: int, height: int) -> int:
    xb, yb = coord_bits(width, height)
    return KIND_BITS + max(16 + xb + yb, FRAME_BITS)


def out_stream(width: int, height: int) -> Stream:
    return Stream(out_bits(width, height), signed=False, ready=False)


def fields(word: int, width: int, height: int) -> tuple[int, int, int, int]:
    """A beat of ``m`` -> (kind, y, x, rgb) (for verdicts: (kind, 0, 0, frame number))."""
    xb, yb = coord_bits(width, height)
    body = out_bits(width, height) - KIND_BITS
    kind = word >> body
    if kind != KIND_PIXEL:
        return kind, 0, 0, word & ((1 << FRAME_BITS) - 1)
    return kind, word >> (16 + xb) & ((1 << yb) - 1), word >> 16 & ((1 << xb) - 1), word & 0xFFFF


@block
def frame_assembler(clk, rst, s, m, frames, bad_frames, *, width: int, height: int):
    check_stream("s", s, bits=WORD_BITS, ready=True, signed=False)
    check_stream("m", m, bits=out_bits(width, height), ready=None, signed=False)
    if width < 1 or height < 1:
        raise ValueError(f"frame_assembler: width={width}, height={height} must be positive")
    xb, yb = coord_bits(width, height)
    body = out_bits(width, height) - KIND_BITS
    bad_max = bad_frames.max - 1
    x = Signal(intbv(0, min=0, max=width + 1))
    y = Signal(intbv(0, min=0, max=height + 1))
    in_frame = Signal(bool(0))
    ok = Signal(bool(0))
    tag = Signal(intbv(0)[2:])
    rgb = Signal(intbv(0)[16:])

    @always_comb
    def split():
        s.ready.next = 1
        tag.next = s.data[18:16]
        rgb.next = s.data[16:0]

    @always_seq(clk.posedge, reset=rst)
    def assemble():
        m.valid.next = 0
        if s.valid:
            if tag == VSYNC:
                if in_frame:
                    frames.next = (frames + 1) % (1 << FRAME_BITS)
                    m.valid.next = 1
                    if ok and y == height and x == 0:
                        m.data.next = (KIND_GOOD << body) | ((frames + 1) % (1 << FRAME_BITS))
                    else:
                        m.data.next = (KIND_BAD << body) | ((frames + 1) % (1 << FRAME_BITS))
                        if bad_frames < bad_max:
                            bad_frames.next = bad_frames + 1
                in_frame.next = 1
                ok.next = 1
                x.next = 0
                y.next = 0
            elif in_frame and tag == PIXEL:
                if x < width and y < height:
                    m.valid.next = 1
                    m.data.next = (KIND_PIXEL << body) | (y << (16 + xb)) | (x << 16) | rgb
                    x.next = x + 1
                else:
                    ok.next = 0
            elif in_frame and tag == EOL:
                if x != width or y == height:
                    ok.next = 0
                x.next = 0
                if y < height:
                    y.next = y + 1

    return split, assemble
