"""Board tops: they convert, compile and lint clean, and each constraints file places exactly
the top's ports (no port left unconstrained, no name that is not a port)."""
import re
from pathlib import Path

import pytest
from myhdl import ResetSignal, Signal

from cosim import icarus
from hdl.board import boards
from hdl.board.seven_seg import PATTERNS, segments
from hdl.lib.power_on_reset import power_on_reset
from tests.hdl.helpers import need_fpga, build_top, clock, need_tools, run


def top_ports(vfile, top):
    """Every bit of every port of module ``top``: ``name`` or ``name[i]``."""
    text = vfile.read_text()
    header = text[text.index(f"module {top} ("):]
    names = re.findall(r"\b(\w+)\b", header[:header.index(");")].split("(", 1)[1])
    widths = {name: int(top_bit) if top_bit else None for top_bit, name in re.findall(
        r"^(?:input|output|inout)\s+(?:\[(\d+):0\]\s+)?(\w+);", text, re.M)}
    ports = set()
    for name in names:
        bits = widths[name]
        ports |= {name} if bits is None else {f"{name}[{i}]" for i in range(bits + 1)}
    return ports


def constrained(path):
    text = path.read_text()
    if path.suffix == ".pcf":
        return set(re.findall(r"^set_io\s+(?:-\S+\s+(?:yes\s+)?)*([\w\[\]]+)\s+\d+", text, re.M))
    if path.suffix == ".lpf":
        return set(re.findall(r'^LOCATE COMP "([\w\[\]]+)" SITE', text, re.M))
    if path.suffix == ".xdc":
        return {a or b for a, b in re.findall(
            r"PACKAGE_PIN [^\n]*?\[get_ports (?:\{([^}]+)\}|(\w+))\]", text)}
    return set(re.findall(r"^set_location_assignment PIN_\w+ -to ([\w\[\]]+)", text, re.M))


def clocks(path):
    """The ports a constraints file declares a clock on (create_clock; set_frequency in .pcf)."""
    text = path.read_text()
    if path.suffix == ".pcf":
        return set(re.findall(r"^set_frequency\s+(\w+)\s+[0-9.]+", text, re.M))
    if path.suffix == ".lpf":
        return set(re.findall(r'^FREQUENCY PORT "(\w+)" [0-9.]+ MHZ;', text, re.M))
    return set(re.findall(r"^create_clock\b[^\n]*\[get_ports (\w+)\]", text, re.M))


BOARD_CLOCKS = {"de10lite": "max10_clk1_50", "basys3": "clk", "icebreaker": "clk_12mhz",
                "ulx3s": "clk_25mhz"}


@pytest.mark.parametrize("name", sorted(boards.BOARDS))
def test_constraints_declare_the_board_clock_and_pclk(name):
    """Every board's timing constraints name its clock pin and the camera's PCLK (.sdc/.xdc:
    create_clock; .pcf: set_frequency, nextpnr-ice40's form)."""
    board = boards.get(name)
    declared = set().union(*(clocks(p) for p in board.constraint_paths
                             if p.suffix in (".sdc", ".xdc", ".pcf", ".lpf")))
    assert declared == {BOARD_CLOCKS[name], "cam_pclk"}


# Every board with the small digits_cnn inside (converted once per worker, shared with
# tests/test_board_sim.py: the xdist group keeps a board's tests on one worker) and with its
# own model.
@pytest.mark.parametrize("model", ["digits_cnn", "own"])
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xdist_group(f"board_{n}"))
                                  for n in sorted(boards.BOARDS)])
def test_board_top_converts_lints_and_is_fully_constrained(tmp_path, digits_board, name, model):
    need_tools("iverilog", "verilator")
    board = boards.get(name)
    if model == "own":
        folder, top = tmp_path, build_top(tmp_path, board, board.model)
    else:
        folder = digits_board(name)
        top = folder / f"{board.top}.v"
    models = [folder / m for m in board.sim_models]
    icarus.iverilog([top, *models], tmp_path / "top.vvp")
    icarus.verilator_lint(top, board.top, models)
    pins = next(path for path in board.constraint_paths
                if path.suffix in (".pcf", ".xdc", ".qsf", ".lpf"))
    assert constrained(folder / pins.name) == top_ports(top, board.top)


