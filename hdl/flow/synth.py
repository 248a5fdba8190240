"""Yosys synthesis, nextpnr place and route and bitstream packing of converted designs.

The tools are the YoWASP builds from PyPI, pinned in pyproject.toml and installed into the
project's .venv by ``make setup`` (one Yosys for every target, and the nextpnr built against
it: a Debian nextpnr-ice40 0.4 cannot read Yosys 0.70 netlists). ``tool(name)`` finds them.
Their first run compiles the WebAssembly once (cached in ~/.cache/YoWASP; ``make setup`` does
it), then they run about half as fast as native builds.


``synthesize(verilog, top, target)`` runs Yosys in the Verilog's folder (``$readmemh`` names
files without a folder) and returns the cell counts of the mapped netlist, grouped into the
resources people compare parts by (``summary``). Targets:

``xilinx``  ``synth_xilinx -family xc7``: LUT6-based 7-series (Artix-7), DSP48E1, RAMB18E1/36E1
``ice40``   ``synth_ice40 -dsp -abc9``: iCE40 UltraPlus, SB_LUT4, SB_MAC16, SB_RAM40_4K (ABC9
            maps about 8 % fewer LUT4s than the default ABC on these designs); flip-flop
            enables and resets only where 8 or more share one (``ICE40_FFS``); then
            nextpnr-ice40 (UP5K, SG48) and icepack
``ecp5``    ``synth_ecp5 -abc9``: ECP5 LUT4, TRELLIS_FF, MULT18X18D, DP16KD; the registers
            around each multiplier moved into it and each systolic row's multipliers given
            neighbouring sites (``hdl.flow.ecp5_dsp``); then nextpnr-ecp5 (LFE5U-85F,
            CABGA381: the ULX3S part) and ecppack

The iCE40 has no LUT RAM: a memory Yosys leaves in logic costs a flip-flop per bit and a read
multiplexer, and Yosys leaves memories of a few words there. For ice40, every ``hdl.lib.ram``
memory (registered read, so block RAM can hold it) of at least ``BLOCK_MIN_BITS`` bits is
marked ``ram_style "block"`` before synthesis (``block_rams``); smaller ones stay in
flip-flops, where an EBR each would run out of EBRs.

Registers whose name ends in ``_dup`` are copies of one register, one per load, so each can
sit by the logic it drives (the systolic array's per-row operand registers). Yosys would
merge them back into one (same input, same clock); on ``ecp5`` they are marked ``keep`` first
(``DUPLICATES``), and each copy then becomes its multiplier's input register
(``hdl.flow.ecp5_dsp``, which moves registers into the MULT18X18D after synthesis). On ``xilinx``
they merge, and ``xilinx_dsp`` then copies the register into every DSP48E1 as its A register
(kept apart they would stay in the fabric: 648 more FDRE on a 9-lane, 8-row array). On the
UP5K, where logic cells are the scarce resource and far slower paths set the clock, they merge.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

# iCE40: a logic tile's 8 cells share one clock enable and one set/reset net. Yosys turns any
# logic it can into an enable or a synchronous reset, and on the camera top that made ~200
# enable/reset pairs, half of them used by one to seven flip-flops: about 780 cells of
# tiles could hold nothing else, and nextpnr's placer found no legal placement at 89 % of the
# cells. Between synth_ice40's steps, ``dfflegalize -mince 8 -minsrst 8`` keeps an enable or
# a reset only where at least 8 flip-flops share it (the rest go back into the LUTs): 95 pairs,
# ~240 cells lost to them, a few cells more in all, and it places.
ICE40_FFS = ("dfflegalize -cell $_DFF_?_ 0 -cell $_DFFE_?P_ 0 -cell $_DFF_?P?_ 0 "
             "-cell $_DFFE_?P?P_ 0 -cell $_SDFF_?P?_ 0 -cell $_SDFFCE_?P?P_ 0 "
             "-cell $_DLATCH_?_ x -mince 8 -minsrst 8")
TARGETS = {
    "xilinx": "synth_xilinx -family xc7 -top {top}",
    "ice40": ("synth_ice40 -dsp -abc9 -top {top} -run begin:map_ffs; " + ICE40_FFS
              + "; synth_ice40 -dsp -abc9 -top {top} -run map_ffs:"),
    "ecp5": "synth_ecp5 -abc9 -top {top}",
}
# the flip-flops that drive a *_dup wire, kept apart (see the module docstring)
DUPLICATES = "proc; setattr -set keep 1 w:*_dup %ci1:+[Q] w:*_dup %d"
DUPLICATE_TARGETS = ("ecp5",)
# the clock nextpnr aims for unless told otherwise (a board's constraints name its own)
# the clock nextpnr aims at by default: one aim per target, the same for synth, bitstream, sweep
# and bench (a board aims at its own system clock instead)
FREQ_MHZ = {"ice40": 24.0, "ecp5": 100.0, "xilinx": 50.0}
# targets with an open place and route: nextpnr's architecture, its part options, the packer
PNR = {
    "ice40": ("nextpnr-ice40", ["--up5k", "--package", "sg48"], "icepack", ".asc", ".bin"),
    "ecp5": ("nextpnr-ecp5", ["--85k", "--package", "CABGA381"], "ecppack", ".config", ".bit"),
}

# cell name prefix -> resource group
GROUPS = {
    "xilinx": [("LUT", "LUT"), ("FD", "FF"), ("DSP48E1", "DSP"), ("RAMB36E1", "RAMB36"),
               ("RAMB18E1", "RAMB18"), ("RAM", "LUTRAM"), ("SRL", "SRL"), ("CARRY4", "CARRY4"),
               ("MUXF", "MUXF")],
    "ice40": [("SB_LUT4", "LUT4"), ("SB_DFF", "FF"), ("SB_MAC16", "DSP"),
              ("SB_RAM40_4K", "EBR"), ("SB_SPRAM256KA", "SPRAM"), ("SB_CARRY", "CARRY")],
    "ecp5": [("LUT4", "LUT4"), ("TRELLIS_FF", "FF"), ("MULT18X18D", "MULT18X18D"),
             ("ALU54B", "ALU54B"), ("DP16KD", "DP16KD"), ("TRELLIS_DPR16X4", "LUTRAM"),
             ("CCU2C", "CCU2C"), ("PFUMX", "MUX"), ("L6MUX21", "MUX")],
}


# the parts the targets are for, and what they hold (vendor data sheets)
DEVICES = {
    "xilinx": ("Artix-7 XC7A35T (Basys3, Arty A7-35)",
               {"LUT": 20_800, "FF": 41_600, "DSP": 90, "RAMB36": 50}),
    "ice40": ("iCE40 UP5K (iCEBreaker)",
              {"LUT4": 5_280, "FF": 5_280, "DSP": 8, "EBR": 30, "SPRAM": 4}),
    "ecp5": ("ECP5 LFE5U-85F (ULX3S)",
             {"LUT4": 83_640, "FF": 83_640, "MULT18X18D": 156, "DP16KD": 208}),
}


BLOCK_MIN_BITS = 64
# hdl.lib.ram's memory as MyHDL declares it: <instance path>_ram<k>_mem
RAM_DECL = re.compile(r"^reg (?:signed )?\[(\d+):0\] (\w*ram\d+_mem) \[0:(\d+)-1\];", re.M)


def block_rams(text: str, min_bits: int = BLOCK_MIN_BITS) -> list[str]:
    """The ``hdl.lib.ram`` memories of converted Verilog ``text`` with at least ``min_bits`` bits."""
    return [name for width, name, depth in RAM_DECL.findall(text)
            if (int(width) + 1) * int(depth) >= min_bits]


def fit(groups: dict, target: str) -> list[tuple[str, int, int]]:
    """(resource, used, capacity) for the target's device; two RAMB18 count as one RAMB36."""
    _, caps = DEVICES[target]
    used = dict(groups)
    if "RAMB36" in caps:
        used["RAMB36"] = used.get("RAMB36", 0) + (used.get("RAMB18", 0) + 1) // 2
    return [(name, used.get(name, 0), cap) for name, cap in caps.items()]


