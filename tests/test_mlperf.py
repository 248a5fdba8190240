"""`make mlperf`: the MLPerf Tiny shapes built, judged and measured by one command."""
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.hdl.helpers import need_tools


def earlier(task: str, commit: str) -> dict:
    """A row of another run, as mlperf.json holds it."""
    return {"task": task, "macs": 1000, "multipliers": 7, "bit_exact": 3, "images": 3,
            "latency_cycles": 4000, "interval_cycles": 2000.0, "fmax_mhz": 90.0,
            "seeds": [2], "resources": {"DP16KD": 5}, "block_rams_estimate": 5,
            "golden": {"inputs": 20, "tensors": 9, "mismatching": []},
            "measured": {"commit": commit, "date": "2026-12-01", "tools": "Yosys, nextpnr"}}


# slow: 55 s; the autoencoder's hardware is in tests/test_vector_model.py, the command's rows
# and table in the tests below
@pytest.mark.slow
def test_autoencoder_through_the_command(tmp_path):
    """The anomaly-detection task end to end (the smallest of the four): its model built from
    the description, golden == LiteRT on every tensor, fitted to the ECP5-85F, bit-exact
    in Verilator with the cycle model exact; the table rendered and a docs block replaced.
    The folder held the other three tasks' rows from an earlier run (and an older ad row):
    they are kept, in task order, each with its own commit, and the ad row is replaced."""
    need_tools("verilator")
    from scripts.bench import update_readme
    from scripts.mlperf import MARKS

    old = [earlier(t, "0ld" + t) for t in ("ad", "kws", "vww", "ic")]
    (tmp_path / "mlperf.json").write_text(json.dumps(
        {"device_key": "ecp5-85f", "commit": "0ld", "rows": old}))
    proc = subprocess.run([sys.executable, "scripts/mlperf.py", "--task", "ad", "--golden-n",
                           "5", "--out", str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((tmp_path / "mlperf.json").read_text())
    assert [r["task"] for r in doc["rows"]] == ["vww", "ic", "kws", "ad"]
    assert doc["rows"][:3] == [old[2], old[3], old[1]]
    row = doc["rows"][3]
    assert row["measured"]["commit"] == doc["commit"] != "0ldad"
    assert row["task"] == "ad" and row["macs"] == 264_192
    assert row["golden"] == {"inputs": 5, "tensors": 11, "mismatching": []}
    assert row["bit_exact"] == row["images"] == 3 and row["multipliers"] <= 156
    assert row["name"] == "ecp5-85f" and 0 <= row["block_rams_estimate"] <= 208
    assert row["latency_cycles"] == row["predicted_latency"]
    assert row["interval_cycles"] == row["predicted_interval"]
    table = (tmp_path / "mlperf.md").read_text()
    assert "| Anomaly Detection | dense autoencoder" in table and "| 3 / 3 |" in table
    assert table.count(" 0ld") == 3 and f"| {doc['commit']} (" in table
    assert "| 90.0 MHz, seed 2 | 0.044 / 0.022 ms" in table
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
    """--readme with --task needs the other tasks' rows in --out's mlperf.json (the same
    device): else the page's table would lose them."""
    kept = {"device_key": "ecp5-85f", "rows": [earlier("kws", "0ld"), earlier("ic", "0ld")]}
    for folder, doc in (("empty", None), ("two", kept),
                        ("other", {**kept, "device_key": "up5k",
                                   "rows": kept["rows"] + [earlier("vww", "0ld")]})):
        out = tmp_path / folder
        out.mkdir()
        if doc:
            (out / "mlperf.json").write_text(json.dumps(doc))
        before = sorted(out.iterdir())
        proc = subprocess.run([sys.executable, "scripts/mlperf.py", "--task", "ad", "--readme",
                               "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 2, proc.stderr
        lost = "vww" if folder == "two" else "vww, ic, kws"
        assert f"would lose the rows of {lost}, which" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr and sorted(out.iterdir()) == before


def test_rows_of_different_commits_say_each_its_own():
    from scripts.mlperf import markdown

    rows = [earlier("kws", "aaa"), {**earlier("ad", "bbb"), "fmax_mhz": None}]
    rows[0]["seeds"] = [1, 2, 3]
    rows[0].update(fmax_median=95.0, fmax_max=99.0)
    doc = {"device": "ECP5", "device_key": "ecp5-85f", "rows": rows}
    text = markdown(doc)
    assert "each row at the commit in its last column" in text
    kws = next(x for x in text.splitlines() if x.startswith("| Keyword"))
    assert "| 90.0 MHz, seeds 1 2 3 (min; median / max) (95.0 / 99.0) |" in kws
    assert kws.endswith("| aaa (2026-12-01) |")
    ad = next(x for x in text.splitlines() if x.startswith("| Anomaly"))
    assert "| - | (0.040 / 0.020 ms at 100 MHz, not placed) |" in ad
    assert ad.endswith("| bbb (2026-12-01) |")
