#!/usr/bin/env python3
"""Synthesize a model's whole accelerator, or one layer's block, with Yosys; print resources.

Without --layer: the whole top as `make verilog` builds it (the model's config, --par
overrides), into OUT (default build/<model>/synth/<target>/), with the device's capacity
beside each resource and summary.json. With --layer: that layer's block (conv3x3 or dense)
at --pe/--simd. Either way the mapped cells are grouped as LUT / FF / DSP / block RAM; the
full cell list and the Yosys log stay in OUT.

Examples:
  python scripts/synth.py --model mnist_cnn                    # Artix-7 (synth_xilinx)
  python scripts/synth.py --model digits_cnn --target ice40    # iCE40 UP5K (synth_ice40 -dsp)
  python scripts/synth.py --model mnist_cnn --layer conv2 --pe 8 --simd 4
  python scripts/synth.py --model mnist_cnn --layer dense1 --pe 4 --simd 4 --target ice40
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts._cli import run  # noqa: E402
from scripts.make_verilog import add_config_args  # noqa: E402


def whole(src, net, args) -> int:
    from hdl import build, config as cfg, synth
    from scripts.make_verilog import resolve_config

    conf = resolve_config(net, src, args)
    out = args.out or Path("build") / src.name / "synth" / args.target
    print(f"{src.name}: converting the accelerator ({cfg.multipliers(conf)} MAC multipliers) "
          f"...", flush=True)
    top = build.build(net, conf, out, src.input_max)
    print(f"yosys {synth.TARGETS[args.target].format(top=top.stem)} ...", flush=True)
    result = synth.synthesize(top, top.stem, args.target, log=out / f"{args.target}.log")
    groups = synth.summary(result["cells"], args.target)
    device, _ = synth.DEVICES[args.target]
    rows = synth.fit(groups, args.target)
    (out / "summary.json").write_text(json.dumps({
        "model": src.name, "target": args.target, "device": device, "yosys": synth.version(),
        "config": {k: list(v) for k, v in conf.items()}, "multipliers": cfg.multipliers(conf),
        "resources": groups, "fit": {name: {"used": used, "capacity": cap}
                                     for name, used, cap in rows},
        "cells": result["cells"]}, indent=1) + "\n")
    print(f"  {device}, {synth.version()}:")
    for name, used, cap in rows:
        print(f"  {name:8s} {used:7,d} / {cap:7,d}  {used / cap:6.1%}"
              f"{'  OVER' if used > cap else ''}")
    extra = {k: v for k, v in groups.items() if k not in dict((r[0], 0) for r in rows)}
    print("  also: " + ", ".join(f"{k} {v:,}" for k, v in extra.items()))
    print(f"  ({result['seconds']:.0f} s; {out}/summary.json)")
    return 0


def main() -> int:
    from myhdl import ResetSignal, Signal

    from cosim import icarus
    from hdl import synth
    from hdl.conv3x3 import conv3x3
    from hdl.dense import dense
    from hdl.stream import Stream
    from model import export, source

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="preset or .tflite/.keras file")
    ap.add_argument("--layer", help="one layer's block (conv1, conv2, dense1, ...); default: "
                                    "the whole accelerator")
    ap.add_argument("--pe", type=int, default=1, help="output channels in parallel (default 1)")
    ap.add_argument("--simd", type=int, default=1, help="input channels per clock (default 1)")
    ap.add_argument("--target", default="xilinx", choices=sorted(synth.TARGETS) + ["xc7"],
                    help="xilinx (= xc7: Artix-7) or ice40 (UP5K); default xilinx")
    ap.add_argument("--out", type=Path, help="work folder (default build/<model>/synth/<target> "
                                             "or build/synth/<model>_<layer>_pe<P>_simd<S>)")
    add_config_args(ap)
    args = ap.parse_args()
    args.target = "xilinx" if args.target == "xc7" else args.target
    src = source.resolve(args.model)
    net = src.load_net()
    if args.layer is None:
        return whole(src, net, args)
    layers = {layer.name: layer for layer in net.layers if layer.has_weights}
    if args.layer not in layers:
        raise ValueError(f"--layer {args.layer}: {src.name} has {', '.join(layers)}")
    layer = layers[args.layer]
    export.check_parallel(layer, args.pe, args.simd)
    out = args.out or Path("build") / "synth" / f"{src.name}_{layer.name}_pe{args.pe}_simd{args.simd}"
    paths = export.write_block_mems(layer, out, args.pe, args.simd)
    clk, rst = Signal(bool(0)), ResetSignal(0, active=1, isasync=False)
    block = conv3x3 if layer.kind == "conv3x3" else dense
    top = f"{layer.name}_{layer.kind}"
    icarus.convert(block(clk, rst, Stream(8), Stream(8), layer=layer, pe=args.pe, simd=args.simd,
                         paths=paths), out, top, testbench=False)
    print(f"{src.name} {layer.name} ({layer.kind}, PE={args.pe}, SIMD={args.simd}): "
          f"yosys {args.target} ...", flush=True)
    result = synth.synthesize(out / f"{top}.v", top, args.target, log=out / f"{args.target}.log")
    groups = synth.summary(result["cells"], args.target)
    (out / f"{args.target}.cells.json").write_text(json.dumps(result["cells"], indent=2) + "\n")
    print(f"  MAC multipliers {args.pe * args.simd} (+ the requantizer's)")
    for name, count in groups.items():
        print(f"  {name:8s} {count}")
    print(f"  ({result['seconds']:.0f} s; cells in {out}/{args.target}.cells.json)")
    return 0


if __name__ == "__main__":
    run(main)
