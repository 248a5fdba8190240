"""Every performance figure in one run: `make bench` -> build/bench.json and build/bench.md.

For each preset and hardware config:
  * accuracy on the test set: the float Keras model, the float32 TFLite model (the converter's
    output without quantization), the int8 model (LiteRT interpreter), and the converted
    Verilog run in Verilator (every logit compared with the golden model);
  * cycles measured in that run (latency, initiation interval) beside the cycle model's,
    MAC utilization, images/s at 50 MHz and at the synthesized fmax where there is one;
  * resources from Yosys for each of the config's targets, and for the ECP5-85F and the
    iCE40 UP5K also nextpnr's place and route at each placer seed of --seeds (1, 2, 3): logic
    cells, fmax and the critical path of the slowest seed, every seed's fmax beside it;
    unless --no-synth. These runs go --jobs at a time beside the Verilator runs;
  * beside them, on this machine in the same run: the LiteRT interpreter on the CPU, one image
    per invoke as the FPGA sees them: the int8 model's images/s on 1 and on all cores, and the
    time per image of the float32 and the int8 .tflite on one core.

It prints figures and never asserts on time. --readme rewrites the bench block of
docs/performance.md (between the bench markers) from the table it just wrote.

Examples:
  cnn2fpga bench                       # everything, about 25 minutes on 2 cores
  cnn2fpga bench --no-synth --rtl-n 500 --readme
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

from hdl.flow.jobs import Runner
from hdl.flow.synth import DEFAULT_ROUTER, ROUTERS
from cnn2fpga.commands._cli import add_verbose, run

# (model, config name, synthesis target): the config name picks
# model/pretrained/<model>.hw.json ("default") or <model>.<name>.hw.json (presets.hw_config)
# (model, config, synthesis targets): each config is simulated once and synthesized for each
# target; ecp5 and ice40 are placed and routed (fmax), xilinx has resource counts only
ROWS = [("mnist_cnn", "default", ("ecp5", "xilinx")), ("digits_cnn", "default", ("ecp5", "xilinx")),
        ("digits_cnn", "up5k", ("ice40",))]
ROW_TARGETS = {(model, name): targets for model, name, targets in ROWS}
MARK_START, MARK_END = "<!-- bench:start -->", "<!-- bench:end -->"


def model_figures(name: str, args) -> dict:
    """Accuracy of the float and int8 models, golden logits, LiteRT CPU speed."""
    import numpy as np

    from model import golden, oracle, source

    src = source.resolve(name)
    net = src.load_net()
    data = src.load_data(args.mnist_dir).test
    images, labels = np.asarray(data.x), np.asarray(data.y)
    x8 = net.quantize_input(src.to_float(images))
    print(f"{name}: float model on {len(images):,} test images ...", flush=True)
    fl = src.float_accuracy(data)
    gold = golden.run_network(net, x8)
    shaped = x8.reshape((len(x8),) + tuple(net.input_shape)).astype(np.int8)
    speeds = {}
    for threads in sorted({1, os.cpu_count() or 1}):
        print(f"{name}: LiteRT int8 interpreter, {threads} thread(s) ...", flush=True)
        per_image, logits = oracle.timed(src.tflite, shaped, threads)
        speeds[threads], preds = 1 / per_image, np.argmax(logits, axis=1)
    print(f"{name}: LiteRT float32 and int8 .tflite, time per image ...", flush=True)
    x_float = src.to_float(images)
    t_float, fout = oracle.timed(src.float_tflite(), x_float)
    t_int8, _ = oracle.timed(src.tflite, shaped)
    return {"src": src, "net": net, "images": images, "labels": labels, "golden": gold,
            "float_accuracy": fl,
            "float_tflite_accuracy": float(np.mean(np.argmax(fout, axis=1) == labels)),
            "litert_ms_per_image": {"float32": t_float * 1e3, "int8": t_int8 * 1e3},
            "int8_accuracy": float(np.mean(preds == labels)),
            "golden_accuracy": float(np.mean(gold.prediction == labels)),
            "litert_images_per_s": {str(k): v for k, v in speeds.items()}}


def rtl_figures(fig: dict, conf: dict, dsp_bits: int, folder: Path, n: int | None) -> dict:
    import numpy as np

    from cosim import network_sim as ns

    count = len(fig["images"]) if n is None else min(n, len(fig["images"]))
    print(f"  Verilator: {count:,} images through the converted Verilog ...", flush=True)
    got = ns.measure(fig["net"], conf, fig["images"][:count], fig["golden"].logits[:count],
                     folder, fig["src"].input_max, requant_dsp_bits=dsp_bits, total=count,
                     input_offset=fig["src"].input_offset)
    got["accuracy"] = float(np.mean(got.pop("classes") == fig["labels"][:count]))
    return got


def synth_job(job: dict) -> dict:
    """One config through Yosys (and nextpnr at one placer seed), in its own folder (a worker's
    job: Yosys writes its script and netlist beside the Verilog, so each seed has its copy)."""
    from hdl.flow import build, synth

    work = Path(job["folder"])
    top = build.build(job["net"], job["config"], work, job["input_max"], job["dsp_bits"],
                      job["input_offset"])
    flow = synth.run_flow(top, job["target"], work, freq_mhz=job["freq_mhz"],
                          seed=job["seed"], router=job["router"], progress=False)
    out = {"target": job["target"], "device": flow["device"], "yosys": flow["yosys"],
           "fit": flow["fit"], "commit": flow["commit"], "seed": job["seed"],
           "over": flow["over"]}
    if flow["pnr"]:
        out.update(fmax_mhz=flow["pnr"]["fmax_mhz"], logic_cells=list(flow["pnr"]["lc"]),
                   nextpnr=flow["pnr"]["nextpnr"], placed_seed=flow["pnr"]["seed"],
                   critical_path=flow["pnr"]["critical_path"])
    return out


def synth_figures(runs: list[dict]) -> dict:
    """One target's figures over its seeds: the slowest seed's resources, critical path and
    fmax (``fmax_mhz``: what holds at every seed run), and every seed's fmax beside it, named
    by the seed that placed (nextpnr tries the next one when a seed cannot place or route)."""
    runs = sorted(runs, key=lambda r: r["seed"])
    routed = [r for r in runs if r.get("fmax_mhz")]
    if not routed:
        return runs[0]
    slowest = min(routed, key=lambda r: r["fmax_mhz"])
    return {**slowest, "seeds": {str(r.get("placed_seed") or r["seed"]): r.get("fmax_mhz")
                                 for r in runs}}


def fmt_fmax(s: dict) -> str:
    """``95.40 MHz`` for one seed; ``95.40 MHz (seeds 1, 2, 3: 95.40 / 98.70 / 97.10)`` for
    more."""
    seeds = s.get("seeds") or {}
    if len(seeds) < 2:
        return f"{s['fmax_mhz']:.2f} MHz"
    each = " / ".join(f"{v:.2f}" if v else "-" for v in seeds.values())
    return f"{s['fmax_mhz']:.2f} MHz (seeds {', '.join(seeds)}: {each})"


def fmt_resources(s: dict | None) -> str:
    if not s:
        return "not synthesized"
    fit = {name: (row["used"], row["capacity"]) for name, row in s["fit"].items()}
    if "MULT18X18D" in fit:
        cells = s.get("logic_cells")
        parts = ([f"{cells[0]:,} / {cells[1]:,} LUT4 slots (nextpnr)"] if cells else []) + [
            f"{fit['LUT4'][0]:,} LUT4 (Yosys)", f"{fit['FF'][0]:,} FF",
            f"{fit['MULT18X18D'][0]} / {fit['MULT18X18D'][1]} MULT18X18D",
            f"{fit['DP16KD'][0]} / {fit['DP16KD'][1]} DP16KD"]
    elif "LUT4" in fit:
        cells = s.get("logic_cells")
        parts = [f"{cells[0]:,} / {cells[1]:,} LC" if cells else f"{fit['LUT4'][0]:,} LUT4",
                 f"{fit['DSP'][0]} / {fit['DSP'][1]} DSP", f"{fit['EBR'][0]} / {fit['EBR'][1]} EBR"]
    else:
        parts = [f"{fit['LUT'][0]:,} / {fit['LUT'][1]:,} LUT", f"{fit['FF'][0]:,} FF",
                 f"{fit['DSP'][0]} / {fit['DSP'][1]} DSP",
                 f"{fit['RAMB36'][0]} / {fit['RAMB36'][1]} RAMB36"]
    return ", ".join(parts)


def markdown(doc: dict) -> str:
    """The performance tables of docs/performance.md, from bench.json."""
    at = f" at commit {doc['commit']}" if doc.get("commit") else ""
    lines = [f"Measured by `make bench`{at} on {doc['machine']} ({doc['date']}; "
             f"{doc['tools']}). The float, float32 TFLite and int8 accuracies are the README's "
             f"(`make check`); bench.json has this run's.", "",
             "| model | config | multipliers | RTL accuracy (Verilator) "
             "| bit-exact | latency (cycles) | interval (cycles) | MAC util. "
             "| images/s @ 50 MHz | images/s @ the fmax below |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        t = r["rtl"]
        routed = [s for s in (r.get("synth") or {}).values() if s.get("fmax_mhz")]
        fmax = routed[0]["fmax_mhz"] if routed else None
        at_fmax = (f"{fmax * 1e6 / t['interval_cycles']:,.0f} ({routed[0]['target']})"
                   if fmax else "-")
        lines.append(
            f"| {r['model']} | {r['config']} | {t['multipliers']} "
            f"| {t['accuracy']:.2%} ({t['images']:,}) "
            f"| {t['bit_exact']:,} / {t['images']:,} "
            f"| {t['latency_cycles']:,} (model {t['predicted_latency']:,}) "
            f"| {t['interval_cycles']:,.0f} (model {t['predicted_interval']:,}) "
            f"| {t['mac_utilization']:.1%} | {50e6 / t['interval_cycles']:,.0f} "
            f"| {at_fmax} |")
    lines += ["", "| model | config | device | resources (Yosys; nextpnr for iCE40 and ECP5) "
                  "| fmax after routing (the slowest placer seed; each seed's) |",
              "|---|---|---|---|---|"]
    for r in doc["rows"]:
        for s in (r.get("synth") or {}).values():
            fmax = fmt_fmax(s) if s.get("fmax_mhz") else "(no open place and route)"
            lines.append(f"| {r['model']} | {r['config']} | {s['device']} "
                         f"| {fmt_resources(s)} | {fmax} |")
    paths = [(r, s) for r in doc["rows"] for s in (r.get("synth") or {}).values()
             if s.get("critical_path")]
    for r, s in paths:
        steps = s["critical_path"]
        source = next((line for line in steps if "Source" in line), steps[0])
        placed = s.get("placed_seed") or s["seed"]
        seed = f" (seed {placed}, the slowest)" if len(s.get("seeds") or {}) > 1 else ""
        lines += ["", f"Critical path of {r['model']} {r['config']} on the {s['device']}"
                      f"{seed}: `{source}` ... `{steps[-1]}`"]
    lines += ["", "| model | LiteRT int8 on this CPU (images/s, 1 image per invoke) "
                  "| LiteRT ms per image, 1 thread: float32 / int8 |", "|---|---|---|"]
    for name, m in doc["models"].items():
        cpu = ", ".join(f"{float(v):,.0f} ({k} thread{'s' if k != '1' else ''})"
                        for k, v in m["litert_images_per_s"].items())
        ms = m["litert_ms_per_image"]
        lines.append(f"| {name} | {cpu} | {ms['float32']:.3f} / {ms['int8']:.3f} |")
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, table: str, marks=(MARK_START, MARK_END)) -> None:
    """Replace the text between ``marks`` in ``readme`` with ``table``."""
    start, end = marks
    text = readme.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{readme}: no {start} ... {end} block to replace")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{table}{end}{tail}")


def publish(doc: dict, out: Path, stem: str, table: str, readme: Path | None,
            marks=(MARK_START, MARK_END)) -> None:
    """Write out/<stem>.json and out/<stem>.md, print the table, and with ``readme`` rewrite
    its block between ``marks`` (the commands that write a docs table: bench, mlperf)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    (out / f"{stem}.md").write_text(table)
    print()
    print(table)
    print(f"wrote {out / (stem + '.json')} and {out / (stem + '.md')} "
          f"({doc['seconds'] / 60:.1f} min)")
    if readme:
        update_readme(readme, table, marks)
        print(f"updated the {stem} block of {readme}")


