"""The sweep's jobs (hdl.flow.sweep) on local processes and on a Dask cluster: the same rows;
the figures over placer seeds; a scheduler that does not answer is said so."""
import subprocess
import sys

import numpy as np
import pytest

from hdl.flow import sweep
from hdl.flow.jobs import Runner, SchedulerError
from tests.conftest import ROOT
from tests.hdl.helpers import need_tools


def small_sweep(folder, runner, target=None, seeds=(1,)):
    from model import golden, source

    src = source.resolve("digits_cnn")
    net = src.load_net()
    images = np.asarray(src.load_data(None).test.x[:3])
    want = golden.run_network(net, net.quantize_input(src.to_float(images))).logits
    todo = [("smallest", {"conv1": (1, 1), "dense1": (1, 1)})]
    lines = []
    rows = sweep.run(net, todo, folder=folder, images=images, want=want,
                     input_max=src.input_max, input_offset=src.input_offset, clock_mhz=50.0,
                     target=target, freq_mhz=100.0, seeds=seeds, runner=runner,
                     report=lines.append)
    return rows, lines


def cluster_and_local(tmp_path, target, seeds):
    """The small sweep through local processes, then through a dask.distributed LocalCluster."""
    need_tools("verilator")
    distributed = pytest.importorskip("distributed", reason="dask.distributed: make setup")
    with Runner(workers=2) as runner:
        local, lines = small_sweep(tmp_path / "local", runner, target, seeds)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with Runner(cluster) as runner:
            assert "Dask scheduler" in runner.describe()
            remote, _ = small_sweep(tmp_path / "dask", runner, target, seeds)
    return local, lines, remote


def test_a_local_cluster_gives_the_local_rows(tmp_path):
    """One config in Verilator: the row from a dask.distributed LocalCluster equals the one
    from local processes, value for value."""
    local, lines, remote = cluster_and_local(tmp_path, None, (1,))
    row = local[0]
    assert row["bit_exact"] == 3 and row["interval_cycles"] == row["predicted_interval"]
    assert lines[0].startswith("[1/1] smallest")
    assert remote == local


@pytest.mark.slow
def test_a_local_cluster_places_the_local_seeds(tmp_path):
    """The same config placed on the ECP5 at two seeds (slow: four place and routes): the
    rows from the cluster equal the local ones, and each seed placed in its own folder."""
    local, lines, remote = cluster_and_local(tmp_path, "ecp5", (1, 2))
    row = local[0]
    assert row["bit_exact"] == 3 and row["interval_cycles"] == row["predicted_interval"]
    assert len(lines) == 3 and lines[0].startswith("[1/3] smallest")
    assert row["seeds"] == [1, 2] and [p["seed"] for p in row["placements"]] == [1, 2]
    assert row["fmax_mhz"] == min(p["fmax_mhz"] for p in row["placements"]) > 0
    assert row["aim_mhz"] == 100.0 and row["router"] == "router2"
    assert remote == local
    for seed in (1, 2):
        assert (tmp_path / "dask" / "smallest" / f"ecp5-s{seed}" / "nextpnr.log").is_file()


def placement(seed, fmax):
    return {"seed": seed, "device": "LFE5U-85F", "resources": {"LUT": seed}, "over": [],
            "commit": "abc1234", "router": "router2", "aim_mhz": 100.0, "fmax_mhz": fmax,
            "critical_path": [f"path of seed {seed}"]}


def test_the_minimum_over_seeds_counts():
    row = {"name": "default", "interval_cycles": 1000}
    got = sweep.summarize(row, [placement(2, 95.0), placement(3, 90.0), placement(1, 93.0)])
    assert got["seeds"] == [1, 2, 3]
    assert (got["fmax_mhz"], got["fmax_median"], got["fmax_max"]) == (90.0, 93.0, 95.0)
    assert got["seed"] == 3 and got["critical_path"] == ["path of seed 3"]
    assert got["resources"] == {"LUT": 3}
    assert got["images_per_second_at_fmax"] == 90e6 / 1000
    rows = [{"name": "smallest", "fmax_mhz": 120.0}, got | {"name": "fastest"}]
    assert sweep.fmax_ratio(rows) == 0.75
    # the fastest config is the default (one row, the default's name): the last row
    rows = [{"name": "smallest", "fmax_mhz": 120.0}, got | {"name": "default"}]
    assert sweep.fmax_ratio(rows) == 0.75
    assert sweep.fmax_ratio(rows[:1]) is None