class SynthError(RuntimeError):
    pass


def tool(name: str) -> str:
    """The YoWASP build of ``name`` (yosys, nextpnr-ice40, nextpnr-ecp5, icepack, ecppack):
    beside this Python (the project's .venv), else on PATH."""
    exe = f"yowasp-{name}"
    here = Path(sys.executable).parent / exe
    found = str(here) if here.is_file() else shutil.which(exe)
    if not found:
        raise SynthError(f"{exe} not found: run `make setup` (it installs the pinned FPGA tools "
                         f"from PyPI into .venv)")
    return found


def yosys() -> str:
    return tool("yosys")


def version() -> str:
    proc = subprocess.run([yosys(), "-V"], capture_output=True, text=True)
    return proc.stdout.strip().split(" (")[0]


def rel(path, cwd) -> str:
    """``path`` relative to ``cwd``: the YoWASP tools mount a temporary folder of their own at
    /tmp, so an absolute host path under /tmp is invisible to them; a relative one is not."""
    return os.path.relpath(Path(path).resolve(), Path(cwd).resolve())


def echo(text: str) -> None:
    """A tool's whole output on stderr, with -v (``CNN2FPGA_VERBOSE=1``); it is always in the
    build folder's log."""
    if os.environ.get("CNN2FPGA_VERBOSE") and text.strip():
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
        sys.stderr.flush()


