"""Elaborate a model's accelerator into a self-contained Verilog folder (``make verilog``).

``build(net, config, out, input_max)`` writes into ``out``:

    <top>.v                 the converted network top (MyHDL flattens the hierarchy)
    *.mem                   every ROM it reads ($readmemh, names without a folder)
    files.f                 the file list: ``iverilog -f files.f``
    verilator_waivers.vlt   the project's documented lint waivers:
                            ``verilator --lint-only -Wall verilator_waivers.vlt <top>.v``
    config.json             the (PE, SIMD) per layer, multipliers, predicted interval

Files are generated in a staging folder and moved into ``out`` only when all are written.
"""
from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

from myhdl import ResetSignal, Signal, intbv

from model.export import staged_folder
from model.preprocess import CAMERAS
from model.qnet import Network

from .. import fresh_names
from ..cnn import config as cfg
from ..cnn.argmax import index_bits
from ..cnn.network import accelerator, write_mems
from ..cnn.parallel import Parallel
from ..lib import memories
from ..lib.stream import Axis

WAIVERS = Path(__file__).resolve().parents[2] / "cosim" / "verilator_waivers.vlt"
SIM_MODELS = WAIVERS.parent  # behavioural models of vendor primitives (cosim/ecp5_sim.v)


def top_name(net: Network) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in net.name) + "_top"


def elaborate(net: Network, config: dict, paths: dict, requant_dsp_bits: int = 0):
    fresh_names()
    clk, rst = Signal(bool(0)), ResetSignal(0, active=1, isasync=False)
    s_axis = Axis(8)
    m_axis = Axis(index_bits(net.logits_layer.c_out), last=True)
    logit_valid, logit_data = Signal(bool(0)), Signal(intbv(0, min=-128, max=128))
    busy, done = Signal(bool(0)), Signal(bool(0))
    return accelerator(clk, rst, s_axis, m_axis, logit_valid, logit_data, busy, done, net=net,
                       config=config, paths=paths, requant_dsp_bits=requant_dsp_bits)


def check_dsp_bits(requant_dsp_bits: int) -> None:
    if requant_dsp_bits not in (0, 16):
        raise ValueError(f"requant_dsp_bits={requant_dsp_bits}: choose 0 (the requantizers' "
                         f"products in LUTs) or 16 (their low 16 bits in DSPs)")


