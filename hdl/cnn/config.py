"""Per-layer parallelism: which ``Parallel`` (PE, SIMD, taps; ``hdl.cnn.parallel``) each
conv2d/dense layer gets, and the cycle model of the whole network.

A config is ``{layer name: Parallel}``; on disk a JSON object ``{"conv1": [8, 1], "conv2": [8,
8], ...}`` (a conv2d may add a third number, k*k, for all taps in one clock: ``[8, 1, 9]``
for a 3x3, PE x 9 x SIMD multipliers, and its results leave PE channels a beat, ``lanes``).
Each preset has a default beside its model (``model/pretrained/<model>.hw.json``); ``--par
conv2=8x4`` (or ``conv1=8x1x9``) overrides one layer; ``auto(net, budget=...)`` or
``auto(net, ii=...)`` picks one from the cycle model.

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

from model.qnet import Layer, Network

from . import argmax as argmax_block
from . import conv2d as conv_block
from . import add as add_block
from . import dense as dense_block
from . import depthwise as dw_block
from . import maxpool2x2 as pool_block
from . import mean as mean_block
from . import pool2d as pool2d_block
from . import pack
from .parallel import Parallel, mac_shape, options, widest


def load(path) -> dict:
    """A config from a .hw.json file, or from the config.json a build folder holds (so
    ``--config build/mine/verilog/config.json`` builds that design again)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config {path} does not exist")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"config {path}: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"config {path}: a JSON object {{layer: [PE, SIMD]}} is expected")
    if isinstance(raw.get("layers"), dict):  # a build folder's config.json: its layers
        raw = raw["layers"]
    out = {}
    for name, value in raw.items():
        if isinstance(value, dict) and {"pe", "simd"} <= set(value):
            value = [value["pe"], value["simd"], value.get("taps", 1)]
        try:
            out[name] = Parallel.of(value)
        except ValueError as exc:
            raise ValueError(f"config {path}: layer {name}: {exc}") from None
    return out


def to_json(config: dict) -> dict:
    """The config as a .hw.json file holds it."""
    return {name: Parallel.of(par).entry for name, par in config.items()}


def parse_override(text: str) -> tuple[str, Parallel]:
    """``conv2=8x4`` -> ("conv2", Parallel(8, 4)); ``conv1=8x1x9`` -> ("conv1",
    Parallel(8, 1, 9))."""
    try:
        name, value = text.split("=")
        return name, Parallel.parse(value)
    except ValueError:
        raise ValueError(f"--par {text!r}: write LAYER=PExSIMD or LAYER=PExSIMDxT (T "
                         f"taps a clock: a kernel row, 3 for a 3x3, or all, 9), e.g. conv2=8x4") from None


def describe(config: dict) -> str:
    """``conv1=8x1x9, dense1=2x8``: the config as --par writes it."""
    return ", ".join(f"{name}={Parallel.of(par)}" for name, par in config.items())


def out_lanes(layer: Layer, par, lanes_in: int) -> int:
    """Channels a beat of the layer's output brings."""
    if layer.kind == "conv2d":
        par = Parallel.of(par)
        return par.pe if par.taps > 1 else 1
    if layer.kind == "depthwise":
        return Parallel.of(par).simd
    if layer.kind in ("dense", "add"):
        return 1  # an add takes its inputs a value a beat
    return lanes_in  # maxpool and flatten keep the beat


def tensor_lanes(net: Network, config: dict) -> dict:
    """{tensor: channels a beat of it brings} (the input: one)."""
    out = {net.input_tensor: 1}
    for layer in net.layers:
        out[layer.tensor] = out_lanes(layer, config.get(layer.name), out[layer.inputs[0]])
    return out


def lanes(net: Network, config: dict) -> dict:
    """{layer name: channels a beat of its (first) input brings}."""
    by = tensor_lanes(net, config)
    return {layer.name: by[layer.inputs[0]] for layer in net.layers}