def script_path(verilog: Path, target: str) -> Path:
    """The Yosys script ``synthesize`` writes beside the Verilog, one command a line."""
    return Path(verilog).resolve().with_suffix(f".{target}.ys")


def synthesize(verilog: Path, top: str, target: str = "xilinx", log: Path | None = None,
               netlist: Path | None = None) -> dict:
    """Synthesize ``verilog`` (module ``top``) for ``target``; return {"cells": {...},
    "seconds": ...}; with ``netlist``, also write the mapped design as JSON there (what
    nextpnr reads). Raises SynthError with Yosys' last lines if it fails."""
    if target not in TARGETS:
        raise ValueError(f"target {target!r}: choose one of {', '.join(TARGETS)}")
    verilog = Path(verilog).resolve()
    stat = verilog.with_suffix(f".{target}.stat.json")
    commands = [f"read_verilog {verilog.name}"]
    blocks = block_rams(verilog.read_text()) if target == "ice40" else []
    if blocks:
        commands.append("setattr -set ram_style \"block\" " + " ".join(f"m:{b}" for b in blocks))
    if target in DUPLICATE_TARGETS:
        commands += DUPLICATES.split("; ")
    commands += [c.strip() for c in TARGETS[target].format(top=top).split(";")]
    commands.append(f"tee -q -o {stat.name} stat -json")
    if netlist is not None:
        commands.append(f"write_json {rel(netlist, verilog.parent)}")
    script = script_path(verilog, target)
    script.write_text("\n".join(commands) + "\n")
    start = time.monotonic()
    proc = subprocess.run([yosys(), "-q", "-s", script.name], cwd=verilog.parent,
                          capture_output=True, text=True)
    if log is not None:
        Path(log).write_text(proc.stdout + proc.stderr)
    echo(proc.stdout + proc.stderr)
    if proc.returncode:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        raise SynthError(f"yosys failed on {verilog.name} ({target}):\n{tail}")
    data = json.loads(stat.read_text())
    cells = data["design"]["num_cells_by_type"]
    return {"cells": dict(sorted(cells.items())), "seconds": time.monotonic() - start}


def cascades(netlist: Path) -> int:
    """DSP48E1 cells whose PCIN is driven by another DSP's PCOUT in a Yosys JSON netlist (the
    multiply-add chains ``xilinx_dsp`` packs into cascades; constant bits are strings, nets
    are numbers)."""
    modules = json.loads(Path(netlist).read_text())["modules"].values()
    return sum(1 for module in modules for cell in module["cells"].values()
               if cell["type"] == "DSP48E1"
               and any(isinstance(bit, int) for bit in cell["connections"].get("PCIN", [])))