def readmem_files(verilog: Path) -> set:
    return set(re.findall(r'\$readmemh\("([^"]+)"', verilog.read_text()))


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xdist_group(f"board_{n}"))
                                  for n in ("de10lite", "basys3")])
def test_vendor_project_is_complete(digits_board, name):
    """What Quartus (DE10-Lite) or Vivado (Basys3) needs is in the board folder: the project
    or script names the part, the top, every source and constraints file there, and every
    file the Verilog's $readmemh reads sits beside it (where both tools look)."""
    board = boards.get(name)
    folder = digits_board(name)
    verilog = folder / f"{board.top}.v"
    mems = readmem_files(verilog)
    assert mems and all((folder / m).is_file() for m in mems)
    if name == "de10lite":
        qpf = (folder / "de10lite.qpf").read_text()
        assert 'PROJECT_REVISION = "de10lite"' in qpf
        qsf = (folder / "de10lite.qsf").read_text()
        assert "set_global_assignment -name DEVICE 10M50DAF484C7G" in qsf
        assert f"set_global_assignment -name TOP_LEVEL_ENTITY {board.top}" in qsf
        sources = re.findall(r"-name (?:VERILOG_FILE|SDC_FILE) (\S+)", qsf)
        assert set(sources) == {verilog.name, "de10lite.sdc"}
        assert all((folder / f).is_file() for f in sources)
        tcl = (folder / "quartus_build.tcl").read_text()
        assert "project_open de10lite" in tcl and "execute_flow -compile" in tcl
    else:
        tcl = (folder / "vivado_build.tcl").read_text()
        reads = re.findall(r"^read_(?:verilog|xdc) (\S+)", tcl, re.M)
        assert reads == [verilog.name, "basys3.xdc"]
        assert all((folder / f).is_file() for f in reads)
        assert f"synth_design -top {board.top} -part xc7a35tcpg236-1" in tcl
        assert "read_mem $mem" in tcl and "write_bitstream" in tcl


def test_unknown_board_is_named():
    with pytest.raises(ValueError, match="unknown board 'arty'.*icebreaker"):
        boards.get("arty")


def test_camera_timing_per_size_and_board():
    """The seed's frame arithmetic: PCLK = XCLK / 4, / 2, / 1 at QQVGA, QVGA, VGA; the same
    frame rate at every size (784 x 510 pixel periods of the sensor's VGA frame)."""
    from model.preprocess import for_model

    ulx3s, ice = boards.get("ulx3s"), boards.get("icebreaker")
    vga = ulx3s.camera(for_model("mnist_cnn", camera="vga"))
    assert (vga.pclk_hz, vga.pclk_per_frame, vga.pixels) == (25e6, 799_680, 307_200)
    assert vga.fps == pytest.approx(31.26, abs=0.01) and vga.sys_per_word == 4
    qqvga = ulx3s.camera(for_model("mnist_cnn", camera="qqvga"))
    assert (qqvga.pclk_hz, qqvga.pclk_per_frame, qqvga.fps) == (6.25e6, 199_920, vga.fps)
    assert ice.camera(for_model("digits_cnn", camera="vga")).sys_per_word == 2
    with pytest.raises(ValueError, match=r"ulx3s: the OV7670 tables are for 160x120 .* not "
                                         r"200x150"):
        ulx3s.camera(for_model("mnist_cnn", 200, 150))


def test_a_camera_size_the_board_cannot_take_is_refused(tmp_path):
    """A system clock too slow for the pixel rate: refused before any file is written."""
    import dataclasses

    from hdl.flow import build
    from model import presets, qnet
    from model.preprocess import for_model

    slow = dataclasses.replace(boards.get("icebreaker"), sys_hz=10e6)
    geo = for_model("digits_cnn", camera="vga")
    with pytest.raises(ValueError, match=r"a pixel every 1\.67 system clocks .*PCLK 12 MHz.*"
                                         r"system clock 10 MHz.*smaller CAMERA size"):
        slow.camera(geo)
    slow.camera(for_model("digits_cnn", camera="qvga"))   # 3.33 clocks a pixel: taken
    net = qnet.from_tflite(presets.get("digits_cnn").tflite)
    with pytest.raises(ValueError, match="smaller CAMERA size"):
        build.build_board(slow, net, {}, geo, tmp_path / "out", 16)
    assert not (tmp_path / "out").exists()


