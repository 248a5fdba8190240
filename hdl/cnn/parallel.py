"""A weighted layer's parallelism, ``Parallel(pe, simd, taps)``, and the weight ROM layout it
implies. This module owns the type: every config, command line and block takes it from here.

    pe     output channels computed side by side (divides C_out)
    simd   input channels taken per clock (divides C_in; a dense layer's N_in)
    taps   conv2d kernel taps per clock: 1 (the kh*kw taps folded in time), kw (a row of the
           kernel a clock, kh clocks a window) or kh*kw (all at once); a dense layer has one
           tap

Text form ``8x4`` (taps 1) or ``8x1x9``; JSON form ``[8, 4]`` or ``[8, 1, 9]`` (a config file,
``model/pretrained/<model>.hw.json``). PE x SIMD x taps multipliers.

Weight ROM words for a PE x SIMD (x taps) MAC array (``packed_weights``, ``8 * P * S * taps``
bits a word; the array reads them one ROM per systolic stage, ``stage_weights``, files
``<layer>_weights_pe<P>_simd<S>[_taps9]_lane<k>.mem``, ``8 * P`` bits a word):

    taps t   word k = (g*(T/t) + u)*(C_in/S) + cg (T = kh*kw taps for conv2d, 1 for dense;
             u the step, one a clock); lane (p*t + i)*S + s, bits [8*lane+7 : 8*lane], holds
             the weight of output g*P + p, tap u*t + i, input cg*S + s. So taps 1: word
             (g*T + tap)*(C_in/S) + cg, lane p*S + s; taps T: word g*(C_in/S) + cg, lane
             (p*T + tap)*S + s.

Each byte is the int8 weight's two's complement bit pattern (the MAC lanes multiply it as a
signed number).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model import export
from model.qnet import Layer


def mac_shape(layer: Layer) -> tuple[int, int, int]:
    """(outputs, taps, inputs per tap) of a conv2d (C_out, k*k, C_in) or dense (N_out, 1, N_in);
    a depthwise layer's (1, k*k, C): each channel its own sum, so SIMD channels side by side
    (and its taps, one a clock or all at once) are its only parallelism."""
    if layer.kind == "depthwise":
        return 1, int(np.prod(layer.weights.shape[1:])), int(layer.weights.shape[0])
    if layer.kind == "conv2d":
        return (layer.c_out, int(layer.weights.shape[1]) * int(layer.weights.shape[2]),
                int(layer.weights.shape[-1]))
    if layer.kind == "dense":
        return layer.c_out, 1, int(layer.weights.shape[-1])
    raise ValueError(f"layer {layer.name}: {layer.kind} has no weights")


@dataclass(frozen=True)
class Parallel:
    pe: int = 1
    simd: int = 1
    taps: int = 1

    def __post_init__(self):
        for name in ("pe", "simd", "taps"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"parallelism {name.upper()}={value!r} must be a whole number "
                                 f"of at least 1")
            object.__setattr__(self, name, int(value))

    @classmethod
    def of(cls, value) -> "Parallel":
        """A Parallel from itself, ``[pe, simd]`` or ``[pe, simd, taps]`` (a config entry)."""
        if isinstance(value, Parallel):
            return value
        try:
            values = [int(v) for v in value]
        except (TypeError, ValueError):
            values = []
        if len(values) not in (2, 3):
            raise ValueError(f"parallelism {value!r}: give [PE, SIMD] or [PE, SIMD, taps]")
        return cls(*values)

    @classmethod
    def parse(cls, text: str) -> "Parallel":
        """``8x4`` or ``8x1x9``."""
        try:
            return cls.of(int(v) for v in text.lower().split("x"))
        except ValueError:
            raise ValueError(f"parallelism {text!r}: write PExSIMD or PExSIMDxT (T taps a "
                             f"clock: a kernel row, 3 for a 3x3, or all, 9), e.g. 8x4") from None

    @property
    def multipliers(self) -> int:
        return self.pe * self.simd * self.taps

    @property
    def entry(self) -> list[int]:
        """The JSON form: [pe, simd], or [pe, simd, taps] when the taps are not folded."""
        return [self.pe, self.simd] if self.taps == 1 else [self.pe, self.simd, self.taps]

    def __str__(self) -> str:
        return "x".join(str(v) for v in self.entry)

    def __iter__(self):
        return iter((self.pe, self.simd, self.taps))

    def check(self, layer: Layer) -> "Parallel":
        """Raise ValueError naming the parameter when this cannot fold ``layer``."""
        outs, all_taps, ins = mac_shape(layer)
        if outs % self.pe:
            raise ValueError(f"layer {layer.name}: PE={self.pe} must divide its {outs} output "
                             f"channels")
        if ins % self.simd:
            raise ValueError(f"layer {layer.name}: SIMD={self.simd} must divide its {ins} input "
                             f"channels")
        allowed = tap_counts(layer)
        if self.taps not in allowed:
            row = (f", {allowed[1]} (a row of the kernel a clock)" if len(allowed) == 3
                   else "")
            raise ValueError(f"layer {layer.name}: taps={self.taps} must be 1 (taps folded in "
                             f"time){row} or {all_taps} (all taps in one clock)")
        return self


def tap_counts(layer: Layer) -> list[int]:
    """The taps a clock ``layer`` can take: 1, a conv2d kernel's row (kw, when the kernel has
    more than one row and column) and all kh*kw."""
    _, all_taps, _ = mac_shape(layer)
    out = {1, all_taps}
    if layer.kind == "conv2d":
        kw = int(layer.weights.shape[2])
        if 1 < kw < all_taps:
            out.add(kw)
    return sorted(out)


def options(layer: Layer) -> list[Parallel]:
    """Every Parallel that folds ``layer``: each (PE, SIMD) pair, and for a conv2d each with
    a kernel row and all kh*kw taps a clock too."""
    outs, _, ins = mac_shape(layer)
    return [Parallel(pe, simd, t) for t in tap_counts(layer)
            for pe in range(1, outs + 1) if outs % pe == 0
            for simd in range(1, ins + 1) if ins % simd == 0]


def widest(layer: Layer) -> Parallel:
    """All outputs, inputs and taps at once."""
    outs, taps, ins = mac_shape(layer)
    return Parallel(outs, ins, taps)


def packed_name(layer: Layer, par: Parallel) -> str:
    return (f"{layer.name}_weights_pe{par.pe}_simd{par.simd}"
            f"{f'_taps{par.taps}' if par.taps > 1 else ''}.mem")


def packed_weights(layer: Layer, par: Parallel) -> list[int]:
    """Weight ROM words for ``par``'s MAC array (layout in the module docstring)."""
    pe, simd, taps = par.check(layer)
    outs, n_taps, ins = mac_shape(layer)
    w = (layer.weights.astype(np.int64).reshape(outs, n_taps, ins) & 0xFF)
    # (g, p, u, i, cg, s) -> (g, u, cg, p, i, s): tap u*taps + i; a word per (g, u, cg), lanes
    # (p*taps + i)*S + s
    w = w.reshape(outs // pe, pe, n_taps // taps, taps, ins // simd, simd)
    w = w.transpose(0, 2, 4, 1, 3, 5)
    lanes = w.reshape(-1, pe * taps * simd)
    return [sum(int(v) << (8 * i) for i, v in enumerate(row)) for row in lanes]


def stage_weights(layer: Layer, par: Parallel) -> list[list[int]]:
    """The weight ROM of each systolic stage (``hdl.cnn.systolic_array``): stage k's word a
    holds the PE weights lane k of ``packed_weights`` word a holds, output p in bits
    [8p+7 : 8p]."""
    lanes = par.taps * par.simd
    words = packed_weights(layer, par)
    out = []
    for k in range(lanes):
        out.append([sum(((word >> (8 * (p * lanes + k))) & 0xFF) << (8 * p)
                        for p in range(par.pe)) for word in words])
    return out


def stage_name(layer: Layer, par: Parallel, k: int) -> str:
    return packed_name(layer, par).replace(".mem", f"_lane{k}.mem")


def write_block_mems(layer: Layer, folder, par: Parallel) -> dict:
    """Every ROM file one conv2d/dense block reads, into ``folder``; returns their paths
    ("weights": one file per systolic stage; a depthwise block's one file)."""
    if layer.kind == "depthwise":
        from .depthwise import write_mems

        par.check(layer)
        return write_mems(layer, folder, par.simd, par.taps)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = export.layer_files(layer)
    paths = {"weights": []}
    for k, words in enumerate(stage_weights(layer, par)):
        path = folder / stage_name(layer, par, k)
        export.write_mem(path, words, 8 * par.pe)
        paths["weights"].append(path)
    for key, values in (("bias", layer.bias), ("multiplier", layer.multiplier),
                        ("shift", layer.shift)):
        paths[key] = folder / files[key]["file"]
        export.write_mem(paths[key], values, files[key]["bits"])
    return paths
