"""`make mlperf`: the MLPerf Tiny shapes built, judged and measured by one command."""
import json
import subprocess
import sys

from tests.conftest import ROOT
from tests.hdl.helpers import need_tools


def test_autoencoder_through_the_command(tmp_path):
    """The anomaly-detection task end to end (the smallest of the four): its model built from
    the description, golden == LiteRT on every tensor, fitted to the ECP5-85F, bit-exact
    in Verilator with the cycle model exact; the table rendered and a docs block replaced."""
    need_tools("verilator")
    from scripts.bench import update_readme
    from scripts.mlperf import MARKS

    proc = subprocess.run([sys.executable, "scripts/mlperf.py", "--task", "ad", "--golden-n",
                           "5", "--out", str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((tmp_path / "mlperf.json").read_text())
    (row,) = doc["rows"]
    assert row["task"] == "ad" and row["macs"] == 264_192
    assert row["golden"] == {"inputs": 5, "tensors": 11, "mismatching": []}
    assert row["bit_exact"] == row["images"] == 3 and row["multipliers"] <= 156
    assert row["name"] == "ecp5-85f" and 0 <= row["block_rams_estimate"] <= 208
    assert row["latency_cycles"] == row["predicted_latency"]
    assert row["interval_cycles"] == row["predicted_interval"]
    table = (tmp_path / "mlperf.md").read_text()
    assert "| Anomaly Detection | dense autoencoder" in table and "| 3 / 3 |" in table
    assert f"{row['latency_cycles']:,} / {row['interval_cycles']:,.0f}" in table
    assert "0.0187 ms (hls4ml" in table and f"| {row['block_rams_estimate']} (est.) |" in table
    page = tmp_path / "perf.md"
    page.write_text(f"intro\n{MARKS[0]}\nold\n{MARKS[1]}\nrest\n")
    update_readme(page, table, MARKS)
    assert page.read_text() == f"intro\n{MARKS[0]}\n{table}{MARKS[1]}\nrest\n"


def test_placed_rows_give_ms_at_fmax_against_the_targets():
    from scripts.mlperf import markdown

    row = {"task": "kws", "macs": 2_656_768, "multipliers": 97, "bit_exact": 3, "images": 3,
           "latency_cycles": 40_000, "interval_cycles": 32_000.0, "fmax_mhz": 80.0,
           "fmax_median": 85.0, "fmax_max": 90.0, "seeds": [1, 2, 3],
           "resources": {"DP16KD": 22}, "golden": {"inputs": 5, "tensors": 13,
                                                   "mismatching": []}}
    doc = {"commit": "abc", "date": "d", "tools": "t", "device": "ECP5", "device_key": "ecp5-85f",
           "seeds": [1, 2, 3],
           "rows": [row]}
    line = next(x for x in markdown(doc).splitlines() if x.startswith("| Keyword"))
    # 40,000 clocks at 80 MHz: 0.5 ms, on the 0.5 ms target
    assert "| 97 | 22 | 3 / 3 | 40,000 / 32,000 | 80.0 MHz (85.0 / 90.0) " in line
    assert "| 0.500 / 0.400 ms (meets 0.5) |" in line
    row["fmax_mhz"] = 40.0
    line = next(x for x in markdown(doc).splitlines() if x.startswith("| Keyword"))
    assert "| 1.000 / 0.800 ms (misses 0.5 by 100%) |" in line


def test_readme_with_some_tasks_is_refused(tmp_path):
    proc = subprocess.run([sys.executable, "scripts/mlperf.py", "--task", "ad", "--readme",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "lose the other tasks' rows" in proc.stderr
    assert "Traceback" not in proc.stderr and not list(tmp_path.iterdir())
