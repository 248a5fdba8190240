#!/usr/bin/env python3
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

Examples:
  python scripts/sweep.py --model mnist_cnn
  python scripts/sweep.py --model digits_cnn --budgets 4 8 --n 8
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts._cli import add_model_args, resolve_model, run  # noqa: E402


def configs(net, src, budgets, max_mults: int | None = None):
    """(name, config) pairs from the smallest to the fastest, duplicates dropped; with
    ``max_mults`` the fastest is the fastest within that many multipliers."""
    from hdl.cnn import config as cfg
    from model import presets

    weighted = [layer for layer in net.layers if layer.has_weights]
    out = [("smallest", {layer.name: (1, 1) for layer in weighted})]
    out += [(f"budget-{b}", cfg.auto(net, budget=b)) for b in budgets]
    default = presets.hw_config(src.name)
    if default.is_file():
        out.append(("default", cfg.validate(net, cfg.load(default))))
    fastest = cfg.auto(net, ii=cfg.interval(net, cfg.fastest(net)))
    if max_mults is not None and cfg.multipliers(fastest) > max_mults:
        print(f"the fastest config needs {cfg.multipliers(fastest):,} multipliers; "
              f"sweeping up to --max-mults {max_mults:,} instead", flush=True)
        fastest = cfg.auto(net, budget=max_mults)
    out.append(("fastest", fastest))
    seen, unique = set(), []
    for name, conf in out:
        key = tuple(sorted(conf.items()))
        if key not in seen:
            seen.add(key)
            unique.append((name, conf))
    return sorted(unique, key=lambda nc: (cfg.multipliers(nc[1]), -cfg.interval(net, nc[1])))


def plot(rows, path, model, clock_mhz, macs, floor):
    """Images/s against multipliers (log-log), with the compute bound: every multiplier busy
    every clock, images/s = clock x multipliers / MACs; and the ceiling no config passes
    (``floor`` clocks per image: input, pooling or argmax)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    hz = clock_mhz * 1e6
    x = [r["multipliers"] for r in rows]
    span = [min(x) / 1.5, max(x) * 1.5]
    ax.loglog(span, [hz * m / macs for m in span], "-", color="0.6",
              label=f"compute bound: {clock_mhz:g} MHz x multipliers / {macs:,} MACs")
    ax.axhline(hz / floor, color="0.6", ls=":", label=f"ceiling: {floor:,} clocks per image")
    ax.loglog(x, [hz / r["interval_cycles"] for r in rows], "o-",
              label="measured (Verilator)")
    ax.loglog(x, [hz / r["predicted_interval"] for r in rows], "x--", label="cycle model")
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
    ax.set_ylabel(f"images/s at {clock_mhz:g} MHz")
    ax.set_title(f"{model}: throughput against multipliers (MAC utilization in brackets)",
                 fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    import numpy as np

    from cosim import network_sim as ns
    from hdl.cnn import config as cfg
    from model import golden

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(ap)
    ap.add_argument("--budgets", type=int, nargs="*", default=[16, 32, 180],
                    help="multiplier budgets between the smallest and the fastest "
                         "(default 16 32 180)")
    ap.add_argument("--n", type=int, default=4, help="test images per config (default 4, "
                                                     "at least 3 to measure an interval)")
    ap.add_argument("--clock-mhz", type=float, default=50.0)
    ap.add_argument("--max-mults", type=int, default=1024,
                    help="the largest config to build (default 1024: the fastest mnist_cnn "
                         "config needs over 5,000 multipliers)")
    ap.add_argument("--out", type=Path, help="folder (default build/<model>/sweep)")
    args = ap.parse_args()
    if args.n < 3:
        raise ValueError(f"--n {args.n}: an interval needs at least 3 images")
    src = resolve_model(args)
    net = src.load_net()
    images = np.asarray(src.load_data(args.mnist_dir).test.x[: args.n])
    want = golden.run_network(net, net.quantize_input(src.to_float(images))).logits
    out = args.out or Path("build") / src.name / "sweep"
    todo = configs(net, src, args.budgets, args.max_mults)
    rows = []
    print(f"{src.name}: {len(todo)} configs, {len(images)} images each, Verilator "
          f"({net.macs:,} MACs per image)", flush=True)
    head = (f"  {'config':10s} {'mults':>5s} {'interval':>10s} {'predicted':>10s} "
            f"{'latency':>10s} {'predicted':>10s} {'MAC util':>8s} {'images/s':>9s} exact")
    for i, (name, conf) in enumerate(todo, 1):
        print(f"[{i}/{len(todo)}] {name}: " + cfg.describe(conf), flush=True)
        got = ns.measure(net, conf, images, want, out / name, src.input_max)
        del got["classes"], got["sim_cycles_per_s"]
        rows.append({"name": name, "config": cfg.to_json(conf), **got,
                     "images_per_second": args.clock_mhz * 1e6 / got["interval_cycles"]})
    print(head)
    for r in rows:
        print(f"  {r['name']:10s} {r['multipliers']:5d} {r['interval_cycles']:10,.0f} "
              f"{r['predicted_interval']:10,d} {r['latency_cycles']:10,d} "
              f"{r['predicted_latency']:10,d} {r['mac_utilization']:8.1%} "
              f"{r['images_per_second']:9,.0f} "
              f"{'yes' if r['bit_exact'] == r['images'] else 'NO'}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps({"model": src.name, "images": len(images),
                                                "clock_mhz": args.clock_mhz, "rows": rows},
                                               indent=1))
    plot(rows, out / "sweep.png", src.name, args.clock_mhz, net.macs,
         cfg.interval(net, cfg.fastest(net)))
    print(f"wrote {out / 'sweep.json'} and {out / 'sweep.png'}")
    return 0 if all(r["bit_exact"] == r["images"] for r in rows) else 1


if __name__ == "__main__":
    run(main)
