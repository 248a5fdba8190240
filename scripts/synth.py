#!/usr/bin/env python3
"""Synthesize one layer's hardware block with Yosys and print its resources.

Converts the block (conv3x3 or dense) for a layer of a model with the given parallelism, writes
its ROM files beside the Verilog in OUT, runs Yosys for the target and prints the mapped cells
grouped as LUT / FF / DSP / block RAM. The full cell list and the Yosys log stay in OUT.

Examples:
  python scripts/synth.py --model mnist_cnn --layer conv2 --pe 8 --simd 4
  python scripts/synth.py --model mnist_cnn --layer dense1 --pe 4 --simd 4 --target ice40
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts._cli import run  # noqa: E402


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
    ap.add_argument("--layer", required=True, help="layer name (conv1, conv2, dense1, ...)")
    ap.add_argument("--pe", type=int, default=1, help="output channels in parallel (default 1)")
    ap.add_argument("--simd", type=int, default=1, help="input channels per clock (default 1)")
    ap.add_argument("--target", default="xilinx", choices=sorted(synth.TARGETS))
    ap.add_argument("--out", type=Path, help="work folder (default build/synth/<model>_<layer>_"
                                             "pe<P>_simd<S>)")
    args = ap.parse_args()
    src = source.resolve(args.model)
    net = src.load_net()
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
