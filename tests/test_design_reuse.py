"""One design per build folder: `make verilog` records the config it built and the model's hash;
`cosim` (and `synth`) then test that design, as it is, until a config flag or a changed model
says otherwise, and say which design it is."""
import json

import numpy as np
import pytest

from tests.hdl.helpers import need_tools
from tests.usermodels import cli, small, user_tflite, write_idx


def cosim_json(monkeypatch, capfd, *args):
    code, out, err = cli(monkeypatch, capfd, "cosim", *args, "--n", "4", "--json")
    assert code == 0, err
    return json.loads(out), err


def test_cosim_tests_the_tuned_design_without_converting(monkeypatch, capfd, tmp_path):
    need_tools("verilator")
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(monkeypatch, capfd, "make_verilog", "--model", "digits_cnn",
                         "--auto-budget", "3")
    assert code == 0, err
    vdir = tmp_path / "build" / "digits_cnn" / "verilog"
    built = json.loads((vdir / "config.json").read_text())
    assert built["chosen_by"] == "--auto-budget 3" and built["model_sha256"]
    top = vdir / f"{built['top']}.v"
    stamp = top.stat().st_mtime_ns

    report, err = cosim_json(monkeypatch, capfd, "--model", "digits_cnn")
    assert report["all_bit_exact"]
    assert report["multipliers"] == built["multipliers"] <= 3
    assert report["predicted_interval"] == built["predicted_interval"]
    assert report["interval_cycles"] == built["predicted_interval"]
    assert (f"testing build/digits_cnn/verilog: --auto-budget 3, {built['multipliers']} "
            f"multipliers, interval {built['predicted_interval']:,} clocks") in err
    assert top.stat().st_mtime_ns == stamp, "cosim converted again"

    # a config flag: that config is built, over the folder, and said so
    report, err = cosim_json(monkeypatch, capfd, "--model", "digits_cnn", "--par",
                             "conv1=1x1")
    assert "building --par conv1=1x1" in err
    rebuilt = json.loads((vdir / "config.json").read_text())
    assert rebuilt["chosen_by"] == "--par conv1=1x1"
    assert report["multipliers"] == rebuilt["multipliers"] != built["multipliers"]
    assert report["all_bit_exact"]


def test_a_changed_model_is_rebuilt_with_its_config(monkeypatch, capfd, tmp_path):
    need_tools("verilator")
    monkeypatch.chdir(tmp_path)
    path = user_tflite(small(), tmp_path / "mine.tflite")
    code, _, err = cli(monkeypatch, capfd, "make_verilog", "--model", path, "--par",
                       "conv1=2x1")
    assert code == 0, err
    # the same architecture retrained: other weights, the same layers
    before = path.read_bytes()
    user_tflite(small(), path)
    assert path.read_bytes() != before
    rng = np.random.default_rng(0)
    data = write_idx(tmp_path / "data", rng.integers(0, 256, (8, 12, 12), dtype=np.uint8),
                     rng.integers(0, 3, 8, dtype=np.uint8))
    report, err = cosim_json(monkeypatch, capfd, "--model", path, "--dataset", data)
    assert f"{path} changed since make verilog built build/mine/verilog: rebuilding it with " \
           f"the same config (--par conv1=2x1)" in err
    assert report["all_bit_exact"]
    rec = json.loads((tmp_path / "build" / "mine" / "verilog" / "config.json").read_text())
    assert rec["layers"]["conv1"]["pe"] == 2 and rec["chosen_by"] == "--par conv1=2x1"


def test_no_build_yet_builds_the_default_and_says_so(monkeypatch, capfd, tmp_path):
    need_tools("verilator")
    monkeypatch.chdir(tmp_path)
    report, err = cosim_json(monkeypatch, capfd, "--model", "digits_cnn")
    assert "no build in build/digits_cnn/verilog: building the preset's config" in err
    assert report["all_bit_exact"]


@pytest.mark.parametrize("flags,chosen", [((), None), (("--auto-budget", "3"),
                                                      "--auto-budget 3")])
def test_synth_takes_the_tuned_design(monkeypatch, capfd, tmp_path, nets, flags, chosen):
    """synth without config flags: a design make verilog built with flags, else the default."""
    from types import SimpleNamespace

    from model import source
    from scripts.synth import tuned_design

    monkeypatch.chdir(tmp_path)
    code, _, err = cli(monkeypatch, capfd, "make_verilog", "--model", "digits_cnn", *flags)
    assert code == 0, err
    src = source.resolve("digits_cnn")
    none = SimpleNamespace(config=None, auto_budget=None, auto_ips=None, par=None,
                           requant_dsp_bits=None, clock_mhz=50.0)
    got = tuned_design(nets["digits_cnn"], src, none)
    assert (got and got[1]) == chosen or (got is None and chosen is None)
    assert tuned_design(nets["digits_cnn"], src,
                        SimpleNamespace(**{**vars(none), "par": ["conv1=1x1"]})) is None
