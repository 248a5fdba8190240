"""Run real test images through a model's converted Verilog and compare with the golden model.

Tests the design `make verilog` built in build/<model>/verilog (as it is, when the model file
has not changed since; rebuilt with the same config when it has); given config flags (--par,
--auto-budget, --auto-ips, --config), that config, built there; --verilog names another folder.
It says which design it tests. Then it lays out a run folder with a generated harness (clock and streams on the Verilog side)
and runs it with:
  --sim verilator  verilator --binary, for volume (the default; all 10,000 MNIST test images
                   in minutes)
  --sim cosim      Icarus under myhdl.Cosimulation (counts and hashes of every logit and class
                   cross to Python, the harness file carries the values)
  --sim icarus     plain vvp, the same harness, no Python in the loop
Icarus simulates a few thousand clocks a second: before an Icarus run the command says how long
it will take from the cycle model.
Every logit of every image is compared with golden; prints bit-exact images, accuracy,
latency and initiation interval in cycles (measured, and the cycle model's prediction), simulated cycles per second. --json for machines.
--gap/--stall add random input gaps and output stalls (percent of cycles); --vcd dumps the
waves of the first image (up to its class index) into RUN/wave.vcd, with a GTKWave save file
showing the top's streams: gtkwave RUN/wave.gtkw

Examples:
  cnn2fpga cosim --model digits_cnn --n 50 --sim cosim
  cnn2fpga cosim --model mnist_cnn --n 10000
"""
import argparse
import json
import sys
import time
from pathlib import Path

from cnn2fpga.commands._cli import add_model_args, resolve_model, run

# Icarus' speed on the seed networks here (myhdl.Cosimulation and plain vvp alike), for the
# warning before a long run; Verilator runs about a thousand times faster
ICARUS_CLOCKS_PER_S = 2_600