def summary(cells: dict, target: str) -> dict:
    """Cell counts grouped into resources (LUT, FF, DSP, block RAM, ...)."""
    out = {group: 0 for _, group in GROUPS[target]}
    out["other"] = 0
    for name, count in cells.items():
        for prefix, group in GROUPS[target]:
            if name.startswith(prefix):
                out[group] += count
                break
        else:
            out["other"] += count  # I/O buffers, clock buffer, inverters
    return {group: count for group, count in out.items() if count}


def nextpnr(target: str = "ice40") -> str:
    return tool(PNR[target][0])


LEGALISE_FAILED = "Unable to find legal placement"
# router2 on an unconstrained clock pin, at some placer seeds: no route from the pin to the
# global clock network (digits_cnn 1x1 on the ECP5-85F at seed 1)
CLOCK_ROUTE_FAILED = "Failed to route arc 0.0 of net 'clk"
# router2 whose overused wires stop falling: it does not give up by itself (the digits_cnn
# up5k bench build at dba2089, seed 3: 2 wires overused from one pass to pass 51,000, 16
# minutes, and on); ``run_nextpnr`` stops it after ``ROUTER_STUCK_PASSES`` passes without a
# new low, and another seed is tried (``retry_seed``)
ROUTER_STUCK = "router2 made no progress"
ROUTER_STUCK_PASSES = 2000
ROUTER2_PASS = re.compile(r"Info:\s+iter=(\d+) wires=\d+ overused=(\d+)")
RETRY = (LEGALISE_FAILED, CLOCK_ROUTE_FAILED, ROUTER_STUCK)
ROUTERS = ("router1", "router2")  # nextpnr's --router; router1 is nextpnr's own default
# ours: router2 routed the mnist_cnn ECP5 build in 3 minutes where router1 took over 30
DEFAULT_ROUTER = "router2"
PLACE_TRIES = 3
# a seed that cannot place or route is retried at seed + RETRY_STRIDE (then + 2 x): outside the
# seeds a sweep or bench asks for (1 2 3 retries at 101, 102, 103), so a retry never repeats a
# run of another seed and the seeds reported stay distinct
RETRY_STRIDE = 100


def retry_seed(seed: int, attempt: int) -> int:
    """The placer seed of ``attempt`` (0: the seed asked for)."""
    return seed + RETRY_STRIDE * attempt