def test_power_on_reset_holds_then_follows_the_button():
    clk, button = Signal(bool(0)), Signal(bool(0))
    rst = ResetSignal(1, active=1, isasync=False)
    seen = []

    def done():
        seen.append(int(rst))
        if len(seen) == 12:
            button.next = 1
        if len(seen) == 16:
            button.next = 0
        return len(seen) >= 22

    run([power_on_reset(clk, button, rst, clocks=8), clock(clk)], done, clk, 100)
    assert seen[:9] == [1] * 9 and seen[9:15] == [0] * 6    # released after 8 (+1) clocks
    assert seen[15:19] == [1] * 4 and seen[19:22] == [0] * 3  # the button, three flops late


def test_seven_segment_patterns():
    assert [segments(d) for d in range(10)] == list(PATTERNS)
    assert segments(None) == 0x40 and segments(12) == 0x40
    assert PATTERNS[8] == 0x7F and PATTERNS[1] == 0b0000110   # all segments; b and c


@pytest.mark.slow
def test_icebreaker_places_routes_and_packs(tmp_path):
    """`make bitstream BOARD=icebreaker`: the whole camera top with digits_cnn fits the UP5K,
    nextpnr-ice40 places it with icebreaker.pcf (which it refuses if a top port is not in the
    file), both clocks meet the .pcf's frequencies after routing (board clock 12 MHz, PCLK 24), and
    icepack packs a .bin. Slow: about 3 minutes (placement at 99 % of the logic cells may
    need a second seed)."""
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    need_fpga("yosys", "nextpnr-ice40", "icepack")
    proc = subprocess.run([sys.executable, "scripts/synth.py", "--board", "icebreaker",
                           "--bitstream", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "summary.json").read_text())
    assert report["board"] == "icebreaker" and report["model"] == "digits_cnn"
    pnr = report["pnr"]
    assert 0 < pnr["lc"][0] <= pnr["lc"][1] == 5280
    fmax = {name.split("$")[0]: mhz for name, mhz in pnr["clocks"].items()}
    assert fmax.keys() == {"clk_12mhz", "cam_pclk"}
    assert fmax["clk_12mhz"] >= 12 and fmax["cam_pclk"] >= 24   # the .pcf's set_frequency
    assert report["fit"]["DSP"]["used"] <= 8 and report["fit"]["EBR"]["used"] <= 30
    assert (tmp_path / report["bitstream"]).stat().st_size > 100_000
    assert "every port placed by icebreaker.pcf" in proc.stdout


@pytest.mark.slow
def test_ulx3s_places_routes_meets_50_mhz_and_packs(tmp_path):
    """`make bitstream BOARD=ulx3s`: the camera top with mnist_cnn (default config) on the
    LFE5U-85F: nextpnr-ecp5 places it with ulx3s.lpf (every top port placed), the PLL's 50 MHz
    system clock, the 25 MHz oscillator and PCLK (25 MHz, its rate at VGA) meet their constraints after routing,
    and ecppack packs a .bit. Slow: synthesis and place and route take several minutes."""
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    need_fpga("yosys", "nextpnr-ecp5", "ecppack")
    proc = subprocess.run([sys.executable, "scripts/synth.py", "--board", "ulx3s",
                           "--bitstream", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "summary.json").read_text())
    assert report["board"] == "ulx3s" and report["model"] == "mnist_cnn"
    pnr = report["pnr"]
    assert pnr["met"] and not pnr["missed"]
    assert all(pnr["clocks"][c] >= pnr["clock_targets"][c] for c in pnr["clocks"])
    assert max(pnr["clock_targets"].values()) == 50   # the PLL's output is constrained
    assert (tmp_path / report["bitstream"]).stat().st_size > 1_000_000
