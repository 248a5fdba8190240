"""Yosys: every int8 MAC lane is one DSP48E1; the synthesis command's errors are clean."""
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.hdl.helpers import need_tools


def synth(tmp_path, layer, pe, simd):
    from hdl import synth as ys

    out = tmp_path / f"{layer}_{pe}_{simd}"
    proc = subprocess.run([sys.executable, "scripts/synth.py", "--model", "digits_cnn", "--layer",
                           layer, "--pe", str(pe), "--simd", str(simd), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    import json

    cells = json.loads((out / "xilinx.cells.json").read_text())
    return ys.summary(cells, "xilinx")


@pytest.mark.parametrize("layer,small,large", [("conv1", (1, 1), (4, 1)), ("dense1", (1, 2), (2, 4))])
def test_one_dsp_per_mac_lane(tmp_path, layer, small, large):
    need_tools("yosys")
    a, b = synth(tmp_path, layer, *small), synth(tmp_path, layer, *large)
    lanes = large[0] * large[1] - small[0] * small[1]
    assert b["DSP"] - a["DSP"] == lanes


def test_bad_arguments():
    for args, msg in [(["--layer", "conv7"], "digits_cnn has conv1, dense1"),
                      (["--layer", "conv1", "--pe", "3"], "PE=3 must divide its 8 output")]:
        proc = subprocess.run([sys.executable, "scripts/synth.py", "--model", "digits_cnn", *args],
                              cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 2 and msg in proc.stderr and "Traceback" not in proc.stderr


def test_whole_accelerator_on_ice40(tmp_path):
    """`make synth MODEL=digits_cnn TARGET=ice40`: the report names the device, and the DSP
    count is the config's MAC lanes plus 4 SB_MAC16 per layer's 32 x 32 requantizer."""
    import json

    need_tools("yosys")
    proc = subprocess.run([sys.executable, "scripts/synth.py", "--model", "digits_cnn",
                           "--target", "ice40", "--par", "dense1=1x2", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "summary.json").read_text())
    assert report["device"].startswith("iCE40 UP5K") and report["yosys"].startswith("Yosys")
    assert report["multipliers"] == 8 + 2
    assert report["fit"]["DSP"] == {"used": 10 + 2 * 4, "capacity": 8}
    assert report["fit"]["EBR"]["used"] > 0  # ROMs and row buffers in block RAM
    assert "DSP" in proc.stdout and "OVER" in proc.stdout
