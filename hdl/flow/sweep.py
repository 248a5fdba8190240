"""A sweep's jobs: each config measured in Verilator once, then placed and routed at every seed.

``run`` takes the configs (``configs``), submits one Verilator job per config to a
``jobs.Runner`` and, as each finishes, one place-and-route job per placer seed (with a target),
so a cluster keeps every worker busy. It returns one row per config, in the order given:

- the Verilator figures (``cosim.network_sim.measure``: bit-exact images, interval and latency
  beside the cycle model's, MAC utilization) and images/s at ``clock_mhz``;
- with a target: ``placements``, one per seed (seed, fmax, critical path, the commit, router
  and aim; ``placed_seed`` the seed nextpnr placed with, the next when one could not place), and over them ``fmax_mhz`` (the minimum: a figure that holds at every seed run),
  ``fmax_median``, ``fmax_max``, the resources and critical path of the slowest seed, and
  images/s at the minimum fmax. A config beyond the device has ``fmax_mhz`` None and ``over``.

The rows depend on the configs, images and seeds alone, not on where the jobs ran (the tests
compare a ``LocalCluster`` run with the local one).
"""
from __future__ import annotations

import statistics
from pathlib import Path

from .jobs import Runner

# the device resource a MAC multiplier takes, per target
MULTS = {"ecp5": "MULT18X18D", "ice40": "DSP"}


def configs(net, src, budgets, max_mults: int | None = None):
    """(name, config) pairs from the smallest to the fastest, duplicates dropped; with
    ``max_mults`` the fastest is the fastest within that many multipliers."""
    from hdl.cnn import config as cfg
    from model import presets

    out = [("smallest", cfg.smallest(net))]
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


def simulate(job: dict) -> dict:
    """One config in Verilator: cycles and bit-exactness (a worker's job)."""
    from cosim import network_sim as ns

    got = ns.measure(job["net"], job["config"], job["images"], job["want"], job["folder"],
                     job["input_max"], input_offset=job["input_offset"])
    del got["classes"], got["sim_cycles_per_s"]
    return {**got, "images_per_second": job["clock_mhz"] * 1e6 / got["interval_cycles"]}


def place(job: dict) -> dict:
    """One config through Yosys and nextpnr at one placer seed (a worker's job), all in
    folder/<target>-s<seed> (Yosys writes its script and netlist beside the Verilog, so each
    seed has its own copy). The Verilog is the Verilator job's when this worker sees its
    folder (a shared filesystem), else built here: conversion is reproducible, so either is
    the same file."""
    import shutil

    from hdl.flow import build, synth

    net, folder, target, seed = job["net"], Path(job["folder"]), job["target"], job["seed"]
    here = folder / f"{target}-s{seed}"
    name = f"{build.top_name(net)}.v"
    if (folder / "verilog" / name).is_file():
        shutil.copytree(folder / "verilog", here / "verilog", dirs_exist_ok=True)
        top = here / "verilog" / name
    else:
        top = build.build(net, job["config"], here / "verilog", job["input_max"], 0,
                          job["input_offset"])
    here.mkdir(parents=True, exist_ok=True)
    flow = synth.run_flow(top, target, here, freq_mhz=job["freq_mhz"], seed=seed,
                          router=job["router"], progress=False)  # jobs run side by side
    pnr = flow["pnr"]
    return {"seed": seed, "placed_seed": pnr["seed"] if pnr else seed,
            "device": flow["device"], "resources": flow["resources"],
            "over": flow["over"], "commit": flow["commit"], "router": job["router"],
            "aim_mhz": job["freq_mhz"], "fmax_mhz": pnr["fmax_mhz"] if pnr else None,
            "critical_path": pnr["critical_path"] if pnr else []}


