"""The four MLPerf Tiny reference models in our hardware: `make mlperf` -> build/mlperf/.

For each task (vww, ic, kws, ad; model.mlperf builds each from its public description, random
weights calibrated on random inputs, converted the standard way into build/mlperf/<task>.tflite):

  * the golden model against LiteRT's reference kernels on every tensor of --golden-n random
    inputs (mismatching tensors are counted);
  * fitted to --device (default ecp5-85f: the fastest config whose multipliers and block RAMs
    fit the LFE5U-85F, hdl.flow.fit), converted, and --n random inputs run through it in
    Verilator: every output value against golden, latency and interval measured beside the
    cycle model's;
  * with --target ecp5, Yosys and nextpnr on the LFE5U-85F at every seed of --seeds (aiming at
    100 MHz): resources, fmax (the minimum over the seeds; median and maximum beside it), and
    the latency and interval in ms at that fmax, against the fastest published FPGA latency
    of the task and this project's targets.

Accuracy needs the data sets, which are not here; bit-exactness and cycles do not depend on the
weights. Prints figures and never asserts on time; --readme rewrites the mlperf block of
docs/performance.md from the table. Place and route of these models takes 15-60 minutes each
on one core: run it alone, or on a cluster with --scheduler.

Examples:
  cnn2fpga mlperf                            # Verilator only, a few minutes
  cnn2fpga mlperf --task kws --target ecp5 --seeds 1 2 3
  cnn2fpga mlperf --target ecp5 --readme     # every figure of the docs' table
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

from cnn2fpga.commands._cli import add_verbose, run

MARKS = ("<!-- mlperf:start -->", "<!-- mlperf:end -->")


def golden_against_litert(src, net, n: int, seed: int) -> dict:
    """Every layer's tensor and the output of ``n`` random int8 inputs: golden == LiteRT?"""
    import numpy as np

    from model import golden, oracle

    x = np.random.default_rng(seed).integers(-128, 128, (n,) + net.input_shape).astype(np.int8)
    out, inter = oracle.run(src.tflite, x, [layer.tensor for layer in net.layers])
    result = golden.run_network(net, x)
    bad = [layer.name for layer, mine in zip(net.layers, result.tensors)
           if not np.array_equal(inter[layer.tensor], mine)]
    if not np.array_equal(out, result.logits):
        bad.append("output")
    return {"inputs": n, "tensors": len(net.layers) + 1, "mismatching": bad}


def ms(cycles: float, mhz: float | None) -> float | None:
    return None if not mhz else cycles / (mhz * 1e3)


def verdict(value: float | None, target: float | None) -> str:
    if value is None or target is None:
        return ""
    if value <= target:
        return f"meets {target:g}"
    return f"misses {target:g} by {value / target - 1:.0%}"


