"""OV7670 capture, in the camera's PCLK domain: VSYNC/HREF/D[7:0] -> tagged RGB565 words.

The sensor drives D[7:0] on PCLK's falling edge; this block samples on the rising edge. In
RGB565 each pixel is two bytes while HREF is high: first R[4:0]G[5:3], then G[2:0]B[4:0]. VSYNC
pulses high between frames (the OV7670's default polarity).

Output ``m`` (no ready: one word per two bytes, at most one every other PCLK, into
``async_fifo`` which carries it to the system clock): 18 bits, ``tag`` in [17:16]:

    PIXEL  (0)  data = RGB565
    VSYNC  (1)  VSYNC rose: a frame boundary (data = 0)
    EOL    (2)  HREF fell: the end of a line (data = the line's pixel count)

Nothing is assumed about the line length here: the system side (``frame_assembler``) counts
pixels and lines and rejects frames that do not match, so short or long lines, a VSYNC in the
middle of a frame or PCLK glitches cost at most the frame they hit. A line with an odd number
of bytes (a glitch) drops its last byte; the byte phase restarts on every HREF rise.
"""
from __future__ import annotations

from myhdl import Signal, always_seq, block, intbv

from ..lib.stream import check_stream

PIXEL, VSYNC, EOL = 0, 1, 2
WORD_BITS = 18
MAX_LINE = 1 << 10  # pixels per line the EOL count holds (QVGA is 320)


@block
def ov7670_capture(pclk, prst, vsync, href, d, m):
    check_stream("m", m, bits=WORD_BITS, ready=None, signed=False)
    high = Signal(intbv(0)[8:])
    phase = Signal(bool(0))       # 1: the next byte is a pixel's second
    vsync_q = Signal(bool(0))
    href_q = Signal(bool(0))
    count = Signal(intbv(0, min=0, max=MAX_LINE))

    @always_seq(pclk.posedge, reset=prst)
    def sample():
        m.valid.next = 0
        href_q.next = href
        vsync_q.next = vsync
        if vsync:
            phase.next = 0
            count.next = 0
            if not vsync_q:
                m.valid.next = 1
                m.data.next = VSYNC << 16
        elif href:
            if not phase:
                high.next = d
                phase.next = 1
            else:
                phase.next = 0
                m.valid.next = 1
                m.data.next = (PIXEL << 16) | (high << 8) | d
                if count < MAX_LINE - 1:
                    count.next = count + 1
        else:
            phase.next = 0
            if href_q:  # HREF fell: end of line
                m.valid.next = 1
                m.data.next = (EOL << 16) | count
                count.next = 0

    return sample