def summarize(row: dict, placements: list[dict]) -> dict:
    """The row with its placements and the figures over them (see the module's doc)."""
    placements = sorted(placements, key=lambda p: p["seed"])
    routed = [p for p in placements if p["fmax_mhz"] is not None]
    slowest = min(routed, key=lambda p: p["fmax_mhz"]) if routed else placements[0]
    out = {**row, "placements": placements, "device": slowest["device"],
           "resources": slowest["resources"], "over": slowest["over"],
           "commit": slowest["commit"], "router": slowest["router"],
           "aim_mhz": slowest["aim_mhz"], "seed": slowest["seed"],
           "seeds": [p["seed"] for p in placements],
           "critical_path": slowest["critical_path"], "fmax_mhz": None, "fmax_median": None,
           "fmax_max": None, "images_per_second_at_fmax": None}
    if routed and len(routed) == len(placements):
        fmax = [p["fmax_mhz"] for p in routed]
        out.update(fmax_mhz=min(fmax), fmax_median=statistics.median(fmax),
                   fmax_max=max(fmax),
                   images_per_second_at_fmax=min(fmax) * 1e6 / row["interval_cycles"])
    return out


def run(net, todo, *, folder: Path, images, want, input_max: float, input_offset: float,
        clock_mhz: float, target: str | None = None, freq_mhz: float = 100.0,
        seeds=(1,), router: str = "router2", runner: Runner, report=print) -> list[dict]:
    """Every config of ``todo`` ((name, config) pairs) measured, and with ``target`` placed
    at every seed of ``seeds``, the jobs on ``runner``; returns the rows in ``todo``'s order.
    ``report(text)`` gets a line as each job finishes."""
    from hdl.cnn import config as cfg

    base = {"net": net, "images": images, "want": want, "input_max": input_max,
            "input_offset": input_offset, "clock_mhz": clock_mhz, "target": target,
            "freq_mhz": freq_mhz, "router": router}
    confs = dict(todo)
    rows, placed = {}, {name: [] for name in confs}
    pending = {}
    for name, conf in todo:
        job = {**base, "name": name, "config": conf, "folder": Path(folder) / name}
        pending[runner.submit(simulate, job)] = ("sim", job)
    total = len(todo) * (1 + (len(seeds) if target else 0))
    finished = 0
    while pending:
        done, _ = runner.wait_any(set(pending))
        for future in done:
            kind, job = pending.pop(future)
            value = future.result()
            finished += 1
            name = job["name"]
            if kind == "sim":
                rows[name] = {"name": name, "config": cfg.to_json(confs[name]), **value}
                report(f"[{finished}/{total}] {name} ({cfg.describe(confs[name])}): interval "
                       f"{value['interval_cycles']:,.0f} clocks, "
                       f"{value['bit_exact']}/{value['images']} bit-exact")
                for seed in seeds if target else ():
                    pending[runner.submit(place, {**job, "seed": seed})] = ("place",
                                                                            {**job,
                                                                             "seed": seed})
            else:
                placed[name].append(value)
                got = (f"{value['fmax_mhz']:.2f} MHz" if value["fmax_mhz"] is not None
                       else "over: " + ", ".join(value["over"]))
                report(f"[{finished}/{total}] {name} seed {job['seed']}: {got}")
    return [summarize(rows[name], placed[name]) if target else rows[name] for name, _ in todo]


def fmax_ratio(rows: list[dict]) -> float | None:
    """The fastest config's fmax over the smallest's (the minimum over seeds of each): how much
    of the small design's clock the big one keeps; None when either was not placed. The rows
    go from the smallest to the fastest, and the fastest keeps another name when it is the
    same config (digits_cnn's default is its fastest): then the last row but the smallest."""
    by = {r["name"]: r.get("fmax_mhz") for r in rows}
    others = [r for r in rows if r["name"] != "smallest"]
    fastest = by["fastest"] if "fastest" in by else (
        others[-1].get("fmax_mhz") if others else None)
    if fastest and by.get("smallest"):
        return fastest / by["smallest"]
    return None
