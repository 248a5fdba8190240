"""Converting a MyHDL block and running the Verilog: Icarus (iverilog/vvp + MyHDL's VPI),
Verilator lint.

``myhdl.vpi`` is built by ``make setup`` into ``build/myhdl.vpi`` (or give ``MYHDL_VPI``).
All Verilator ``-Wall`` waivers live in one file, ``cosim/verilator_waivers.vlt``, each with its
reason.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WAIVERS = Path(__file__).resolve().parent / "verilator_waivers.vlt"


class ToolMissing(RuntimeError):
    pass


def vpi_path() -> Path:
    path = Path(os.environ.get("MYHDL_VPI", ROOT / "build" / "myhdl.vpi"))
    if not path.is_file():
        raise ToolMissing(f"{path} not found: run `make setup` (it builds myhdl.vpi)")
    return path


def tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise ToolMissing(f"{name} not found: run `make setup` (it installs the HDL tools)")
    return found


def verilator_env(jobs: int = 2) -> dict:
    """The environment for ``verilator --binary``'s make: ``jobs`` compilers, and ``ccache``
    in front of them when it is installed (``make setup`` installs it). Every build compiles
    Verilator's own runtime, the same few files each time: from the cache that takes 0.4 s
    where compiling took 5. The cache is ``build/ccache`` unless ``CCACHE_DIR`` is set."""
    env = {**os.environ}
    flags = f"-j{jobs}"
    if shutil.which("ccache"):
        flags += " OBJCACHE=ccache"
        env.setdefault("CCACHE_DIR", str(ROOT / "build" / "ccache"))
    env["MAKEFLAGS"] = flags
    return env


def convert(inst, folder: Path, name: str, testbench: bool = True) -> Path:
    """Convert a MyHDL block instance to ``folder/name.v`` (and ``tb_name.v``), with MyHDL's
    warnings handled as ``hdl.flow.build.to_verilog`` does."""
    from hdl.flow.build import to_verilog

    return to_verilog(inst, folder, name, testbench=testbench)


def iverilog(sources, out: Path) -> None:
    """Compile with ``iverilog -Wall``; raise with the compiler's words on any warning."""
    proc = subprocess.run([tool("iverilog"), "-Wall", "-o", str(out), *map(str, sources)],
                          capture_output=True, text=True)
    text = (proc.stdout + proc.stderr).strip()
    if proc.returncode or text:
        raise AssertionError(f"iverilog -Wall:\n{text}")


def verilator_lint(source: Path, top: str, models=()) -> None:
    """``verilator --lint-only -Wall`` with the project's waiver file; raise on any warning.
    ``models``: behavioural models of vendor primitives the top instantiates (read as
    libraries: only what the top uses of them is elaborated)."""
    libs = [arg for m in models for arg in ("-v", str(m))] + (["--timing"] if models else [])
    proc = subprocess.run([tool("verilator"), "--lint-only", "-Wall", str(WAIVERS), str(source),
                           *libs, "--top-module", top], capture_output=True, text=True,
                          cwd=Path(source).parent)
    text = (proc.stdout + proc.stderr).strip()
    if proc.returncode or text:
        raise AssertionError(f"verilator --lint-only -Wall:\n{text}")


def patch_harness(text: str) -> str:
    """Make MyHDL's generated ``tb_<name>.v`` report every DUT output from the start.

    The VPI module MyHDL ships sends an output to Python only when it changes (myhdl #444), so
    an output that holds its first value (a ``ready`` that is 1 from time 0) never arrives and
    Python keeps its own initial value. Each output is passed through a mirror register that
    starts as ``x`` and follows the DUT 0.1 ns later, so every output changes once right after
    the VPI has registered it. The clock period is 10 ns: the values settle long before an edge.
    Also adds the timescale the harness lacks.
    """
    import re

    if "_dut_out" in text:
        return text
    head, sep, inst = text.partition("initial begin")
    body, sep2, tail = inst.partition("end\n")
    outputs = re.findall(r"^wire (\[[^\]]*\] )?(\w+);$", head, flags=re.M)
    for width, sig in outputs:
        width = width or ""
        head = head.replace(f"wire {width}{sig};\n",
                            f"wire {width}{sig}_dut_out;\nreg {width}{sig} = 'bx;\n"
                            f"always @({sig}_dut_out) {sig} <= #0.1 {sig}_dut_out;\n")
        tail = re.sub(rf"\b{sig}\b", f"{sig}_dut_out", tail)
    text = head + sep + body + sep2 + tail
    return text if text.startswith("`timescale") else "`timescale 1ns/10ps\n" + text


def cosimulation(folder: Path, name: str, libraries=(), **ports):
    """A ``myhdl.Cosimulation`` of the converted ``name`` in ``folder`` (compiled here).

    ``$readmemh`` names files without a folder, so the simulator runs in ``folder``.
    ``libraries``: cell models a gate-level ``name.v`` instantiates, compiled beside it with
    the harness as the only root, and without ``-Wall``, since vendor cell libraries are not
    written to it.
    """
    from myhdl import Cosimulation

    folder = Path(folder)
    vvp = folder / f"{name}.vvp"
    tb = folder / f"tb_{name}.v"
    tb.write_text(patch_harness(tb.read_text()))
    if libraries:
        incs = [arg for lib in libraries for arg in ("-I", str(Path(lib).parent))]
        proc = subprocess.run([tool("iverilog"), "-g2012", "-s", f"tb_{name}", "-o", str(vvp),
                               *incs, *map(str, libraries),
                               str(folder / f"{name}.v"), str(tb)], capture_output=True,
                              text=True)
        if proc.returncode:
            raise AssertionError(f"iverilog:\n{(proc.stdout + proc.stderr).strip()}")
    else:
        iverilog([folder / f"{name}.v", tb], vvp)
    script = f'cd "{folder}" && exec "{tool("vvp")}" -n -m "{vpi_path()}" "{vvp.name}"'
    return Cosimulation(["sh", "-c", script], **ports)