def main() -> int:
    import numpy as np

    from cosim import network_sim as ns
    from hdl.cnn import config as cfg
    from hdl.cnn.parallel import Parallel
    from model import golden
    from cnn2fpga.commands.make_verilog import add_config_args, design

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(ap)
    ap.add_argument("--n", type=int, default=200, help="test images (default 200)")
    ap.add_argument("--sim", choices=("verilator", "cosim", "icarus"), default="verilator",
                    help="simulator (default verilator; cosim and icarus are Icarus, slow)")
    ap.add_argument("--verilog", type=Path, help="an existing `make verilog` folder")
    ap.add_argument("--run-dir", type=Path, help="work folder (default build/<model>/run_<sim>)")
    ap.add_argument("--gap", type=int, default=0, help="percent of cycles with no input")
    ap.add_argument("--stall", type=int, default=0, help="percent of cycles output not ready")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--vcd", action="store_true",
                    help="dump the first image's waves to RUN/wave.vcd (+ wave.gtkw)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    add_config_args(ap)
    args = ap.parse_args()
    if args.n < 1:
        raise ValueError(f"--n {args.n} must be at least 1")
    for name in ("gap", "stall"):
        if not 0 <= getattr(args, name) < 100:
            raise ValueError(f"--{name} {getattr(args, name)} must be a percentage below 100")
    src = resolve_model(args)
    net = src.load_net()
    ds = src.load_data(args.mnist_dir)
    images = np.asarray(ds.test.x[: args.n])
    labels = np.asarray(ds.test.y[: args.n]) if ds.labelled else None
    log = sys.stderr if args.json else sys.stdout
    if args.verilog:
        vdir = args.verilog
        top = json.loads((vdir / "config.json").read_text())["top"]
        conf = {k: Parallel(v["pe"], v["simd"], v.get("taps", 1)) for k, v in
                json.loads((vdir / "config.json").read_text())["layers"].items()}
    else:
        conf, vdir, top, _, _ = design(net, src, args, log)
    want = golden.run_network(net, net.quantize_input(src.to_float(images))).logits
    n_classes = want.shape[1]
    run_dir = args.run_dir or Path("build") / src.name / f"run_{args.sim}"
    ns.prepare(run_dir, vdir, top, images, n_classes, gap=args.gap, stall=args.stall,
               seed=args.seed, vcd=args.vcd)
    print(f"{args.sim}: {len(images)} images through {top} ...", file=log, flush=True)
    if args.sim != "verilator":
        clocks = cfg.latency(net, conf) + (len(images) - 1) * cfg.interval(net, conf)
        minutes = clocks / ICARUS_CLOCKS_PER_S / 60
        if minutes > 1:
            print(f"  warning: about {clocks:,} clocks; Icarus runs about "
                  f"{ICARUS_CLOCKS_PER_S:,} a second here, so this takes about {minutes:,.0f} "
                  f"minutes (--sim verilator: seconds)", file=sys.stderr, flush=True)
    start = time.monotonic()
    if args.sim == "icarus":
        result = ns.run_icarus(run_dir, top, n_classes, total=len(images))
    elif args.sim == "cosim":
        result = ns.run_cosim(run_dir, top, n_classes, total=len(images))
    else:
        ns.verilator_build(run_dir, top)
        print("  built with verilator; simulating ...", file=log, flush=True)
        result = ns.run_verilator(run_dir, top, n_classes, total=len(images),
                                  exe=Path(run_dir).resolve() / "obj_dir" / "Vtb")
    wall = time.monotonic() - start
    got = result.logits
    exact = int(np.sum(np.all(got == want[: len(got)], axis=1))) if len(got) == len(want) else 0
    ok = (len(got) == len(want) and exact == len(want) and result.busy_at_end == 0
          and np.array_equal(result.classes, np.argmax(want, axis=1)))
    if args.sim == "cosim":
        ok = ok and result.extra["ev_logits"] == want.size and \
            result.extra["ev_logit_hash"] == ns.rolling_hash(want.ravel()) and \
            result.extra["ev_class_hash"] == ns.rolling_hash(np.argmax(want, axis=1))
    report = {
        "model": src.name, "sim": args.sim, "images": len(images), "bit_exact_images": exact,
        "all_bit_exact": bool(ok),
        "accuracy_hw": float(np.mean(result.classes == labels))
        if labels is not None and len(result.classes) == len(labels) else None,
        "accuracy_golden": None if labels is None
        else float(np.mean(np.argmax(want, axis=1) == labels)),
        "latency_cycles": result.latency, "predicted_latency": cfg.latency(net, conf),
        "interval_cycles": None if result.interval != result.interval else result.interval,
        "predicted_interval": cfg.interval(net, conf), "multipliers": cfg.multipliers(conf),
        "cycles": result.cycles, "sim_seconds": round(result.seconds, 2),
        "wall_seconds": round(wall, 2),
        "cycles_per_second": int(result.cycles / max(result.seconds, 1e-9)),
        "busy_after_last": result.busy_at_end, "gap": args.gap, "stall": args.stall}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"  bit-exact images   {exact} / {len(want)}  ({'all logits equal' if ok else 'MISMATCH'})")
        hw, gold = report["accuracy_hw"], report["accuracy_golden"]
        if labels is None:
            print(f"  accuracy           n/a (random inputs, {ds.source}: no labels)")
        else:
            print(f"  accuracy           hardware "
                  f"{'n/a (' + str(len(result.classes)) + ' classes out)' if hw is None else f'{hw:.4f}'}"
                  f", golden {gold:.4f}")
        print(f"  latency            {result.latency:,} cycles measured, "
              f"{report['predicted_latency']:,} predicted (first pixel to class, empty pipe)")
        measured = ("n/a (needs 3 images)" if result.interval != result.interval
                    else f"{result.interval:,.0f} cycles measured")
        print(f"  interval           {measured}, "
              f"{report['predicted_interval']:,} predicted, {report['multipliers']} multipliers")
        if args.gap or args.stall:
            print(f"                     (measured with {args.gap} % input gaps and {args.stall} % "
                  f"output stalls; the model predicts a stream without either)")
        print(f"  simulation         {result.cycles:,} cycles in {result.seconds:.1f} s "
              f"({report['cycles_per_second']:,} cycles/s)")
        if args.vcd:
            print(f"  waves              gtkwave {run_dir / 'wave.gtkw'}")
    return 0 if ok else 1


if __name__ == "__main__":
    run(main)