def validate(net: Network, config: dict) -> dict:
    """Every weighted layer has a (PE, SIMD[, taps]) that folds it and takes the beats the layer
    before delivers; no unknown layer names."""
    weighted = [layer.name for layer in net.layers if layer.has_weights]
    unknown = sorted(set(config) - set(weighted))
    if unknown:
        raise ValueError(f"config names {', '.join(unknown)}, not layers of {net.name} "
                         f"({', '.join(weighted)})")
    out = {}
    by = {net.input_tensor: 1}
    for layer in net.layers:
        n = by[layer.inputs[0]]
        if layer.has_weights:
            if layer.name not in config:
                raise ValueError(f"config has no entry for layer {layer.name}")
            try:
                par = Parallel.of(config[layer.name])
            except ValueError as exc:
                raise ValueError(f"layer {layer.name}: {exc}") from None
            par.check(layer)
            pack.check_lanes(n, par.simd, f"layer {layer.name}: ")
            out[layer.name] = par
        by[layer.tensor] = out_lanes(layer, out.get(layer.name), n)
    n = by[net.layers[-1].tensor]
    if n != 1:
        raise ValueError(f"{net.name}: argmax takes one logit a beat; the last layer delivers {n}")
    return out


def layer_cycles(layer: Layer, par=None, lanes_in: int = 1) -> int:
    if layer.kind == "depthwise":
        _, simd, taps = Parallel.of(par).check(layer)
        return dw_block.cycles(layer, simd, lanes_in, taps)
    if layer.kind == "conv2d":
        pe, simd, taps = Parallel.of(par)
        return conv_block.cycles(layer, pe, simd, taps, lanes_in)
    if layer.kind == "dense":
        pe, simd, _ = Parallel.of(par)
        return dense_block.cycles(layer, pe, simd, lanes_in)
    if layer.kind == "maxpool2x2":
        return pool_block.cycles(*layer.in_shape, lanes_in)
    if layer.kind in ("maxpool", "avgpool"):
        return pool2d_block.cycles(*layer.in_shape, lanes_in)
    if layer.kind == "mean":
        return mean_block.cycles(*layer.in_shape, lanes_in)
    if layer.kind == "add":
        return add_block.cycles(layer)
    return 0


def interval(net: Network, config: dict) -> int:
    """Predicted initiation interval (clocks per image, back to back)."""
    n = lanes(net, config)
    return max([int(np.prod(net.input_shape)), argmax_block.cycles(net.logits_layer.c_out)] +
               [layer_cycles(layer, config.get(layer.name), n[layer.name])
                for layer in net.layers])


def latency(net: Network, config: dict) -> int:
    """Predicted clocks from an image's first pixel to its class index, pipe empty, pixels one
    per clock, output always ready (dense layers with the top's ``DENSE_SLOTS`` job slots);
    the class leaves argmax after the last logit."""
    return max(times(net, config)[net.layers[-1].tensor]) + argmax_block.LATENCY


def forked_tensors(net: Network) -> set:
    """The tensors more than one layer reads (a flatten's reader reads the flatten's input)."""
    same = {layer.tensor: layer.inputs[0] for layer in net.layers if layer.kind == "flatten"}
    count = {}
    for layer in net.layers:
        if layer.kind != "flatten":
            for t in layer.inputs:
                while t in same:
                    t = same[t]
                count[t] = count.get(t, 0) + 1
    return {t for t, k in count.items() if k > 1}


def through_fifo(t_in, lanes: int) -> list[int]:
    """The clock each value leaves a block-RAM FIFO that takes it when it comes (``bram_fifo``:
    three clocks, a beat of ``lanes`` values a clock)."""
    out, prev = [], -1
    for k in range(0, len(t_in), lanes):
        prev = max(int(t_in[k]) + 3, prev + 1)
        out += [prev] * lanes
    return out


def times(net: Network, config: dict) -> dict:
    """{tensor: the clock each of its values leaves its block} (values of a wide beat share
    one), pipe empty, pixels one per clock, output always ready."""
    from .network import DENSE_SLOTS

    # the input's skid buffer and the pixel ROM's register
    out = {net.input_tensor: [i + 2 for i in range(int(np.prod(net.input_shape)))]}
    n = lanes(net, config)
    by = tensor_lanes(net, config)
    forked = forked_tensors(net)
    for layer in net.layers:
        par = config.get(layer.name)

        def reads(tensor):  # a forked tensor reaches each reader through a FIFO
            t = out[tensor]
            return through_fifo(t, by[tensor]) if tensor in forked else t

        t = reads(layer.inputs[0])
        if layer.kind == "add":
            a, b = layer.inputs
            t = add_block.trace(t, reads(b), by[a], by[b])
        elif layer.kind == "conv2d":
            pe, simd, taps = Parallel.of(par)
            t = conv_block.trace(layer, pe, simd, t, taps=taps, lanes=n[layer.name])
        elif layer.kind == "depthwise":
            _, simd, taps = Parallel.of(par)
            t = dw_block.trace(layer, simd, t, lanes=n[layer.name], taps=taps)
        elif layer.kind == "maxpool2x2":
            t = pool_block.trace(*layer.in_shape, t)
        elif layer.kind in ("maxpool", "avgpool"):
            t = pool2d_block.trace(*layer.in_shape, layer.kernel_hw, t,
                                   "max" if layer.kind == "maxpool" else "avg")
        elif layer.kind == "mean":
            t = mean_block.trace(*layer.in_shape, t)
        elif layer.kind == "dense":
            pe, simd, _ = Parallel.of(par)
            t = dense_block.trace(layer, pe, simd, t, slots=DENSE_SLOTS, lanes=n[layer.name])
        out[layer.tensor] = t
    return out