def place_and_route(netlist: Path, asc: Path, *, pcf: Path | None = None, freq_mhz: float = 24,
                    seed: int = 1, log: Path | None = None, tries: int = PLACE_TRIES,
                    target: str = "ice40", progress: bool = True,
                    router: str = "router1") -> dict:
    """nextpnr on a Yosys JSON netlist: ice40 --up5k (SG48, the iCEBreaker's package), or
    ecp5 --85k (CABGA381, the ULX3S part). ``asc``: the routed design (.asc, or the ECP5's
    textual .config); ``pcf``: the pin constraints (.pcf, or the ECP5's .lpf).

    Returns {"fmax_mhz", "target_mhz", "met", "clocks", "clock_targets", "missed", "lc":
    (used, total), "utilisation", "critical_path", "seed", "seconds"}: each clock's fmax after
    routing (nextpnr's own timing analysis) against its own constraint (the .pcf/.lpf
    frequency, a PLL output's derived one, else ``freq_mhz``). A design that routes but misses
    a clock still returns (``met`` False, ``missed`` {clock: (fmax, needed)}); a design that does not fit or route raises SynthError with nextpnr's
    reason. Near the UP5K's capacity (the camera top, ~92 % of its logic cells) the analytic
    placer's legaliser may find no legal spot for the last cells from one start; then
    other seeds are tried (``retry_seed``), up to ``tries`` in all, and ``seed`` reports the one
    that placed;
    the same when router2 finds no route from the clock pin to the global clock network, or
    stops making progress (``ROUTER_STUCK``).
    ``progress``: say on stderr what nextpnr is doing (``run_nextpnr``); ``router``: nextpnr's
    router (``ROUTERS``)."""
    if router not in ROUTERS:
        raise ValueError(f"router {router!r}: nextpnr has {', '.join(ROUTERS)}")
    start = time.monotonic()
    for attempt in range(tries):
        Path(asc).unlink(missing_ok=True)
        exe, part, _, _, _ = PNR[target]
        here = Path(netlist).resolve().parent
        cmd = [nextpnr(target), *part, "--json", rel(netlist, here),
               "--asc" if target == "ice40" else "--textcfg", rel(asc, here),
               "--freq", str(freq_mhz), "--seed", str(retry_seed(seed, attempt)),
               "--timing-allow-fail",
               "--router", router]
        if pcf:
            cmd += ["--pcf" if target == "ice40" else "--lpf", rel(pcf, here)]
        returncode, text = run_nextpnr(cmd, here, log, label=f"{exe} {Path(netlist).stem}",
                                       progress=progress)
        if not any(why in text for why in RETRY):
            break
    found = re.findall(r"Max frequency for clock\s+'([^']*)': ([0-9.]+) MHz"
                       r"(?: \((?:PASS|FAIL) at ([0-9.]+) MHz\))?", text)
    clocks = {name: float(mhz) for name, mhz, _ in found}
    targets = {name: float(at) if at else freq_mhz for name, _, at in found}
    fmax = list(clocks.values())
    used = utilisation(text)
    lc = used.get("ICESTORM_LC") or used.get("TRELLIS_COMB")
    if not fmax or not Path(asc).is_file() or lc is None or returncode:
        tail = "\n".join(line for line in text.strip().splitlines() if "ERROR" in line)
        tried = (f" (seeds {', '.join(str(retry_seed(seed, a)) for a in range(attempt + 1))})"
                 if attempt else "")
        raise SynthError(f"{exe} failed on {Path(netlist).name}{tried}:\n"
                         f"{tail or text.strip().splitlines()[-1]}")
    # nextpnr prints each clock's figure after placement and again after routing: the last
    # one per clock (the dict keeps it) is the routed design's
    missed = {name: (clocks[name], targets[name]) for name in clocks
              if clocks[name] < targets[name]}
    return {"fmax_mhz": min(fmax), "target_mhz": freq_mhz, "met": not missed,
            "clocks": clocks, "clock_targets": targets, "missed": missed, "lc": lc,
            "utilisation": used, "critical_path": critical_path(text), "seed": retry_seed(seed, attempt),
            "router": router, "seconds": time.monotonic() - start}


# what nextpnr's log says it is doing: (pattern, what to show; {0} is the pattern's group)
PNR_PHASES = [
    (re.compile(r"Info: Packing"), "packing"),
    (re.compile(r"Info: Creating initial analytic placement"), "placing"),
    (re.compile(r"Info: Running simulated annealing placer"), "placing (refinement)"),
    (re.compile(r"Info: Routing (\d+) arcs"), "routing {0} arcs"),
    (re.compile(r"Info:\s+\d+ \|.*\|\s*(\d+)\|\s*[0-9.]+\s+[0-9.]+\|"),
     "routing: {0} arcs left"),
    (re.compile(r"Info:\s+iter=(\d+) wires=\d+ overused=(\d+)"),  # router2
     "routing: pass {0}, {1} wires overused"),
    (re.compile(r"Info: Routing complete"), "timing analysis"),
]


PNR_QUIET_MINUTES = 5


def pnr_phase(line: str) -> str | None:
    """What a line of nextpnr's log says it is now doing, or None."""
    for pattern, say in PNR_PHASES:
        found = pattern.search(line)
        if found:
            return say.format(*(f"{int(g):,}" for g in found.groups()))
    return None


