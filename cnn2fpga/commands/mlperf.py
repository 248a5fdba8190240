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

--out's mlperf.json is the table so far: a run of some tasks (--task) replaces their rows and
keeps the other tasks' (same --device), each row with the commit it was measured at. So the
placed figures can come one task at a time, and --readme with --task works once the folder
holds all four.

Examples:
  cnn2fpga mlperf                            # Verilator only, a few minutes
  cnn2fpga mlperf --task kws --target ecp5 --seeds 1 2 3
  cnn2fpga mlperf --target ecp5 --readme     # every figure of the docs' table
  cnn2fpga mlperf --task vww --target ecp5 --readme   # one row placed, the others kept
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


def earlier_rows(out: Path, device_key: str, tasks) -> list:
    """The rows of ``out``/mlperf.json (an earlier run into the same folder, fitted to the same
    device) of the tasks other than ``tasks``: a run of some tasks keeps the others' rows, each
    with the commit, date and tools it was measured with (``measured``)."""
    from model import mlperf

    path = out / "mlperf.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(doc, dict) or doc.get("device_key") != device_key:
        return []
    kept = []
    for row in doc.get("rows", []):
        if not isinstance(row, dict) or row.get("task") not in mlperf.TASKS \
                or row["task"] in tasks:
            continue
        row.setdefault("measured", {k: doc.get(k) for k in ("commit", "date", "tools")})
        kept.append(row)
    return kept


def markdown(doc: dict) -> str:
    """The table of docs/performance.md's MLPerf Tiny section, from mlperf.json."""
    from model import mlperf

    placed = any(r.get("fmax_mhz") for r in doc["rows"])

    def when(r):
        return r.get("measured") or {k: doc.get(k) for k in ("commit", "date", "tools")}

    def seeds(r):
        return r.get("seeds", []) if r.get("fmax_mhz") else []

    one = len({tuple(sorted(when(r).items())) for r in doc["rows"]}) == 1 and \
        len({tuple(seeds(r)) for r in doc["rows"]}) == 1
    fitted = (f"each model fitted to the {doc['device']} (`--device {doc['device_key']}`). "
              f"Block RAMs: Yosys' count where placed, else the estimate (est.).")
    if one:
        first = when(doc["rows"][0])
        at = seeds(doc["rows"][0])
        head = (f"Measured by `make mlperf{' TARGET=ecp5' if placed else ''}` at commit "
                f"{first['commit']} ({first['date']}; {first['tools']}), {fitted}")
        fmax_head = (f", seeds {' '.join(map(str, at))} (min; median / max)" if len(at) > 1
                     else f", seed {at[0]}" if at else "")
    else:
        tools = sorted({when(r)["tools"] for r in doc["rows"]})
        head = (f"Measured by `make mlperf` (placed rows: `make mlperf TARGET=ecp5 "
                f"TASK=<task>`, one task at a time), each row at the commit in its last "
                f"column ({'; '.join(tools)}), {fitted}")
        fmax_head = " (placer seeds)"
    lines = [head, "",
             "| task | model | MACs | multipliers | DP16KD | bit-exact (Verilator) "
             "| latency / interval (clocks) | fmax" + fmax_head
             + " | latency / interval at fmax | fastest published FPGA |"
             + ("" if one else " commit |"),
             "|---|---|---|---|---|---|---|---|---|---|" + ("" if one else "---|")]
    for r in doc["rows"]:
        task = mlperf.TASKS[r["task"]]
        bram = (r.get("resources") or {}).get("DP16KD")
        bram = f"{bram}" if bram is not None else f"{r['block_rams_estimate']} (est.)"
        fmax = r.get("fmax_mhz")
        spread = (f" ({r['fmax_median']:.1f} / {r['fmax_max']:.1f})"
                  if fmax and len(seeds(r)) > 1 else "")
        if fmax and not one:
            spread = (f", seeds {' '.join(map(str, seeds(r)))} (min; median / max)" + spread
                      if len(seeds(r)) > 1 else f", seed {seeds(r)[0]}")
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
            f"| {task.anchor.latency_ms:g} ms ({task.anchor.system}, {task.anchor.device}) |"
            + ("" if one else f" {when(r)['commit']} ({when(r)['date']}) |"))
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
    kept = earlier_rows(args.out, device.key, tasks)
    missing = [t for t in mlperf.TASKS if t not in tasks and t not in {r["task"] for r in kept}]
    if args.readme and missing:
        raise ValueError(f"--readme with --task: the page's table would lose the rows of "
                         f"{', '.join(missing)}, which {args.out / 'mlperf.json'} does not hold "
                         f"for --device {device.key}; run all four once into that --out "
                         f"(without --task), then one task at a time")
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
    measured = {"commit": synth.source_commit(), "date": time.strftime("%Y-%m-%d"),
                "tools": ", ".join(t for t in tools if t)}
    for row in rows:
        row["measured"] = measured
    order = list(mlperf.TASKS)
    rows = sorted(rows + kept, key=lambda r: order.index(r["task"]))
    if kept:
        print(f"kept from {args.out / 'mlperf.json'}: "
              + ", ".join(f"{r['task']} (commit {r['measured']['commit']})" for r in kept))
    doc = {**measured, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
           "device": device.title, "device_key": device.key,
           "seeds": args.seeds if args.target else [], "seconds": time.monotonic() - start,
           "rows": rows}
    publish(doc, args.out, "mlperf", markdown(doc), args.readme, MARKS)
    bad = [r["task"] for r in rows
           if r["task"] in tasks and r["bit_exact"] != r["images"] or r["golden"]["mismatching"]]
    if bad:
        print(f"NOT bit-exact: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run(main)
