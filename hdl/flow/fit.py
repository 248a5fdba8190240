"""Networks sized to a device: its multipliers and block RAMs, per layer, before synthesis.

``DEVICES`` names the parts a config can be fitted to (``--device``). ``block_rams`` elaborates
a config (a few seconds, no conversion) and counts the block RAMs each layer's memories take
there (``hdl.lib.memories``: Yosys' own choice between block RAM, LUT RAM and logic, from the
costs in its memory libraries). ``over`` lists what a config needs beyond the device, and
``fastest_fitting`` picks the fastest config (``config.auto``) that fits both: the device's
multiplier budget first, then smaller budgets until the block RAMs fit too; the multipliers
the fastest interval leaves over then go where they cut the latency most
(``config.spend_on_latency``), when the block RAMs still fit.

Logic (LUTs, flip-flops) is not estimated here: ``make synth`` reports it against the device.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Device:
    key: str            # the --device name
    title: str
    target: str         # the synthesis target (hdl.flow.synth): ecp5, xilinx, ice40
    multipliers: int    # DSP multipliers a MAC lane can take
    bram: str           # the block RAM primitive (hdl.lib.memories.PRIMITIVES)
    brams: int          # how many the part has
    kbit: int           # bits a block RAM holds, in kbit (for the words)
    luts: int


DEVICES = {
    "ecp5-85f": Device("ecp5-85f", "ECP5 LFE5U-85F (ULX3S)", "ecp5", 156, "DP16KD", 208, 18,
                       83_640),
    "xc7a35t": Device("xc7a35t", "Artix-7 XC7A35T (Basys3, Arty A7-35)", "xilinx", 90, "RAMB18",
                      100, 18, 20_800),
    "up5k": Device("up5k", "iCE40 UP5K (iCEBreaker)", "ice40", 8, "EBR", 30, 4, 5_280),
}
DEFAULT_DEVICE = "ecp5-85f"


def get(key: str) -> Device:
    if key not in DEVICES:
        raise ValueError(f"--device {key}: one of {', '.join(DEVICES)}")
    return DEVICES[key]


def memories_of(net, config: dict, input_max: float, input_offset: float = 0.0) -> list:
    """Every memory the design of ``config`` holds (``memories.Memory``), from one
    elaboration with its ROM files in a scratch folder."""
    from hdl.lib import memories

    from . import build

    with tempfile.TemporaryDirectory() as scratch, memories.recording() as found:
        paths = build.write_mems(net, config, Path(scratch), input_max, input_offset)
        build.elaborate(net, config, paths)
    return found


def count(mems, device: Device) -> dict:
    """{owner: block RAMs} of the memories ``mems`` on ``device`` (owners: "input", the
    layers in order, "network"), owners without any left out."""
    from hdl.lib import memories

    out = {}
    for mem in mems:
        n = memories.blocks(mem, device.bram)
        if n:
            out[mem.owner] = out.get(mem.owner, 0) + n
    return out


def block_rams(net, config: dict, device: Device, input_max: float,
               input_offset: float = 0.0) -> dict:
    """``count`` of the design of ``config``."""
    return count(memories_of(net, config, input_max, input_offset), device)


def over(net, config: dict, device: Device, brams: dict) -> list[str]:
    """What ``config`` needs beyond ``device``, in words (empty: it fits)."""
    from hdl.cnn import config as cfg

    out = []
    macs, other = cfg.multipliers(config), cfg.other_multipliers(net, config)
    if macs + other > device.multipliers:
        more = f" ({macs} MAC + {other} average pool)" if other else ""
        out.append(f"{macs + other} multipliers{more}, the {device.title} has "
                   f"{device.multipliers}")
    if sum(brams.values()) > device.brams:
        out.append(f"{sum(brams.values())} {device.bram} block RAMs, it has {device.brams}")
    return out


def fastest_fitting(net, device: Device, input_max: float, input_offset: float = 0.0,
                    report=None) -> tuple[dict, dict]:
    """(config, its block RAMs): the fastest config within the device's multipliers whose
    block RAMs fit too (the multipliers left spent on latency); ValueError when even one
    multiplier a layer does not fit. ``report(text)`` hears of the slow steps."""
    from hdl.cnn import config as cfg

    weighted = sum(layer.has_weights for layer in net.layers)

    def trial(budget):
        conf = cfg.auto(net, budget=budget)
        # the average pools' multipliers share the device's with the MAC lanes
        extra = cfg.other_multipliers(net, conf)
        while cfg.multipliers(conf) + extra > device.multipliers and budget > weighted:
            budget -= cfg.multipliers(conf) + extra - device.multipliers
            conf = cfg.auto(net, budget=max(budget, weighted))
        return conf, block_rams(net, conf, device, input_max, input_offset)

    budget = device.multipliers
    if budget < weighted:
        raise ValueError(f"--device {device.key}: {net.name} has {weighted} weighted layers, "
                         f"one multiplier each is {weighted}; the {device.title} has "
                         f"{device.multipliers}")
    conf, brams = trial(budget)
    if not over(net, conf, device, brams):
        if report:
            report("  spending the multipliers left on latency ...")
        quick = cfg.spend_on_latency(net, conf, budget - cfg.other_multipliers(net, conf))
        if quick != conf:
            more = block_rams(net, quick, device, input_max, input_offset)
            if not over(net, quick, device, more):
                return quick, more
        return conf, brams
    low, best = weighted, None
    conf_low, brams_low = trial(low)
    if over(net, conf_low, device, brams_low):
        raise ValueError(f"--device {device.key}: even the smallest config of {net.name} "
                         f"needs " + "; ".join(over(net, conf_low, device, brams_low)))
    best = (conf_low, brams_low)
    high = budget  # over: the largest budget that fits lies in [low, high)
    while high - low > 1:
        mid = (low + high) // 2
        if report:
            report(f"  {mid} multipliers: counting block RAMs ...")
        conf, brams = trial(mid)
        if over(net, conf, device, brams):
            high = mid
        else:
            low, best = mid, (conf, brams)
    return best