def markdown(doc: dict) -> str:
    """The table of docs/performance.md's MLPerf Tiny section, from mlperf.json."""
    from model import mlperf

    placed = any(r.get("fmax_mhz") for r in doc["rows"])
    head = (f"Measured by `make mlperf{' TARGET=ecp5' if placed else ''}` at commit "
            f"{doc['commit']} ({doc['date']}; {doc['tools']}), each model fitted to the "
            f"{doc['device']} (`--device {doc['device_key']}`). Block RAMs: Yosys' count where "
            f"placed, else the estimate (est.).")
    lines = [head, "",
             "| task | model | MACs | multipliers | DP16KD | bit-exact (Verilator) "
             "| latency / interval (clocks) | fmax"
             + (f", seeds {' '.join(map(str, doc['seeds']))} (min; median / max)"
                if len(doc["seeds"]) > 1 else f", seed {doc['seeds'][0]}" if doc["seeds"]
                else "") + " | latency / interval at fmax | fastest published FPGA |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        task = mlperf.TASKS[r["task"]]
        bram = (r.get("resources") or {}).get("DP16KD")
        bram = f"{bram}" if bram is not None else f"{r['block_rams_estimate']} (est.)"
        fmax = r.get("fmax_mhz")
        spread = (f" ({r['fmax_median']:.1f} / {r['fmax_max']:.1f})"
                  if fmax and len(r.get("seeds", [])) > 1 else "")
        lat, ii = ms(r["latency_cycles"], fmax), ms(r["interval_cycles"], fmax)
        at = (f"{lat:.3f} / {ii:.3f} ms" if fmax else
              f"({ms(r['latency_cycles'], 100):.3f} / {ms(r['interval_cycles'], 100):.3f} ms "
              f"at 100 MHz, not placed)")
        goal_lat, goal_ii = task.targets
        said = "; ".join(v for v in (verdict(lat, goal_lat), verdict(ii, goal_ii)) if v)
        lines.append(
            f"| {task.title} | {task.model} | {r['macs']:,} | {r['multipliers']} "
            f"| {bram} | {r['bit_exact']} / {r['images']} "
            f"| {r['latency_cycles']:,} / {r['interval_cycles']:,.0f} "
            f"| {f'{fmax:.1f} MHz{spread}' if fmax else '-'} | {at}{f' ({said})' if said else ''} "
            f"| {task.anchor.latency_ms:g} ms ({task.anchor.system}, {task.anchor.device}) |")
    lines += ["", "Golden against LiteRT's reference kernels, every tensor: " + ", ".join(
        f"{r['task']} {r['golden']['inputs']} inputs, "
        f"{len(r['golden']['mismatching'])} of {r['golden']['tensors']} tensors differ"
        for r in doc["rows"]) + "."]
    return "\n".join(lines) + "\n"


def main() -> int:
    import platform

    import numpy as np

    from hdl.cnn import config as cfg
    from hdl.flow import fit, sweep, synth
    from hdl.flow.jobs import Runner
    from model import golden, mlperf, source
    from cnn2fpga.commands.bench import publish

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", action="append", choices=list(mlperf.TASKS),
                    help="only this task (repeatable; default all four)")
    ap.add_argument("--device", choices=list(fit.DEVICES), default=fit.DEFAULT_DEVICE,
                    help="the part each model is fitted to (default ecp5-85f: 156 multipliers, "
                         "208 DP16KD)")
    ap.add_argument("--n", type=int, default=3, help="random inputs through Verilator "
                                                     "(default 3, the least that gives an "
                                                     "interval)")
    ap.add_argument("--golden-n", type=int, default=20,
                    help="random inputs for golden against LiteRT (default 20; 0 skips)")
    ap.add_argument("--target", choices=["ecp5"],
                    help="also place and route on the LFE5U-85F (15-60 minutes a model)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1], metavar="SEED",
                    help="nextpnr's placer seeds (default 1; quote 1 2 3)")
    ap.add_argument("--router", choices=synth.ROUTERS, default=synth.DEFAULT_ROUTER,
                    help="nextpnr's router (default router2)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="local jobs at once (default: one per core)")
    ap.add_argument("--scheduler", metavar="ADDRESS",
                    help="run the jobs on a Dask cluster (tcp://HOST:8786)")
    ap.add_argument("--out", type=Path, default=Path("build") / "mlperf",
                    help="folder for the models, builds, mlperf.json and mlperf.md "
                         "(default build/mlperf)")
    ap.add_argument("--readme", type=Path, nargs="?", const=Path("docs/performance.md"),
                    help="rewrite the mlperf block of this page (default docs/performance.md)")
    add_verbose(ap)
    args = ap.parse_args()
    if args.verbose:
        os.environ["CNN2FPGA_VERBOSE"] = "1"
    if args.n < 3:
        raise ValueError(f"--n {args.n}: an interval needs at least 3 inputs")
    if args.golden_n < 0 or args.jobs < 1:
        raise ValueError("--golden-n must be 0 or more, --jobs at least 1")
    device = fit.get(args.device)
    if args.target and args.target != device.target:
        raise ValueError(f"--target {args.target} places on the {fit.DEVICES['ecp5-85f'].title}:"
                         f" give --device ecp5-85f")
    if len(set(args.seeds)) != len(args.seeds):
        raise ValueError(f"--seeds {' '.join(map(str, args.seeds))}: a seed is repeated")
    tasks = args.task or list(mlperf.TASKS)
    if args.readme and set(tasks) != set(mlperf.TASKS):
        raise ValueError("--readme with --task: the page's table would lose the other tasks' "
                         "rows; run all four")
    start = time.monotonic()
    rows = []
    with Runner(args.scheduler, args.jobs) as runner:
        for task in tasks:
            t = mlperf.TASKS[task]
            print(f"{task}: {t.title}, {t.model} -> {args.out / (task + '.tflite')}", flush=True)
            path = mlperf.tflite(task, args.out)
            src = source.resolve(str(path), dataset="random")
            net = src.load_net()
            check = {"inputs": 0, "tensors": len(net.layers) + 1, "mismatching": []}
            if args.golden_n:
                print(f"  golden against LiteRT on {args.golden_n} random inputs, every "
                      f"tensor ...", flush=True)
                check = golden_against_litert(src, net, args.golden_n, seed=1)
            print(f"  fitting it to the {device.title} ...", flush=True)
            conf, _ = fit.fastest_fitting(net, device, src.input_max, src.input_offset,
                                          report=lambda text: print("  " + text.strip(),
                                                                    flush=True))
            print(f"  {cfg.describe(conf)}", flush=True)
            images = np.asarray(src.load_data().test.x[: args.n])
            want = golden.run_network(net, net.quantize_input(src.to_float(images))).logits
            (row,) = sweep.run(net, [(args.device, conf)],
                               folder=(args.out / task).resolve(), images=images, want=want,
                               input_max=src.input_max, input_offset=src.input_offset,
                               clock_mhz=100.0, target=args.target,
                               freq_mhz=synth.FREQ_MHZ["ecp5"], seeds=args.seeds,
                               router=args.router, runner=runner,
                               report=lambda text: print("  " + text, flush=True))
            built = json.loads((args.out / task / args.device / "verilog" / "config.json")
                               .read_text())
            rows.append({"task": task, "macs": net.macs, "golden": check,
                         "block_rams_estimate": sum(built["block_rams"][args.device].values()),
                         **row})
    tools = [synth.version(), synth.nextpnr_version("ecp5"), f"--router {args.router}"] \
        if args.target else ["Verilator only"]
    doc = {"date": time.strftime("%Y-%m-%d"), "commit": synth.source_commit(),
           "machine": f"{platform.machine()}, {os.cpu_count()} cores",
           "tools": ", ".join(t for t in tools if t), "device": device.title,
           "device_key": device.key,
           "seeds": args.seeds if args.target else [], "seconds": time.monotonic() - start,
           "rows": rows}
    publish(doc, args.out, "mlperf", markdown(doc), args.readme, MARKS)
    bad = [r["task"] for r in rows
           if r["bit_exact"] != r["images"] or r["golden"]["mismatching"]]
    if bad:
        print(f"NOT bit-exact: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run(main)