def main() -> int:
    import platform

    from hdl.cnn import config as cfg
    from hdl.flow import synth
    from model import presets

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rtl-n", type=int, help="test images per config through Verilator "
                                              "(default: the whole test set)")
    ap.add_argument("--no-synth", action="store_true", help="skip Yosys and nextpnr")
    ap.add_argument("--model", action="append", choices=sorted({r[0] for r in ROWS}),
                    help="only this preset's rows (repeatable; default all)")
    ap.add_argument("--targets", nargs="+", choices=("ecp5", "ice40", "xilinx"),
                    help="only these synthesis targets (default: each row's)")
    ap.add_argument("--router", choices=ROUTERS, default=DEFAULT_ROUTER,
                    help="nextpnr's router (default router2: it routes mnist_cnn's ECP5 build "
                         "in minutes, where router1 took over 30)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], metavar="SEED",
                    help="nextpnr's placer seeds: each placed design is placed at every one "
                         "and the table gives the slowest seed's fmax, every seed's beside it "
                         "(default 1 2 3: one seed's fmax is a draw)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="synthesis and place-and-route runs at once (default: one per core)")
    ap.add_argument("--mnist-dir", help="MNIST IDX folder (default $MNIST_DIR or download)")
    ap.add_argument("--out", type=Path, default=Path("build"), help="folder for bench.json, "
                                                                    "bench.md (default build)")
    ap.add_argument("--readme", type=Path, nargs="?", const=Path("docs/performance.md"),
                    help="rewrite the bench block of this page (default docs/performance.md)")
    add_verbose(ap)
    args = ap.parse_args()
    if args.verbose:
        os.environ["CNN2FPGA_VERBOSE"] = "1"
    if args.rtl_n is not None and args.rtl_n < 3:
        raise ValueError(f"--rtl-n {args.rtl_n}: an interval needs at least 3 images")
    if args.jobs < 1:
        raise ValueError(f"--jobs {args.jobs}: at least 1")
    if len(set(args.seeds)) != len(args.seeds) or min(args.seeds) < 0:
        raise ValueError(f"--seeds {' '.join(map(str, args.seeds))}: distinct seeds, 0 or more")
    if args.readme and args.model and set(args.model) != {r[0] for r in ROWS}:
        raise ValueError("--readme with --model: the README's table would lose the other "
                         "presets' rows; run all of them")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Keras for the float accuracy
    start = time.monotonic()
    models, rows, pending = {}, [], {}
    with Runner(workers=args.jobs) as runner:
        for model, name, targets in ROWS:
            if args.model and model not in args.model:
                continue
            targets = [t for t in targets if not args.targets or t in args.targets]
            if model not in models:
                models[model] = model_figures(model, args)
            fig = models[model]
            conf = cfg.validate(fig["net"], cfg.load(
                presets.hw_config(model, None if name == "default" else name)))
            dsp_bits = 16 if "ice40" in targets else 0
            folder = args.out / "bench" / f"{model}_{name}"
            print(f"{model} {name}: " + cfg.describe(conf),
                  flush=True)
            row = {"model": model, "config": name, "layers": cfg.to_json(conf),
                   "requant_dsp_bits": dsp_bits, "synth": {}}
            # the synthesis runs go to the workers first, so they run beside Verilator
            for target in [] if args.no_synth else targets:
                for seed in args.seeds if target in synth.PNR else args.seeds[:1]:
                    job = {"net": fig["net"], "config": conf, "dsp_bits": dsp_bits,
                           "input_max": fig["src"].input_max,
                           "input_offset": fig["src"].input_offset, "target": target,
                           "freq_mhz": synth.FREQ_MHZ[target], "router": args.router,
                           "seed": seed, "folder": folder / f"synth_{target}" / f"s{seed}"}
                    pending[runner.submit(synth_job, job)] = (row, target, seed)
            row["rtl"] = rtl_figures(fig, conf, dsp_bits, folder, args.rtl_n)
            rows.append(row)
        runs = {}
        while pending:
            print(f"  Yosys and nextpnr: {len(pending)} run(s) left ({runner.describe()}) ...",
                  flush=True)
            done, _ = runner.wait_any(set(pending))
            for future in done:
                row, target, seed = pending.pop(future)
                got = future.result()
                fmax = (f"{got['fmax_mhz']:.2f} MHz" if got.get("fmax_mhz") else
                        "resources (no open place and route)" if target not in synth.PNR else
                        "not placed: " + ", ".join(got.get("over") or ["no fmax"]))
                print(f"  {row['model']} {row['config']} {target}"
                      f"{f' seed {seed}' if target in synth.PNR else ''}: {fmax}", flush=True)
                runs.setdefault((id(row), target), []).append(got)
        for row in rows:
            for target in ROW_TARGETS.get((row["model"], row["config"]), ()):
                if (id(row), target) in runs:
                    row["synth"][target] = synth_figures(runs[(id(row), target)])
    tools = [] if args.no_synth else [synth.version()] + [
        synth.nextpnr_version(t) for t in ("ecp5", "ice40")] + [
        f"--router {args.router}", f"--seeds {' '.join(map(str, args.seeds))}"]
    doc = {"date": time.strftime("%Y-%m-%d"), "commit": synth.source_commit(),
           "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                      f"{platform.python_version()}",
           "tools": ", ".join(t for t in tools if t) or "synthesis skipped",
           "seconds": time.monotonic() - start,
           "models": {k: {key: v[key] for key in ("float_accuracy", "float_tflite_accuracy",
                                                  "int8_accuracy", "golden_accuracy",
                                                  "litert_images_per_s", "litert_ms_per_image")}
                      for k, v in models.items()},
           "rows": rows}
    publish(doc, args.out, "bench", markdown(doc), args.readme)
    bad = [f"{r['model']} {r['config']}" for r in rows
           if r["rtl"]["bit_exact"] != r["rtl"]["images"]]
    if bad:
        print(f"NOT bit-exact: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run(main)
