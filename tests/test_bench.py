"""`make bench`: one command for every figure, and the README block it rewrites."""
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.hdl.helpers import need_tools


def test_digits_bench_without_synthesis(tmp_path):
    """Both digits configs through Verilator: figures consistent with the cycle model and
    golden, the Markdown table rendered from bench.json, a README block replaced by it."""
    need_tools("verilator")
    from scripts.bench import update_readme

    proc = subprocess.run([sys.executable, "scripts/bench.py", "--model", "digits_cnn",
                           "--no-synth", "--rtl-n", "12", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((tmp_path / "bench.json").read_text())
    assert [(r["model"], r["config"]) for r in doc["rows"]] == [("digits_cnn", "default"),
                                                                 ("digits_cnn", "up5k")]
    model = doc["models"]["digits_cnn"]
    assert model["int8_accuracy"] == model["golden_accuracy"]  # LiteRT == golden on 360
    assert all(float(v) > 0 for v in model["litert_images_per_s"].values())
    assert set(model["litert_ms_per_image"]) == {"float32", "int8"}
    assert model["float_tflite_accuracy"] > 0.9  # the converter's float32 output, measured
    for row in doc["rows"]:
        rtl = row["rtl"]
        assert rtl["bit_exact"] == rtl["images"] == 12
        assert rtl["interval_cycles"] == rtl["predicted_interval"]
        assert rtl["latency_cycles"] == rtl["predicted_latency"]
    table = (tmp_path / "bench.md").read_text()
    assert "| digits_cnn | up5k | 4 |" in table and "12 / 12" in table
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:start -->\nold table\n<!-- bench:end -->\nrest\n")
    update_readme(readme, table)
    text = readme.read_text()
    assert text.startswith("intro\n<!-- bench:start -->\n") and text.endswith("rest\n")
    assert table in text and "old table" not in text


def test_readme_has_the_bench_block():
    from scripts.bench import MARK_END, MARK_START

    text = (ROOT / "docs" / "performance.md").read_text()
    assert text.count(MARK_START) == 1 and text.count(MARK_END) == 1
    block = text.split(MARK_START)[1].split(MARK_END)[0]
    assert "Measured by `make bench`" in block and "| mnist_cnn | default |" in block


def test_the_slowest_seed_is_the_figure():
    """Placed at several seeds, a design's fmax is the slowest seed's (with its resources and
    critical path), every seed's fmax beside it; the images/s column uses that fmax."""
    from scripts.bench import markdown, synth_figures

    fit = {name: {"used": 1, "capacity": 2} for name in ("LUT4", "FF", "MULT18X18D", "DP16KD")}
    runs = [{"target": "ecp5", "device": "ECP5", "fit": fit, "seed": seed, "fmax_mhz": fmax,
             "logic_cells": [seed, 9], "critical_path": [f"Source path{seed}", "setup"]}
            for seed, fmax in [(2, 98.7), (1, 95.4), (3, 97.1)]]
    got = synth_figures(runs)
    assert got["seed"] == 1 and got["fmax_mhz"] == 95.4 and got["logic_cells"] == [1, 9]
    assert got["seeds"] == {"1": 95.4, "2": 98.7, "3": 97.1}
    rtl = {"multipliers": 3, "accuracy": 0.5, "images": 4, "bit_exact": 4, "latency_cycles": 9,
           "predicted_latency": 9, "interval_cycles": 10, "predicted_interval": 10,
           "mac_utilization": 0.5}
    doc = {"machine": "m", "date": "d", "tools": "t", "commit": "abc1234",
           "models": {"m": {"litert_images_per_s": {"1": 1.0},
                            "litert_ms_per_image": {"float32": 1.0, "int8": 1.0}}},
           "rows": [{"model": "m", "config": "default", "rtl": rtl, "synth": {"ecp5": got}}]}
    table = markdown(doc)
    assert "at commit abc1234" in table
    assert "| 9,540,000 (ecp5) |" in table  # 95.4 MHz / 10 clocks
    assert "| 95.40 MHz (seeds 1, 2, 3: 95.40 / 98.70 / 97.10) |" in table
    assert "(seed 1, the slowest): `Source path1`" in table
    assert table.count("95.40 MHz") == 1  # the figure appears once


@pytest.mark.parametrize("args,msg", [(["--rtl-n", "2"], "--rtl-n 2"),
                                      (["--seeds", "1", "1"], "--seeds 1 1"),
                                      (["--jobs", "0"], "--jobs 0"),
                                      (["--model", "digits_cnn", "--readme"], "lose the other")])
def test_bad_arguments(tmp_path, args, msg):
    proc = subprocess.run([sys.executable, "scripts/bench.py", *args, "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and msg in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "bench.json").exists()


@pytest.mark.parametrize("missing", ["start", "end"])
def test_readme_without_markers_is_refused(tmp_path, missing):
    from scripts.bench import update_readme

    readme = tmp_path / "README.md"
    readme.write_text("<!-- bench:start -->\n" if missing == "end" else "<!-- bench:end -->\n")
    with pytest.raises(ValueError, match="no <!-- bench:start -->"):
        update_readme(readme, "table\n")


def test_sweep_plot_draws_the_compute_bound(tmp_path):
    """The sweep's PNG: images/s against multipliers with the compute bound line; the rows
    come from sweep.json's format."""
    from scripts.sweep import plot

    rows = [{"name": n, "multipliers": m, "interval_cycles": i, "predicted_interval": i,
             "mac_utilization": 3312 / (m * i)} for n, m, i in
            [("smallest", 2, 2592), ("budget-4", 3, 1296), ("default", 12, 326)]]
    plot(rows, tmp_path / "sweep.png", "digits_cnn", 50.0, 3312, 326)
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_seed_that_placed_at_the_next_is_named_so():
    """A run asked for seed 3 that nextpnr placed at seed 4 (seed 3 could not route) is
    reported as seed 4, in the seeds list and as the slowest."""
    from cnn2fpga.commands.bench import fmt_fmax, synth_figures

    runs = [{"seed": 3, "placed_seed": 4, "fmax_mhz": 36.01},
            {"seed": 1, "placed_seed": 1, "fmax_mhz": 37.64},
            {"seed": 2, "placed_seed": 2, "fmax_mhz": 34.5}]
    s = synth_figures(runs)
    assert fmt_fmax(s) == "34.50 MHz (seeds 1, 2, 4: 37.64 / 34.50 / 36.01)"
