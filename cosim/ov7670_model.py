"""Behavioural OV7670 for testbenches: PCLK, VSYNC, HREF and D[7:0] streaming RGB565 frames.

Timing (``Timing``), after the OV7670 datasheet's frame timing figure (VGA, in PCLK periods
tP, two per pixel in RGB565): a line is 784 pixel periods of which 640 carry HREF; VSYNC is high
for 3 line times; 17 line times pass from VSYNC's fall to the first HREF and 10 after the last
line. The scaled modes keep those proportions with fewer pixels per line. ``Timing.datasheet``
holds those numbers for a W-pixel line; tests use ``Timing.short`` (the same shape with short
blanking) so a frame simulates in milliseconds.

D changes on PCLK's falling edge and is stable around the rising edge, where the capture
samples. Faults are injected per frame: ``truncate`` (stop after that many lines, no more
HREF until the next VSYNC), ``line_lengths`` (per-line pixel counts overriding the frame's
width: short and long lines), ``vsync_at`` (a VSYNC pulse starting at that line),
``glitches`` (extra PCLK edges inserted inside HREF at those byte positions of a line: the
capture sees a repeated byte).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from myhdl import delay, instance


@dataclass(frozen=True)
class Timing:
    period: int = 20            # PCLK period in simulator time units
    line_blank: int = 288       # PCLK periods without HREF between lines
    vsync_lines: int = 3
    front_lines: int = 17       # after VSYNC, before the first line
    back_lines: int = 10        # after the last line, before the next VSYNC

    @staticmethod
    def datasheet(width: int, period: int = 20) -> "Timing":
        """784 pixel periods per line for 640 active, scaled to ``width`` pixels."""
        return Timing(period=period, line_blank=2 * (784 - 640) * width // 640)

    @staticmethod
    def short(period: int = 20) -> "Timing":
        return Timing(period=period, line_blank=6, vsync_lines=1, front_lines=1, back_lines=1)


@dataclass
class Faults:
    truncate: int | None = None
    line_lengths: dict = field(default_factory=dict)
    vsync_at: int | None = None
    glitches: dict = field(default_factory=dict)   # line -> list of byte positions


def rgb565_bytes(pixel: int) -> tuple[int, int]:
    return (pixel >> 8) & 0xFF, pixel & 0xFF


def camera(pclk, vsync, href, d, frames, timing: Timing = Timing.short(), faults=None,
           done=None):
    """A generator that plays ``frames`` (each an (H, W) array of RGB565 values) on the pins;
    ``faults`` maps a frame index to ``Faults``; ``done`` (a list) gets True at the end."""
    half = timing.period // 2
    faults = faults or {}

    def clock(n=1):
        for _ in range(n):
            pclk.next = 0
            yield delay(half)
            pclk.next = 1
            yield delay(half)

    @instance
    def play():
        for index, frame in enumerate(frames):
            frame = np.asarray(frame)
            h, w = frame.shape
            f = faults.get(index, Faults())
            line_clocks = 2 * w + timing.line_blank
            vsync.next = 1
            yield clock(timing.vsync_lines * line_clocks)
            vsync.next = 0
            yield clock(timing.front_lines * line_clocks)
            for y in range(h):
                if f.truncate is not None and y >= f.truncate:
                    break
                if f.vsync_at == y:
                    vsync.next = 1
                    yield clock(line_clocks)
                    vsync.next = 0
                n = f.line_lengths.get(y, w)
                row = [frame[y, x % w] for x in range(n)]
                data = [b for p in row for b in rgb565_bytes(int(p))]
                extra = set(f.glitches.get(y, []))
                href.next = 1
                for k, byte in enumerate(data):
                    pclk.next = 0
                    d.next = byte
                    yield delay(half)
                    pclk.next = 1
                    yield delay(half)
                    if k in extra:  # a glitch: one more PCLK edge on the same byte
                        pclk.next = 0
                        yield delay(1)
                        pclk.next = 1
                        yield delay(1)
                pclk.next = 0
                href.next = 0
                yield delay(half)
                pclk.next = 1
                yield delay(half)
                yield clock(timing.line_blank - 1)
            yield clock(timing.back_lines * line_clocks)
        if done is not None:
            done.append(True)
        while True:
            yield clock()

    return play
