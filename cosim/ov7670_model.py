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
    def at_fps(width: int, height: int, fps: float, period: int) -> "Timing":
        """Datasheet line shape and porches; blank lines added before the frame until a frame
        lasts 1/fps with a PCLK of ``period`` ns (the OV7670 lowers its frame rate the same
        way, with dummy lines in the vertical blanking)."""
        t = Timing.datasheet(width, period)
        line = 2 * width + t.line_blank
        lines = round(1e9 / fps / period / line)
        front = lines - height - t.vsync_lines - t.back_lines
        if front < t.front_lines:
            raise ValueError(f"ov7670_model: {width}x{height} at {fps} fps does not fit a "
                             f"{period} ns PCLK")
        return Timing(period, t.line_blank, t.vsync_lines, front, t.back_lines)

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


GLITCH, VSYNC_BIT, HREF_BIT = 1 << 10, 1 << 9, 1 << 8


def trace(frames, timing: Timing = Timing.short(), faults=None, close: bool = False) -> np.ndarray:
    """The pins, one entry per PCLK period: ``D | HREF_BIT | VSYNC_BIT | GLITCH`` (GLITCH: one
    more short PCLK pulse after this period's rising edge). ``frames``: (H, W) RGB565 arrays;
    ``faults`` maps a frame index to ``Faults``; ``close`` ends with the next frame's VSYNC
    (a receiver judges a frame when the next one starts)."""
    faults = faults or {}
    parts = []
    for index, frame in enumerate(frames):
        frame = np.asarray(frame)
        h, w = frame.shape
        f = faults.get(index, Faults())
        line_clocks = 2 * w + timing.line_blank
        parts += [np.full(timing.vsync_lines * line_clocks, VSYNC_BIT),
                  np.zeros(timing.front_lines * line_clocks, np.int64)]
        for y in range(h):
            if f.truncate is not None and y >= f.truncate:
                break
            if f.vsync_at == y:
                parts.append(np.full(line_clocks, VSYNC_BIT))
            n = f.line_lengths.get(y, w)
            row = frame[y, np.arange(n) % w].astype(np.int64)
            data = np.stack([row >> 8 & 0xFF, row & 0xFF], axis=1).ravel() | HREF_BIT
            for k in f.glitches.get(y, []):
                data[k] |= GLITCH
            parts += [data, np.zeros(timing.line_blank, np.int64)]
        parts.append(np.zeros(timing.back_lines * line_clocks, np.int64))
    if close and parts:
        parts.append(np.full(timing.vsync_lines * line_clocks, VSYNC_BIT))
    return np.concatenate(parts).astype(np.int64)


def camera(pclk, vsync, href, d, frames, timing: Timing = Timing.short(), faults=None,
           done=None):
    """A generator that plays ``frames`` (each an (H, W) array of RGB565 values) on the pins
    (``trace``), then keeps PCLK running idle; ``done`` (a list) gets True at the end."""
    half = timing.period // 2
    pins = trace(frames, timing, faults).tolist()

    @instance
    def play():
        for p in pins:
            pclk.next = 0
            vsync.next = bool(p & VSYNC_BIT)
            href.next = bool(p & HREF_BIT)
            d.next = p & 0xFF
            yield delay(half)
            pclk.next = 1
            yield delay(half)
            if p & GLITCH:  # one more PCLK edge on the same byte
                pclk.next = 0
                yield delay(1)
                pclk.next = 1
                yield delay(1)
        if done is not None:
            done.append(True)
        while True:
            pclk.next = 0
            vsync.next = 0
            href.next = 0
            yield delay(half)
            pclk.next = 1
            yield delay(half)

    return play