def to_verilog(inst, folder, name: str, testbench: bool = False) -> Path:
    """Convert a MyHDL block instance to ``folder/name.v`` (and ``tb_name.v``).

    MyHDL's warnings go to ``folder/name.convert.log``. "Signal is driven but not read" is
    expected (the monitor outputs a board top leaves unconnected, which synthesis prunes) and
    stays in the log; any other warning is shown. ``CNN2FPGA_VERBOSE=1`` shows them all."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inst.convert(hdl="Verilog", path=str(folder), name=name, testbench=testbench)
    # MyHDL's header has the time of conversion: dropped, so that a conversion is the same
    # file byte for byte whenever it runs (hdl/__init__.py makes it so wherever it runs)
    for vfile in (folder / f"{name}.v", folder / f"tb_{name}.v"):
        if not vfile.is_file():
            continue
        text = vfile.read_text()
        vfile.write_text("".join(ln for ln in text.splitlines(keepends=True)
                                 if not ln.startswith("// Date:")))
    lines = [f"{w.category.__name__}: {w.message}" for w in caught]
    if lines:
        (folder / f"{name}.convert.log").write_text("\n".join(lines) + "\n")
    verbose = bool(os.environ.get("CNN2FPGA_VERBOSE"))
    for w in caught:
        if verbose or "driven but not read" not in str(w.message):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return folder / f"{name}.v"


def convert(inst, stage: Path, top: str) -> Path:
    """Convert ``inst`` to ``stage/<top>.v`` with the waivers and the file list beside it."""
    vfile = to_verilog(inst, stage, top)
    # MyHDL's header names the file with the folder it was written in: keep only the name
    lines = vfile.read_text().split("\n")
    lines = [f"// File: {top}.v" if ln.startswith("// File:") else ln for ln in lines]
    vfile.write_text("\n".join(lines))
    shutil.copy(WAIVERS, stage / WAIVERS.name)
    (stage / "files.f").write_text(f"{top}.v\n")
    return vfile


def layers_doc(config: dict) -> dict:
    """{layer: {"pe", "simd", "taps"}} for config.json."""
    return {name: dict(zip(("pe", "simd", "taps"), Parallel.of(par)))
            for name, par in config.items()}


def block_rams_doc(mems) -> dict:
    """{device: {owner: block RAMs}} of the memories an elaboration noted, for every device
    ``hdl.flow.fit`` knows (``memories.blocks``: Yosys' choice, estimated)."""
    from .fit import DEVICES, count

    return {key: count(mems, device) for key, device in DEVICES.items()}


def build(net: Network, config: dict, out, input_max: float, requant_dsp_bits: int = 0,
          input_offset: float = 0.0, notes: dict | None = None) -> Path:
    """``requant_dsp_bits``: how many low bits of each requantizer's product go to DSPs
    (``hdl.lib.softmul``; 0 = all LUTs, the default; 16 for the iCE40 UP5K). ``notes``: more
    keys for config.json (``make verilog`` records the model's hash and how the config was
    chosen, so the commands after it test the same design)."""
    config = cfg.validate(net, config)
    check_dsp_bits(requant_dsp_bits)
    out = Path(out)
    top = top_name(net)
    # the folder is regenerated whole: no stale ROM files from another config
    with staged_folder(out, replace_all=True) as stage:
        paths = write_mems(net, config, stage, input_max, input_offset)
        with memories.recording() as mems:
            inst = elaborate(net, config, paths, requant_dsp_bits)
        convert(inst, stage, top)
        doc = {"model": net.name, "top": top,
               "layers": layers_doc(config),
               "multipliers": cfg.multipliers(config),
               "requant_dsp_bits": requant_dsp_bits,
               "predicted_interval": cfg.interval(net, config),
               "block_rams": block_rams_doc(mems),
               "input_max": input_max, "input_offset": input_offset, **(notes or {})}
        (stage / "config.json").write_text(json.dumps(doc, indent=2) + "\n")
    return out / f"{top}.v"


CAMERA_NAMES = {size: name for name, size in CAMERAS.items()}


def _system_doc(net: Network, config: dict, geo, input_max: float, **head) -> dict:
    """config.json of a camera system or board top: ``head`` first, then what both share."""
    from ..camera.preprocess import normalise_cycles

    return {**head, "model": net.name, "frame": [geo.width, geo.height], "cnn_input": geo.n,
            "crop": geo.side, "factor": geo.factor, "radius": geo.radius,
            "threshold": geo.threshold,
            "layers": layers_doc(config),
            "multipliers": cfg.multipliers(config), "normalise_cycles": normalise_cycles(geo),
            "cnn_latency": cfg.latency(net, config), "cnn_interval": cfg.interval(net, config),
            "input_max": input_max}


def build_system(net: Network, config: dict, geo, out, input_max: float, *, clk_hz: float,
                 baud: float = 115200, requant_dsp_bits: int = 0,
                 input_offset: float = 0.0) -> Path:
    """The camera-to-digit system (``hdl.camera.camera_system``) into ``out``: camera_system.v, the
    CNN's ROM files, the file list, waivers and config.json."""
    from ..camera.camera_system import camera_system, port_signals

    config = cfg.validate(net, config)
    check_dsp_bits(requant_dsp_bits)
    out = Path(out)
    top = "camera_system"
    with staged_folder(out, replace_all=True) as stage:
        paths = write_mems(net, config, stage, input_max, input_offset)
        b = lambda: Signal(bool(0))  # noqa: E731
        fresh_names()
        inst = camera_system(b(), ResetSignal(0, active=1, isasync=False), b(), b(), b(),
                             Signal(intbv(0)[8:]), Signal(bool(1)), b(),
                             **port_signals(index_bits(net.logits_layer.c_out)), net=net,
                             config=config, paths=paths, geo=geo, clk_hz=clk_hz, baud=baud,
                             requant_dsp_bits=requant_dsp_bits)
        convert(inst, stage, top)
        doc = _system_doc(net, config, geo, input_max, top=top, clk_hz=clk_hz, baud=baud,
                          requant_dsp_bits=requant_dsp_bits)
        (stage / "config.json").write_text(json.dumps(doc, indent=2) + "\n")
    return out / f"{top}.v"


# the part the Vivado script names
VIVADO_PART = "xc7a35tcpg236-1"


def vendor_project(board, folder: Path) -> list[str]:
    """What the board's vendor tool needs besides the Verilog, the ROM files and the
    constraints, all in ``folder`` (every path relative to it, where ``$readmemh`` looks):
    the DE10-Lite's Quartus project ``de10lite.qpf`` (its ``de10lite.qsf`` gains the source
    file) and ``quartus_build.tcl`` (``quartus_sh -t quartus_build.tcl``); the Basys3's Vivado
    non-project script ``vivado_build.tcl`` (``vivado -mode batch -source vivado_build.tcl``).
    Returns the files written."""
    top = board.top
    if board.name == "de10lite":
        # project and revision "de10lite": de10lite.qpf opens de10lite.qsf, which names the top
        (folder / "de10lite.qpf").write_text(
            "# Quartus Prime Lite project: open it, or run quartus_sh --flow compile de10lite\n"
            'PROJECT_REVISION = "de10lite"\n')
        qsf = folder / "de10lite.qsf"
        qsf.write_text(qsf.read_text() + "\n# the design (written by make verilog BOARD=de10lite; "
                       "the $readmemh files sit beside it)\n"
                       f"set_global_assignment -name VERILOG_FILE {top}.v\n"
                       "set_global_assignment -name PROJECT_OUTPUT_DIRECTORY output_files\n")
        (folder / "quartus_build.tcl").write_text(
            "# quartus_sh -t quartus_build.tcl   (in this folder; the same as quartus_sh --flow "
            "compile de10lite):\n"
            "# output_files/de10lite.sof, which quartus_pgm -m jtag -o "
            "\"p;output_files/de10lite.sof\" writes to the board\n"
            "load_package flow\n"
            "project_open de10lite\n"
            "execute_flow -compile\n"
            "project_close\n")
        return ["de10lite.qpf", "quartus_build.tcl"]
    if board.name == "basys3":
        (folder / "vivado_build.tcl").write_text(
            "# vivado -mode batch -source vivado_build.tcl   (non-project mode): "
            f"{top}.bit in this folder\n"
            "cd [file dirname [file normalize [info script]]]\n"
            f"read_verilog {top}.v\n"
            "read_xdc basys3.xdc\n"
            "# the ROM contents: $readmemh names them without a folder, so Vivado finds them "
            "here\n"
            "foreach mem [lsort [glob *.mem]] { read_mem $mem }\n"
            f"synth_design -top {top} -part {VIVADO_PART}\n"
            "opt_design\nplace_design\nroute_design\n"
            "report_utilization -file utilization.rpt\n"
            "report_timing_summary -file timing.rpt\n"
            f"write_bitstream -force {top}.bit\n")
        return ["vivado_build.tcl"]
    return []


def build_board(board, net: Network, config: dict, geo, out, input_max: float,
                input_offset: float = 0.0) -> Path:
    """A board top (``hdl.board.boards``) into ``out``: board_<name>.v, the ROM files, the board's
    constraints files, files.f, waivers and config.json."""
    from ..board import boards

    camera = board.camera(geo)   # refuses a frame size the board cannot take, before any file
    config = cfg.validate(net, config)
    out = Path(out)
    with staged_folder(out, replace_all=True) as stage:
        paths = write_mems(net, config, stage, input_max, input_offset)
        fresh_names()
        inst = boards.TOPS[board.name](**boards.ports(board), net=net, config=config,
                                       paths=paths, geo=geo, clk_hz=board.sys_hz,
                                       baud=board.baud,
                                       requant_dsp_bits=board.requant_dsp_bits)
        convert(inst, stage, board.top)
        for path in board.constraint_paths:
            shutil.copy(path, stage / path.name)
        vendor_project(board, stage)
        for name in board.sim_models:  # for simulating the folder (not listed in files.f)
            shutil.copy(SIM_MODELS / name, stage / name)
        doc = _system_doc(net, config, geo, input_max, board=board.name, title=board.title,
                          top=board.top, constraints=list(board.constraints),
                          clk_hz=board.sys_hz, baud=board.baud,
                          requant_dsp_bits=board.requant_dsp_bits,
                          camera={"size": CAMERA_NAMES[(geo.width, geo.height)],
                                  "xclk_hz": board.xclk_hz, "pclk_hz": camera.pclk_hz,
                                  "frames_per_s": round(camera.fps, 3),
                                  "sys_clocks_per_frame": round(camera.sys_per_frame)})
        (stage / "config.json").write_text(json.dumps(doc, indent=2) + "\n")
    return out / f"{board.top}.v"
