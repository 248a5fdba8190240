"""Per-layer parallelism: which (PE, SIMD) each conv3x3/dense layer gets, and the cycle model
of the whole network.

A config is a JSON object ``{"conv1": [8, 1], "conv2": [8, 8], ...}`` (PE, SIMD per weighted
layer). Each preset has a default beside its model (``model/pretrained/<model>.hw.json``);
``--par conv2=8x4`` overrides one layer; ``auto(net, budget=...)`` or ``auto(net, ii=...)``
picks one from the cycle model.

The network cycle model: every block streams concurrently, so the initiation interval is the
slowest block's cycles per image (``layer_cycles``); the pixel ROM and argmax take one beat per
value. The latency of an image entering an empty pipe (``latency``) chains the blocks' timing
models (``trace``: the clock each value leaves, given the clock each input value came), from
the first pixel to the class index.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from model import export
from model.qnet import Layer, Network

from . import argmax as argmax_block
from . import conv3x3 as conv_block
from . import dense as dense_block
from . import maxpool2x2 as pool_block


def load(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config {path} does not exist")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"config {path}: not JSON ({exc})") from None
    return {name: tuple(v) for name, v in raw.items()}


def parse_override(text: str) -> tuple[str, tuple[int, int]]:
    """``conv2=8x4`` -> ("conv2", (8, 4))."""
    try:
        name, value = text.split("=")
        pe, simd = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise ValueError(f"--par {text!r}: write LAYER=PExSIMD, e.g. conv2=8x4") from None
    return name, (pe, simd)


def validate(net: Network, config: dict) -> dict:
    """Every weighted layer has a (PE, SIMD) that folds it; no unknown layer names."""
    weighted = [layer.name for layer in net.layers if layer.has_weights]
    unknown = sorted(set(config) - set(weighted))
    if unknown:
        raise ValueError(f"config names {', '.join(unknown)}, not layers of {net.name} "
                         f"({', '.join(weighted)})")
    out = {}
    for layer in net.layers:
        if layer.has_weights:
            if layer.name not in config:
                raise ValueError(f"config has no entry for layer {layer.name}")
            pe, simd = (int(v) for v in config[layer.name])
            export.check_parallel(layer, pe, simd)
            out[layer.name] = (pe, simd)
    return out


def layer_cycles(layer: Layer, par: tuple[int, int] | None = None) -> int:
    if layer.kind == "conv3x3":
        return conv_block.cycles(layer, *par)
    if layer.kind == "dense":
        return dense_block.cycles(layer, *par)
    if layer.kind == "maxpool2x2":
        return pool_block.cycles(*layer.in_shape)
    return 0


def interval(net: Network, config: dict) -> int:
    """Predicted initiation interval (clocks per image, back to back)."""
    h, w, c = net.input_shape
    return max([h * w * c, argmax_block.cycles(net.logits_layer.c_out)] +
               [layer_cycles(layer, config.get(layer.name)) for layer in net.layers])


def latency(net: Network, config: dict) -> int:
    """Predicted clocks from an image's first pixel to its class index, pipe empty, pixels one
    per clock, output always ready (dense layers with the top's ``DENSE_SLOTS`` job slots)."""
    from .network import DENSE_SLOTS

    t = [i + 1 for i in range(int(np.prod(net.input_shape)))]  # the pixel ROM's register
    for layer in net.layers:
        par = config.get(layer.name)
        if layer.kind == "conv3x3":
            t = conv_block.trace(layer, *par, t)
        elif layer.kind == "maxpool2x2":
            t = pool_block.trace(*layer.in_shape, t)
        elif layer.kind == "dense":
            t = dense_block.trace(layer, *par, t, slots=DENSE_SLOTS)
    return max(t) + 1  # argmax: the class leaves one clock after the last logit


def multipliers(config: dict) -> int:
    return sum(pe * simd for pe, simd in config.values())


def options(layer: Layer) -> list[tuple[int, int]]:
    outs, _, ins = export.mac_shape(layer)
    return [(pe, simd) for pe in range(1, outs + 1) if outs % pe == 0
            for simd in range(1, ins + 1) if ins % simd == 0]


def auto(net: Network, budget: int | None = None, ii: int | None = None) -> dict:
    """The config with the fewest multipliers that meets interval ``ii``; or, with ``budget``,
    the fastest config within that many multipliers (fewest multipliers among equals)."""
    if (budget is None) == (ii is None):
        raise ValueError("give exactly one of a multiplier budget or a target interval")
    weighted = [layer for layer in net.layers if layer.has_weights]
    table = {layer.name: sorted(((layer_cycles(layer, o), o[0] * o[1], o) for o in options(layer)),
                                key=lambda t: (t[1], t[0]))
             for layer in weighted}
    fixed = interval(net, {layer.name: (export.mac_shape(layer)[0], export.mac_shape(layer)[2])
                           for layer in weighted})

    def cheapest(limit: int) -> dict | None:
        picked = {}
        for name, rows in table.items():
            ok = [r for r in rows if r[0] <= limit]
            if not ok:
                return None
            picked[name] = ok[0][2]
        return picked

    if ii is not None:
        if ii < fixed:
            raise ValueError(f"interval {ii} is below what any config reaches ({fixed} clocks: "
                             f"input, pooling or argmax)")
        return cheapest(ii)
    candidates = sorted({r[0] for rows in table.values() for r in rows} | {fixed})
    best = None
    for limit in candidates:
        if limit < fixed:
            continue
        picked = cheapest(limit)
        if picked is not None and multipliers(picked) <= budget:
            best = picked
            break
    if best is None:
        raise ValueError(f"budget {budget}: even one multiplier per layer needs "
                         f"{len(weighted)}")
    return best