def test_a_seed_that_does_not_fit_leaves_no_fmax():
    over = placement(1, None) | {"over": ["MULT18X18D"]}
    got = sweep.summarize({"name": "x", "interval_cycles": 10}, [over])
    assert got["fmax_mhz"] is None and got["over"] == ["MULT18X18D"]
    assert sweep.fmax_ratio([got, {"name": "smallest", "fmax_mhz": 100.0}]) is None


def test_no_scheduler_there_is_said():
    pytest.importorskip("distributed", reason="dask.distributed: make setup")
    with pytest.raises(SchedulerError, match="no Dask scheduler answered within 2 s"):
        with Runner("tcp://127.0.0.1:9", timeout=2):
            pass


def test_a_repeated_seed_is_refused(tmp_path):
    proc = subprocess.run([sys.executable, "scripts/sweep.py", "--model", "digits_cnn",
                           "--target", "ice40", "--seeds", "1", "1", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "--seeds 1 1: a seed is repeated" in proc.stderr
    assert "Traceback" not in proc.stderr and not list(tmp_path.iterdir())


def test_the_docs_table_gives_each_seed_and_the_ratio():
    """A placed sweep's block for docs/hardware.md: the slowest seed's fmax with each seed's,
    images/s at it, the fastest over the smallest, the command and commit that made them."""
    from scripts.sweep import markdown

    def row(name, mults, interval, fmaxes):
        got = sweep.summarize({"name": name, "describe": f"{name} config",
                               "multipliers": mults, "interval_cycles": interval,
                               "predicted_interval": interval, "latency_cycles": 2 * interval,
                               "predicted_latency": 2 * interval, "bit_exact": 4,
                               "images": 4},
                              [placement(s, f) for s, f in zip((1, 2, 3), fmaxes)])
        return got

    rows = [row("smallest", 2, 1000, (110.0, 120.0, 115.0)),
            row("fastest", 80, 50, (99.0, 88.0, 101.0))]
    doc = {"model": "m", "images": 4, "clock_mhz": 50.0, "target": "ecp5", "commit": "abc1234",
           "date": "2026-12-07", "command": "cnn2fpga sweep --model m --target ecp5",
           "seeds": [1, 2, 3], "router": "router2", "aim_mhz": 100.0,
           "ratio": sweep.fmax_ratio(rows), "rows": rows}
    table = markdown(doc)
    assert "`cnn2fpga sweep --model m --target ecp5` at commit abc1234" in table
    assert "| smallest: smallest config | 2 | 1,000 / 2,000 | 4 / 4 | 110.00 MHz " \
           "(110.00 / 120.00 / 115.00) | 110,000 |" in table
    assert "| 88.00 MHz (99.00 / 88.00 / 101.00) | 1,760,000 |" in table
    assert "The fastest config's (fastest) fmax" in table and "**0.80**" in table  # 88 / 110


def test_a_page_without_the_block_is_refused_before_the_sweep(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("no markers here\n")
    proc = subprocess.run([sys.executable, "scripts/sweep.py", "--model", "digits_cnn",
                           "--target", "ecp5", "--readme", str(page), "--out",
                           str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "<!-- sweep:digits_cnn:ecp5:start -->" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
    assert page.read_text() == "no markers here\n"


def test_hardware_page_has_the_presets_sweep_blocks():
    from scripts.sweep import marks

    text = (ROOT / "docs" / "hardware.md").read_text()
    for model in ("mnist_cnn", "digits_cnn"):
        start, end = marks(model, "ecp5")
        assert text.count(start) == 1 and text.count(end) == 1
        assert text.index(start) < text.index(end)
