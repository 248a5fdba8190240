"""Sweep parallelism configs of a model from the smallest to the fastest, measured in RTL.

For each config: build the Verilog (build/<model>/sweep/<name>/verilog), run --n test images
through it in Verilator, check every logit against golden, and measure the latency (first
pixel to class, empty pipe) and the initiation interval (back to back). Prints one row per
config with the cycle model's predictions beside the measurements, MAC utilization
(MACs / (multipliers x interval)) and images/s at --clock-mhz; writes sweep.json and
sweep.png (images/s against multipliers, with the compute bound) into build/<model>/sweep/.

The configs: every layer at 1 x 1 (the smallest), --budgets (the fastest config within that
many multipliers, hdl.cnn.config.auto), the model's default config, and the cheapest config that
reaches the fastest interval any config can (input, pooling or argmax bound), or the fastest
within --max-mults when that one is larger.

With --target ecp5 (or ice40) each config's accelerator also goes through Yosys and nextpnr
at every placer seed of --seeds (aiming at --freq-mhz): the table adds the routed fmax (the
minimum over the seeds, median and maximum beside it) and the images/s at that fmax, the plot
adds those points, and a config beyond the device says which resource. The jobs (one
Verilator run per config, one place and route per config and seed) run --jobs at a time
(default: one per core), each in its own folder, or on a Dask cluster with --scheduler.

Examples:
  cnn2fpga sweep --model mnist_cnn
  cnn2fpga sweep --model digits_cnn --budgets 4 8 --n 8
  cnn2fpga sweep --model digits_cnn --target ecp5     # + fmax, images/s at fmax
  cnn2fpga sweep --model mnist_cnn --target ecp5 --seeds 1 2 3 --scheduler tcp://pnr:8786
  cnn2fpga sweep --model digits_cnn --target ecp5 --seeds 1 2 3 --budgets --readme
                                   # smallest, default, fastest: docs/hardware.md's table
"""
import argparse
import json
import os
import time
from pathlib import Path

from cnn2fpga.commands._cli import add_model_args, resolve_model, run


def plot(rows, path, model, clock_mhz, macs, floor):
    """Images/s against multipliers (log-log), with the compute bound: every multiplier busy
    every clock, images/s = clock x multipliers / MACs; and the ceiling no config passes
    (``floor`` clocks per image: input, pooling or argmax). Rows with a routed ``fmax_mhz``
    add their images/s at that fmax."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    hz = clock_mhz * 1e6
    x = [r["multipliers"] for r in rows]
    span = [min(x) / 1.5, max(x) * 1.5]
    ax.loglog(span, [hz * m / macs for m in span], "-", color="0.6",
              label=f"compute bound: {clock_mhz:g} MHz x multipliers / {macs:,} MACs")
    ax.axhline(hz / floor, color="0.6", ls=":", label=f"ceiling at {clock_mhz:g} MHz: "
                                                         f"{floor:,} clocks per image")
    ax.loglog(x, [hz / r["interval_cycles"] for r in rows], "o-",
              label=f"measured (Verilator) at {clock_mhz:g} MHz")
    ax.loglog(x, [hz / r["predicted_interval"] for r in rows], "x--", label="cycle model")
    routed = [r for r in rows if r.get("fmax_mhz")]
    if routed:
        ax.loglog([r["multipliers"] for r in routed],
                  [r["images_per_second_at_fmax"] for r in routed], "s-",
                  label=f"at each config's fmax ({routed[0]['device']})")
    for i, r in enumerate(rows):  # labels alternate below and above the points
        ax.annotate(f"{r['name']} ({r['mac_utilization']:.0%})",
                    (r["multipliers"], hz / r["interval_cycles"]), fontsize=8,
                    xytext=(4, -12 if i % 2 == 0 else 6), textcoords="offset points")
    from matplotlib.ticker import FuncFormatter
    plain = FuncFormatter(lambda v, _: f"{v:,.0f}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.yaxis.set_major_formatter(plain)
    ax.set_xlabel("int8 multipliers")
    ax.set_ylabel("images/s")
    ax.set_title(f"{model}: throughput against multipliers (MAC utilization in brackets)",
                 fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    # below the axes: the points and lines fill the plot from corner to corner
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def marks(model: str, target: str | None) -> tuple[str, str]:
    """The markers of a sweep's block in a docs page: one block per model and target."""
    key = f"sweep:{model}:{target or 'verilator'}"
    return f"<!-- {key}:start -->", f"<!-- {key}:end -->"