def run_nextpnr(cmd: list, cwd: Path, log: Path | None, *, label: str,
                progress: bool = True) -> tuple[int, str]:
    """Run nextpnr, its output line by line into ``log`` as it comes (``tail -f`` it: a large
    design can take an hour), and, with ``progress``, what it is doing on stderr: one line
    rewritten in place on a terminal, else a line when the phase changes (packing, placing,
    routing, timing analysis) and every ``PNR_QUIET_MINUTES`` within one. router2 is stopped
    when ``ROUTER_STUCK_PASSES`` passes bring no fewer overused wires than its best, and the
    output then ends with an ``ERROR: router2 made no progress`` line. Returns (exit status,
    the whole output)."""
    start = time.monotonic()
    tty = sys.stderr.isatty()
    lines, shown, step, said = [], None, None, 0.0
    best, best_at = None, 0  # router2's fewest overused wires, and its pass
    sink = open(log, "w") if log is not None else None
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, cwd=cwd)
        for line in proc.stdout:
            lines.append(line)
            if sink:
                sink.write(line)
                sink.flush()
            echo(line)
            passed = ROUTER2_PASS.search(line)
            if passed:
                at, over = int(passed.group(1)), int(passed.group(2))
                if best is None or over < best:
                    best, best_at = over, at
                elif at - best_at >= ROUTER_STUCK_PASSES:
                    proc.kill()
                    stop = (f"ERROR: {ROUTER_STUCK}: {best} wire(s) overused since pass "
                            f"{best_at:,}, still at pass {at:,}; stopped\n")
                    lines.append(stop)
                    if sink:
                        sink.write(stop)
                    echo(stop)
                    break
            phase = pnr_phase(line) if progress else None
            if phase is None:
                continue
            minutes = (time.monotonic() - start) / 60
            if tty and not os.environ.get("CNN2FPGA_VERBOSE"):
                sys.stderr.write(f"\r\033[K{label}: {phase} ({minutes:.0f} min)")
                sys.stderr.flush()
                shown = phase
            elif phase.split()[0].rstrip(":") != step or minutes >= said + PNR_QUIET_MINUTES:
                step, said = phase.split()[0].rstrip(":"), minutes
                sys.stderr.write(f"{label}: {phase} (at {minutes:.0f} min)\n")
                sys.stderr.flush()
        returncode = proc.wait()
    finally:
        if sink:
            sink.close()
        if shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
    return returncode, "".join(lines)


def utilisation(text: str) -> dict:
    """nextpnr's device utilisation (the last report, after routing): {bel type: (used,
    available)}."""
    found = {}
    for name, used, total in re.findall(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)", text):
        found[name] = (int(used), int(total))
    return found


def critical_path(text: str) -> list[str]:
    """The routed design's slowest path as nextpnr reports it (its last critical path
    report): one line a step, "<ns> <ns total> <what> <where>"."""
    blocks = re.split(r"Info: Critical path report for clock '[^']*' \(posedge -> posedge\):",
                      text)
    if len(blocks) < 2:
        return []
    lines = []
    for line in blocks[-1].splitlines()[1:]:
        line = line.removeprefix("Info:").strip()
        if not line or line.startswith(("Critical path", "Max frequency", "Slack histogram")):
            break
        # the steps (clk-to-q, routing, logic, setup) with their sinks, and the summary; not
        # the column header or the HDL source locations nextpnr adds
        if re.match(r"(clk-to-q|routing|logic|setup|Sink)\b", line) or "ns logic" in line:
            lines.append(line)
    return lines


def pack(routed: Path, out: Path, target: str = "ice40") -> Path:
    """The bitstream: icepack (an iCE40 .bin, ``make prog`` writes it) or ecppack (an ECP5 .bit,
    ``openFPGALoader -b ulx3s`` it)."""
    packer = PNR[target][2]
    here = Path(routed).resolve().parent
    proc = subprocess.run([tool(packer), rel(routed, here), rel(out, here)], capture_output=True,
                          text=True, cwd=here)
    echo(proc.stdout + proc.stderr)
    if proc.returncode:
        raise SynthError(f"{packer} failed on {Path(routed).name}: {proc.stderr.strip()}")
    return Path(out)


def icepack(asc: Path, out: Path) -> Path:
    return pack(asc, out, "ice40")


