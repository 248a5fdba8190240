"""The `cnn2fpga` command and the Python API: the same code the make targets run."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.hdl.helpers import need_tools


def c2f(*args, cwd, env=None):
    """`python -m cnn2fpga ARGS` in ``cwd`` (the project importable, as an install makes it)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "cnn2fpga", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=env)


def test_api_simulate_equals_golden(tmp_path):
    """load -> golden -> hardware -> write_verilog -> simulate: every logit equal to golden's,
    the latency and interval the cycle model's."""
    need_tools("verilator")
    import cnn2fpga

    net = cnn2fpga.load("digits_cnn")
    images = net.source.load_data().test.x[:6]
    want = net.golden(images)
    assert want.shape == (6, 10) and want.dtype == np.int8
    np.testing.assert_array_equal(net.golden(images[0]), want[:1])  # one image, no batch
    hw = net.hardware(auto_budget=16)
    assert hw.multipliers <= 16 and "digits_cnn" in repr(hw)
    top = hw.write_verilog(tmp_path / "v")
    assert top.name == "digits_cnn_top.v" and top.is_file()
    sim = hw.simulate(images)
    np.testing.assert_array_equal(sim.logits, want)
    np.testing.assert_array_equal(sim.classes, net.classify(images))
    assert sim.latency_cycles == hw.latency_cycles and sim.interval_cycles == hw.interval_cycles
    by_par = net.hardware(par={"conv1": "2x1", "dense1": "1x2"})
    assert by_par.multipliers == 4


def test_api_refuses_what_it_cannot_take():
    import cnn2fpga

    net = cnn2fpga.load("digits_cnn")
    with pytest.raises(ValueError, match="images are float64: uint8 pixels"):
        net.golden(np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match=r"images of shape \(2, 7, 8\) do not hold whole inputs"):
        net.golden(np.zeros((2, 7, 8), np.uint8))
    with pytest.raises(ValueError, match="--auto-budget 0: must be at least 1 multiplier"):
        net.hardware(auto_budget=0)
    with pytest.raises(ValueError, match="target 'quartus': one of"):
        net.hardware(auto_budget=4).synth(target="quartus")


def test_command_from_any_folder(tmp_path):
    """`cnn2fpga --help` lists the commands; a typo gets "did you mean" and exit 2; `check`
    and `verilog` run from an empty folder, their outputs under it."""
    proc = c2f("--help", cwd=tmp_path)
    assert proc.returncode == 0 and "  verilog " in proc.stdout and "  mcu-report " in proc.stdout
    proc = c2f("verilg", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr == (
        "error: cnn2fpga verilg: no such command; did you mean verilog? (cnn2fpga --help "
        "lists them)\n")
    proc = c2f("check", "--model", "digits_cnn", "--n", "60", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["mismatches"] == 0
    proc = c2f("verilog", "--model", "digits_cnn", "--out", "dv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "dv" / "digits_cnn_top.v").is_file()
    proc = c2f("verilog", "--model", "digits_cnn", "--n", "3", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("error: unrecognized arguments: --n")
    assert "(see cnn2fpga verilog --help)" in proc.stderr


@pytest.mark.slow
def test_pip_install_then_run_from_an_empty_folder(tmp_path):
    """`pip install <checkout>` (not editable) into a new venv; from an empty folder the
    command checks mnist_cnn on 500 images with 0 mismatches and writes digits_cnn's Verilog,
    the API's simulate equals golden, and the board test of the iCEBreaker top in simulation
    finds 5 of 5 images bit-exact with the chip's cycles equal to the model: the pretrained models, constraints, C sources and
    simulation models come with the package."""
    need_tools("verilator")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(ROOT)],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr[-3000:]
    work = tmp_path / "empty"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    exe = venv / "bin" / "cnn2fpga"
    proc = subprocess.run([str(exe), "check", "--model", "mnist_cnn", "--n", "500", "--json"],
                          cwd=work, capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and json.loads(proc.stdout)["mismatches"] == 0, proc.stderr
    proc = subprocess.run([str(exe), "verilog", "--model", "digits_cnn", "--out", "dv"],
                          cwd=work, capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and (work / "dv" / "digits_cnn_top.v").is_file(), proc.stderr
    proc = subprocess.run([str(exe), "verilog", "--board", "icebreaker"], cwd=work,
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and (work / "build" / "icebreaker" / "verilog"
                                     / "icebreaker.pcf").is_file(), proc.stderr
    script = ("import cnn2fpga, numpy as np\n"
              "net = cnn2fpga.load('digits_cnn')\n"
              "x = net.source.load_data().test.x[:5]\n"
              "sim = net.hardware(auto_budget=8).simulate(x)\n"
              "assert (sim.logits == net.golden(x)).all()\n"
              "print('simulate == golden')\n")
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", script], cwd=work,
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and "simulate == golden" in proc.stdout, proc.stderr[-3000:]
    # the board test against the icebreaker top built above, its serial line in Verilator
    proc = subprocess.run([str(exe), "board-test", "--board", "icebreaker", "--sim", "--n", "5",
                           "--json"], cwd=work, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["bit_exact_images"] == 5 and report["all_bit_exact"]
    assert report["latency_cycles"] == report["predicted_latency"] and report["cycles_match"]