def markdown(doc: dict) -> str:
    """A sweep's table for a docs page, from sweep.json's contents: every config's cycles and,
    placed, its fmax at each seed (the slowest the figure), and the fastest over the smallest."""
    seeds = doc.get("seeds") or []
    placed = bool(doc.get("target"))
    where = (f", each config placed and routed on the {doc['rows'][0].get('device')} at "
             f"placer seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))} "
             f"(nextpnr aiming at {doc['aim_mhz']:g} MHz, {doc['router']})" if placed else "")
    lines = [f"Measured by `{doc['command']}` at commit {doc['commit']} ({doc['date']}): "
             f"{doc['images']} images a config in Verilator, every logit against golden"
             f"{where}.", "",
             "| config | multipliers | interval / latency (clocks; cycle model equal) "
             "| bit-exact |" + (" fmax (slowest seed; each seed's) | images/s at that fmax |"
                                if placed else f" images/s at {doc['clock_mhz']:g} MHz |"),
             "|---|---|---|---|" + ("---|---|" if placed else "---|")]
    for r in doc["rows"]:
        same = (r["interval_cycles"] == r["predicted_interval"]
                and r["latency_cycles"] == r["predicted_latency"])
        cycles = (f"{r['interval_cycles']:,.0f} / {r['latency_cycles']:,}"
                  + ("" if same else f" (model {r['predicted_interval']:,} / "
                                     f"{r['predicted_latency']:,})"))
        cells = [f"{r['name']}: {r['describe']}", f"{r['multipliers']}", cycles,
                 f"{r['bit_exact']} / {r['images']}"]
        if not placed:
            cells.append(f"{r['images_per_second']:,.0f}")
        elif r.get("fmax_mhz") is None:
            cells += ["over: " + ", ".join(r["over"]) if r.get("over") else "not placed", "-"]
        else:
            each = " / ".join(f"{p['fmax_mhz']:.2f}" if p["fmax_mhz"] else "-"
                              for p in r["placements"])
            cells += [f"{r['fmax_mhz']:.2f} MHz" + (f" ({each})" if len(seeds) > 1 else ""),
                      f"{r['images_per_second_at_fmax']:,.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if doc.get("ratio") is not None:
        fastest = [r["name"] for r in doc["rows"] if r["name"] != "smallest"][-1]
        lines += ["", f"The fastest config's ({fastest}) fmax over the "
                      f"smallest's (the slowest seed of each): **{doc['ratio']:.2f}**."]
    return "\n".join(lines) + "\n"


def fmax_text(r: dict) -> str:
    if "fmax_mhz" not in r:
        return ""
    if r["fmax_mhz"] is None:
        return "  over: " + ", ".join(r["over"]) if r["over"] else "  not placed"
    spread = (f"  ({r['fmax_median']:.1f} / {r['fmax_max']:.1f})" if len(r["seeds"]) > 1
              else "")
    return f" {r['fmax_mhz']:8.1f} {r['images_per_second_at_fmax']:11,.0f}{spread}"


def main() -> int:
    import numpy as np

    from hdl.cnn import config as cfg
    from hdl.flow import sweep, synth
    from hdl.flow.jobs import Runner
    from model import golden

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(ap)
    ap.add_argument("--budgets", type=int, nargs="*", default=[16, 32, 180],
                    help="multiplier budgets between the smallest and the fastest "
                         "(default 16 32 180)")
    ap.add_argument("--n", type=int, default=4, help="test images per config (default 4, "
                                                     "at least 3 to measure an interval)")
    ap.add_argument("--clock-mhz", type=float, default=50.0,
                    help="the clock the images/s column assumes (default 50, the seed's)")
    ap.add_argument("--max-mults", type=int,
                    help="the largest config to build (default 1024: the fastest mnist_cnn "
                         "config needs over 5,000 multipliers; with --target, the device's "
                         "multipliers: 156 on the ECP5-85F)")
    ap.add_argument("--target", choices=sorted(synth.PNR),
                    help="also place and route each config's accelerator: ecp5 (LFE5U-85F) or "
                         "ice40 (UP5K); adds fmax and images/s at fmax")
    ap.add_argument("--freq-mhz", type=float,
                    help="the clock nextpnr aims for (default: the target's, as make synth and "
                         "make bench aim: 100 MHz for ecp5, 24 for ice40)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1], metavar="SEED",
                    help="nextpnr's placer seeds: each config is placed at every one and the "
                         "table gives the minimum fmax (median / maximum beside it); one "
                         "seed's fmax is a draw, so quote 1 2 3 (default 1)")
    ap.add_argument("--router", choices=synth.ROUTERS, default=synth.DEFAULT_ROUTER,
                    help="nextpnr's router: router2 (the default: it routed the mnist_cnn "
                         "default in 3 minutes, router1 in over 30) or router1")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="local jobs run at once (default: one per core)")
    ap.add_argument("--scheduler", metavar="ADDRESS",
                    help="run the jobs on a Dask cluster (dask.distributed) instead: the "
                         "scheduler's address, tcp://HOST:8786; every worker needs the project "
                         "installed (docs/performance.md, 'On a cluster')")
    ap.add_argument("--out", type=Path, help="folder (default build/<model>/sweep, "
                                             "build/<model>/sweep-<target> with --target)")
    ap.add_argument("--readme", type=Path, nargs="?", const=Path("docs/hardware.md"),
                    help="rewrite this page's block for the model and target (default "
                         "docs/hardware.md; the block between <!-- sweep:MODEL:TARGET:start "
                         "--> and its end marker must be there)")
    args = ap.parse_args()
    if args.n < 3:
        raise ValueError(f"--n {args.n}: an interval needs at least 3 images")
    if args.jobs < 1:
        raise ValueError(f"--jobs {args.jobs}: at least 1")
    if len(set(args.seeds)) != len(args.seeds):
        raise ValueError(f"--seeds {' '.join(map(str, args.seeds))}: a seed is repeated")
    if args.max_mults is None:
        args.max_mults = synth.DEVICES[args.target][1][sweep.MULTS[args.target]] if args.target else 1024
    budgets = [b for b in args.budgets if b < args.max_mults]
    if args.freq_mhz is None:
        args.freq_mhz = synth.FREQ_MHZ[args.target] if args.target else 100.0
    src = resolve_model(args)
    if args.readme:  # refused now, not after an hour of place and route
        start, end = marks(src.name, args.target)
        text = args.readme.read_text() if args.readme.is_file() else ""
        if start not in text or end not in text:
            raise ValueError(f"--readme {args.readme}: no {start} ... {end} block to rewrite; "
                             f"add the two markers where the table should go")
    net = src.load_net()
    images = np.asarray(src.load_data(args.mnist_dir).test.x[: args.n])
    want = golden.run_network(net, net.quantize_input(src.to_float(images))).logits
    out = args.out or Path("build") / src.name / (f"sweep-{args.target}" if args.target
                                                  else "sweep")
    todo = sweep.configs(net, src, budgets, args.max_mults)
    seeds = args.seeds if args.target else []
    then = (f", then Yosys and {synth.PNR[args.target][0]} (aiming at {args.freq_mhz:g} MHz, "
            f"seed{'s' if len(seeds) > 1 else ''} {' '.join(map(str, seeds))})"
            if args.target else "")
    with Runner(args.scheduler, args.jobs) as runner:
        print(f"{src.name}: {len(todo)} configs, {len(images)} images each, Verilator{then}; "
              f"on {runner.describe()} ({net.macs:,} MACs per image)", flush=True)
        rows = sweep.run(net, todo, folder=out.resolve(), images=images, want=want,
                         input_max=src.input_max, input_offset=src.input_offset,
                         clock_mhz=args.clock_mhz, target=args.target,
                         freq_mhz=args.freq_mhz, seeds=seeds, router=args.router,
                         runner=runner, report=lambda text: print(text, flush=True))
    head = (f"  {'config':10s} {'mults':>5s} {'interval':>10s} {'predicted':>10s} "
            f"{'latency':>10s} {'predicted':>10s} {'MAC util':>8s} {'images/s':>9s} exact"
            + (f" {'fmax MHz':>8s} {'at fmax/s':>11s}" if args.target else "")
            + ("  (median / max MHz)" if len(seeds) > 1 else ""))
    print(head)
    for r in rows:
        print(f"  {r['name']:10s} {r['multipliers']:5d} {r['interval_cycles']:10,.0f} "
              f"{r['predicted_interval']:10,} {r['latency_cycles']:10,d} "
              f"{r['predicted_latency']:10,d} {r['mac_utilization']:8.1%} "
              f"{r['images_per_second']:9,.0f} "
              f"{'yes' if r['bit_exact'] == r['images'] else 'NO ':5s}" + fmax_text(r))
    out.mkdir(parents=True, exist_ok=True)
    for r in rows:
        r["describe"] = cfg.describe(dict(todo)[r["name"]])
    ratio = sweep.fmax_ratio(rows)
    command = " ".join(["cnn2fpga sweep --model", src.name, "--budgets",
                        *map(str, budgets), "--n", str(len(images))]
                       + (["--target", args.target, "--seeds", *map(str, seeds)]
                          if args.target else []))
    doc = {"model": src.name, "images": len(images), "clock_mhz": args.clock_mhz,
           "target": args.target, "commit": synth.source_commit(),
           "date": time.strftime("%Y-%m-%d"), "command": command, "seeds": seeds,
           "router": args.router, "aim_mhz": args.freq_mhz if args.target else None,
           "ratio": ratio, "rows": rows}
    (out / "sweep.json").write_text(json.dumps(doc, indent=1))
    plot(rows, out / "sweep.png", src.name, args.clock_mhz, net.macs,
         cfg.interval(net, cfg.fastest(net)))
    if ratio is not None:
        print(f"fastest / smallest fmax (the minimum over seeds of each): {ratio:.2f}")
    print(f"wrote {out / 'sweep.json'} and {out / 'sweep.png'}")
    if args.readme:
        from cnn2fpga.commands.bench import update_readme

        update_readme(args.readme, markdown(doc), marks(src.name, args.target))
        print(f"updated the {src.name} {args.target or 'verilator'} sweep block of "
              f"{args.readme}")
    return 0 if all(r["bit_exact"] == r["images"] for r in rows) else 1


if __name__ == "__main__":
    run(main)
