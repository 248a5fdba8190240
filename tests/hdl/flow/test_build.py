"""hdl.flow.build.to_verilog: MyHDL's expected "driven but not read" warnings go to the
conversion log, not the terminal; other warnings still show; -v shows all."""
import warnings

from myhdl import Signal, always_seq, block, intbv

from hdl.flow.build import to_verilog
from tests.hdl.helpers import make_clk_rst


@block
def unread_monitor(clk, rst, q):
    spare = Signal(intbv(0)[4:])  # driven, never read: MyHDL warns

    @always_seq(clk.posedge, reset=rst)
    def count():
        q.next = not q
        spare.next = 5 if q else 3

    return count


def test_driven_but_not_read_goes_to_the_log(tmp_path, monkeypatch):
    monkeypatch.delenv("CNN2FPGA_VERBOSE", raising=False)
    clk, rst = make_clk_rst()
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        vfile = to_verilog(unread_monitor(clk, rst, Signal(bool(0))), tmp_path, "mon")
    assert vfile.is_file()
    assert not [w for w in shown if "driven but not read" in str(w.message)]
    log = (tmp_path / "mon.convert.log").read_text()
    assert "Signal is driven but not read: spare" in log


def test_verbose_shows_them(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN2FPGA_VERBOSE", "1")
    clk, rst = make_clk_rst()
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        to_verilog(unread_monitor(clk, rst, Signal(bool(0))), tmp_path, "mon")
    assert [w for w in shown if "driven but not read: spare" in str(w.message)]


def _build_in_a_process(tmp_path, hash_seed: str, *args) -> dict:
    """`make_verilog *args` in a new Python process with its own string-hash seed; every file
    it wrote, as bytes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    out = tmp_path / f"seed{hash_seed}"
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    proc = subprocess.run([sys.executable, str(root / "scripts" / "make_verilog.py"), *args,
                           "--out", str(out)], capture_output=True, text=True, env=env,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}


import pytest  # noqa: E402


@pytest.mark.parametrize("args", [("--model", "digits_cnn"),
                                  ("--board", "icebreaker")], ids=["digits_cnn", "icebreaker"])
def test_verilog_is_the_same_in_every_process(tmp_path, args):
    """Two processes, two string-hash seeds: every file byte for byte the same (MyHDL wrote
    sensitivity lists and reset blocks in hash order, and the date; hdl/__init__.py)."""
    first = _build_in_a_process(tmp_path, "1", *args)
    second = _build_in_a_process(tmp_path, "2", *args)
    assert sorted(first) == sorted(second) and any(name.endswith(".v") for name in first)
    differ = [name for name in first if first[name] != second[name]]
    assert not differ, f"differ between the two processes: {differ}"
    top = next(v for k, v in first.items() if k.endswith(".v"))
    assert b"// Date:" not in top


def test_top_ports_are_axi4_stream(tmp_path):
    """The converted top's ports carry AXI4-Stream names (what Vivado's IP packager infers an
    interface from), with the widths the streams need; m_axis_tlast marks each class index
    (the Verilator harness refuses a class without it)."""
    import re

    from hdl.flow import build
    from model import source

    src = source.resolve("digits_cnn")
    top = build.build(src.load_net(), {"conv1": (1, 1), "dense1": (1, 1)}, tmp_path,
                      src.input_max)
    text = top.read_text()
    header = re.search(r"module digits_cnn_top \((.*?)\);", text, re.S).group(1)
    ports = [p.strip() for p in header.split(",")]
    assert sorted(ports) == sorted(["clk", "rst", "s_axis_tdata", "s_axis_tvalid",
                                    "s_axis_tready", "m_axis_tdata", "m_axis_tvalid",
                                    "m_axis_tready", "m_axis_tlast", "logit_valid",
                                    "logit_data", "busy", "done"])
    assert re.search(r"input \[7:0\] s_axis_tdata;", text)
    assert re.search(r"output \[3:0\] m_axis_tdata;", text)