def multipliers(config: dict) -> int:
    return sum(Parallel.of(par).multipliers for par in config.values())


def other_multipliers(net: Network, config: dict) -> int:
    """The hardware multipliers besides the MAC lanes: an average pool's lane multiplies its
    window sum by a constant (``pool2d.average_lane``), which Yosys maps to a DSP multiplier,
    one a lane."""
    n = lanes(net, config)
    return sum(n[layer.name] for layer in net.layers if layer.kind == "avgpool")


def smallest(net: Network) -> dict:
    """One multiplier a layer, the default for a model without a config."""
    return {layer.name: options(layer)[0] for layer in net.layers if layer.has_weights}


def fastest(net: Network) -> dict:
    """Every layer fully parallel (all outputs, inputs and taps at once)."""
    return {layer.name: widest(layer) for layer in net.layers if layer.has_weights}


# The LFE5U-85F's multiplier sites: three rows of 52 (hdl/flow/ecp5_dsp.py, SITE_ROWS), where
# the ECP5 flow places each systolic row's stages side by side in chain order
ECP5_85F_DSP_ROWS = (52, 52, 52)


def placed_stages(config: dict, dsp_rows=ECP5_85F_DSP_ROWS) -> int:
    """How many systolic stages the ECP5 flow's placement (``ecp5_dsp.place``) gives sites
    side by side: arrays largest first, each row of ``simd * taps`` stages into the DSP row
    with the most free sites, or left to the placer when even that one is too short. (A row
    left to the placer spreads its multipliers over the die: the limit of the fastest configs'
    fmax.)"""
    arrays = sorted((Parallel.of(par) for par in config.values()),
                    key=lambda p: -p.multipliers)
    free, placed = list(dsp_rows), 0
    for par in arrays:
        for _ in range(par.pe):
            length = par.simd * par.taps
            best = max(range(len(free)), key=lambda i: free[i])
            if free[best] >= length:
                free[best] -= length
                placed += length
    return placed


def auto(net: Network, budget: int | None = None, ii: int | None = None) -> dict:
    """The config with the fewest multipliers that meets interval ``ii``; or, with ``budget``,
    the fastest config within that many multipliers (fewest multipliers among equals). Layers
    are picked in order, each the cheapest option that keeps it, and the pooling or flatten
    after it, within the interval and takes the beats the layer before delivers. Among the
    configs with the same multipliers and interval, the one whose systolic rows the ECP5 flow
    places side by side the most (``placed_stages``), then the one with the fewest rows (fewer
    accumulators and drains: fewer LUTs)."""
    if (budget is None) == (ii is None):
        raise ValueError("give exactly one of a multiplier budget or a target interval")
    layers = [layer for layer in net.layers if layer.kind != "flatten"]
    weighted = [layer for layer in layers if layer.has_weights]
    # among options of equal multipliers and cycles, a kernel row a clock comes last: its PE
    # results a beat widen the stream more than all taps with fewer rows (an average pool after
    # it takes a multiplier a lane)
    rows = {layer.name: sorted(options(layer), key=lambda o: (
        o.multipliers, layer_cycles(layer, o), o.taps not in (1, mac_shape(layer)[1])))
            for layer in weighted}
    fixed = interval(net, fastest(net))

    # a flatten's tensor is its input's, beat for beat
    same = {layer.tensor: layer.inputs[0] for layer in net.layers if layer.kind == "flatten"}

    def source(t):
        while t in same:
            t = same[t]
        return t

    def cheapest(limit: int) -> dict | None:
        picked, by = {}, {net.input_tensor: 1}  # lanes of each tensor so far
        for i, layer in enumerate(layers):
            n = by[source(layer.inputs[0])]
            if not layer.has_weights:
                if layer_cycles(layer, None, n) > limit:
                    return None
                by[layer.tensor] = out_lanes(layer, None, n)
                continue
            after = [nxt for nxt in layers[i + 1:i + 2] if not nxt.has_weights]
            for o in rows[layer.name]:
                if o.simd % n and n % o.simd:
                    continue
                out = out_lanes(layer, o, n)
                if layer is weighted[-1] and out != 1:
                    continue  # argmax takes one logit a beat (a mean passes the beat on)
                if (layer_cycles(layer, o, n) <= limit and
                        all(layer_cycles(nxt, None, out) <= limit for nxt in after)):
                    picked[layer.name], by[layer.tensor] = o, out
                    break
            else:
                return None
        return picked

    if ii is not None:
        if ii < fixed:
            raise ValueError(f"interval {ii} is below what any config reaches ({fixed} clocks: "
                             f"input, pooling or argmax)")
        picked = cheapest(ii)
        return picked if picked is None else placeable(net, picked)
    candidates = {fixed}
    for layer in layers:
        c_in = layer.in_shape[-1]
        for n in (d for d in range(1, c_in + 1) if c_in % d == 0):
            for o in rows.get(layer.name, [None]):
                candidates.add(layer_cycles(layer, o, n))
    best = None
    for limit in sorted(candidates):
        if limit < fixed:
            continue
        picked = cheapest(limit)
        if picked is not None and multipliers(picked) <= budget:
            best = picked
            break
    if best is None:
        raise ValueError(f"budget {budget}: even one multiplier per layer needs "
                         f"{len(weighted)}")
    return placeable(net, best)