def nextpnr_version(target: str = "ice40") -> str:
    proc = subprocess.run([nextpnr(target), "--version"], capture_output=True, text=True)
    text = (proc.stdout + proc.stderr).strip()
    found = re.search(r"\(Version ([^)]*)\)", text)
    return f"{PNR[target][0]} {found.group(1)}" if found else text.splitlines()[0]


def source_commit() -> str:
    """The commit the sources are at (``git describe --always --dirty``: "-dirty" when the
    checkout has changes), or "unknown" outside a git checkout: every place-and-route result
    names it, so a figure can be reproduced from its commit."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    try:
        proc = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=7"],
                              cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else "unknown"


def run_flow(top: Path, target: str, out: Path, *, freq_mhz: float = 24.0, seed: int = 1,
             bitstream: bool = False, pcf: Path | None = None, timing_seeds: int = 1,
             dsp_registers: bool = True, progress: bool = True,
             router: str = DEFAULT_ROUTER, dsp_sites: bool = True) -> dict:
    """The open flow on a converted top (``hdl.flow.build``'s ``.v``), everything into ``out``:
    Yosys; for ice40 and ecp5, when the design fits the device, nextpnr and (``bitstream``)
    the packer. Returns what ``make synth`` and the bench report: device, tool versions, the
    resource groups, ``fit`` ({resource: {"used", "capacity"}}), the cells, ``over`` (the
    resources beyond the device), ``pnr`` (None unless placed) and ``bitstream`` (a file
    name or None). ``pcf``: the pin constraints (a board top; nextpnr then refuses any top
    port the file does not place). ``timing_seeds``: placer seeds to try, one after another,
    until every clock meets its constraint (the last result is kept when none does).
    ``dsp_registers`` (ecp5): move the registers around each MULT18X18D into it
    (``hdl.flow.ecp5_dsp``) before nextpnr; the flip-flop count is then what is left in the
    fabric, and ``dsp_registers`` in the result says how many moved; with it, ``dsp_sites``
    gives each systolic row's multipliers neighbouring sites (``ecp5_dsp.place``; the count
    in ``dsp_registers["placed"]``). ``progress``: nextpnr's phase on stderr as it runs;
    ``router``: nextpnr's router."""
    top, out = Path(top), Path(out)
    routed = target in PNR
    netlist = out / f"{top.stem}.json" if routed else None
    result = synthesize(top, top.stem, target, log=out / f"{target}.log", netlist=netlist)
    moved = None
    if target == "ecp5" and dsp_registers:
        from . import ecp5_dsp

        moved = ecp5_dsp.absorb(netlist)
        if dsp_sites:
            moved["placed"] = ecp5_dsp.place(netlist)
        cells = result["cells"]
        cells["TRELLIS_FF"] = cells.get("TRELLIS_FF", 0) - moved["flip_flops"]
    groups = summary(result["cells"], target)
    device, _ = DEVICES[target]
    rows = fit(groups, target)
    doc = {"commit": source_commit(), "target": target, "device": device, "yosys": version(),
           "resources": groups,
           "fit": {name: {"used": used, "capacity": cap} for name, used, cap in rows},
           "over": [name for name, used, cap in rows if used > cap], "cells": result["cells"],
           "yosys_seconds": result["seconds"], "dsp_registers": moved, "pnr": None,
           "bitstream": None}
    if routed and not doc["over"]:
        _, _, _, routed_ext, bit_ext = PNR[target]
        asc = out / f"{top.stem}{routed_ext}"
        for attempt in range(max(1, timing_seeds)):
            pnr = place_and_route(netlist, asc, freq_mhz=freq_mhz, seed=seed, pcf=pcf,
                                  log=out / "nextpnr.log", target=target, progress=progress,
                                  router=router)
            if pnr["met"]:
                break
            seed = pnr["seed"] + 1
        doc["pnr"] = {**pnr, "nextpnr": nextpnr_version(target)}
        if bitstream:
            doc["bitstream"] = pack(asc, out / f"{top.stem}{bit_ext}", target).name
    return doc