def spend_on_latency(net: Network, config: dict, budget: int, tries: int = 2) -> dict:
    """``config`` with the multipliers it leaves of ``budget`` spent on latency: step by step,
    of every layer's next ``tries`` options up, the one that cuts the latency (the cycle
    model's) the most per added multiplier, the interval no worse, until none fits or helps.
    The interval-bound configs ``auto`` picks leave multipliers over (powers of two do not
    add up to a device's count); the layers on small maps late in a network, whose every
    pixel waits for a whole channel vector, are where the latency is."""
    config = dict(config)
    best_lat, ii = latency(net, config), interval(net, config)
    while True:
        left = budget - multipliers(config)
        pick = None
        for layer in net.layers:
            if not layer.has_weights:
                continue
            now = Parallel.of(config[layer.name])
            ups = sorted((o for o in options(layer)
                          if now.multipliers < o.multipliers <= now.multipliers + left),
                         key=lambda o: (o.multipliers, o.pe))
            for o in ups[:tries]:
                trial = {**config, layer.name: o}
                try:
                    trial = validate(net, trial)
                except ValueError:  # its beats do not suit a neighbour's
                    continue
                if interval(net, trial) > ii:
                    continue
                lat = latency(net, trial)
                gain = (best_lat - lat) / (o.multipliers - now.multipliers)
                if lat < best_lat and (pick is None or gain > pick[0]):
                    pick = (gain, layer.name, o, lat)
        if pick is None:
            return config
        _, name, o, best_lat = pick
        config[name] = o


def placeable(net: Network, config: dict, limit: int = 4096) -> dict:
    """``config``, or the config of the same multipliers and interval, layer by layer the same
    multipliers, cycles and output beats, whose rows place best (``placed_stages``), then with
    the fewest rows. At most ``limit`` combinations are tried."""
    import itertools

    n = lanes(net, config)
    choices = []
    for layer in net.layers:
        if not layer.has_weights:
            continue
        now = Parallel.of(config[layer.name])
        same = [o for o in options(layer)
                if o.multipliers == now.multipliers
                and layer_cycles(layer, o, n[layer.name]) == layer_cycles(layer, now,
                                                                          n[layer.name])
                and not (o.simd % n[layer.name] and n[layer.name] % o.simd)
                and out_lanes(layer, o, n[layer.name]) == out_lanes(layer, now, n[layer.name])]
        choices.append((layer.name, same or [now]))
    if int(np.prod([len(c) for _, c in choices])) > limit:
        return config
    best, score = config, None
    for combo in itertools.product(*(c for _, c in choices)):
        candidate = {**config, **{name: o for (name, _), o in zip(choices, combo)}}
        key = (-placed_stages(candidate), sum(Parallel.of(p).pe for p in candidate.values()))
        if score is None or key < score:
            best, score = candidate, key
    if interval(net, best) != interval(net, config):  # the lanes rule kept every layer's own
        return config
    return best
