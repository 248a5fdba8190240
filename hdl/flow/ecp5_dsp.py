"""Registers into the ECP5 multipliers: a pass on the Yosys JSON netlist before nextpnr-ecp5.

Yosys' ``synth_ecp5`` maps every multiply to a MULT18X18D with all its registers off, and
leaves the registers around it in the fabric (it has no pass that moves them in, as
``xilinx_dsp`` does for the DSP48E1). The systolic array's stage is exactly what the
MULT18X18D can hold inside::

    fabric before:   [xz_dup] --route--> A ─┐
                     [w]      --route--> B ─┴ (x) MULT18X18D --route--> [p] --> (+)
    after:           A -> [input A] ─┐
                     B -> [input B] ─┴ (x) -> [pipeline] = MULT18X18D --> (+)

so the multiplier's delay and both routes into and out of the DSP column leave the clock
period: the clock holds only the route to the DSP's input registers, or the pipeline
register's clock-to-out and the add.

``absorb(netlist)`` rewrites the netlist in place. For each MULT18X18D:

* **input A, input B:** when every pin of the port not tied to a constant is driven by a
  TRELLIS_FF, the pins take the flip-flops' D inputs, with ``REG_INPUTx_CLK`` set: the DSP's
  register is a copy of them. A flip-flop whose every load became such a copy is removed; one
  that also drives other logic (Yosys merges a weight bit with an address bit that is the same
  function of the clock) stays for it. A pin tied to a constant stays tied: in the register it
  holds the constant from the first enabled clock on, before any product is used. A port tied
  to constants only (a weight that is a single number) takes the other port's register, so
  that both inputs are registered, which is when nextpnr times the multiplier as registered;
* **pipeline:** when every product bit that drives anything drives exactly one TRELLIS_FF
  and nothing else, those flip-flops are removed and the product pins drive their outputs,
  with ``REG_PIPELINE_CLK`` set.

A flip-flop qualifies only as a plain enabled register: rising clock (``CLKMUX "CLK"``), an
active-high enable or none (``CEMUX "CE"`` or ``"1"``), its set/reset input tied to 0 and no
global reset (``GSR "DISABLED"``): what the DSP's register does with its CE pin and RST tied
low. The registers of one multiplier take one of the DSP's four clock/enable pairs per
distinct (clock, enable) nets, in order. Anything else stays as it is, so the pass only moves
registers, never changes what is computed (the gate-level simulation of a converted array
in ``tests/hdl/flow/test_ecp5_dsp.py`` checks it against the RTL, with the MULT18X18D model
in ``cosim/ecp5_dsp_sim.v``).
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

PORTS = {"A": "INPUTA", "B": "INPUTB"}
WIDTH = 18  # A0..A17, B0..B17
PRODUCT = 36  # P0..P35


def _params(cell: dict) -> dict:
    """A cell's string parameters, without the padding Yosys gives wide ones (CEMUX "1 ")."""
    return {k: v.strip() if isinstance(v, str) else v for k, v in cell["parameters"].items()}


def _plain(ff: dict) -> bool:
    """A register the DSP can hold: rising clock, active-high or no enable, no reset."""
    par, con = _params(ff), ff["connections"]
    # absent parameters take the defaults of the cell (Yosys' ecp5 cells_sim)
    return (par.get("CLKMUX", "CLK") == "CLK" and par.get("CEMUX", "1") in ("CE", "1")
            and par.get("GSR", "ENABLED") == "DISABLED" and par.get("LSRMODE", "LSR") == "LSR"
            and con.get("LSR", ["0"]) == ["0"] and par.get("LSRMUX", "LSR") == "LSR")


def _domain(ff: dict) -> tuple:
    """(clock bit, enable bit) of a flip-flop; the enable is '1' when it has none."""
    con = ff["connections"]
    ce = "1" if _params(ff).get("CEMUX", "1") == "1" else con.get("CE", ["1"])[0]
    return con["CLK"][0], ce


def absorb(netlist: Path) -> dict:
    """Move the registers around every MULT18X18D of ``netlist`` into it (the module
    docstring says which). Returns {"multipliers", "inputs", "pipelines", "flip_flops"}:
    the multipliers seen, the input ports and pipeline registers moved in, and the
    flip-flops removed."""
    netlist = Path(netlist)
    design = json.loads(netlist.read_text())
    stats = {"multipliers": 0, "inputs": 0, "pipelines": 0, "flip_flops": 0}
    for module in design["modules"].values():
        _absorb_module(module, stats)
    netlist.write_text(json.dumps(design))
    return stats


def _absorb_module(module: dict, stats: dict) -> None:
    cells = module["cells"]
    drivers, loads = {}, defaultdict(list)  # net bit -> (cell, port); -> [(cell, port)]
    for name, cell in cells.items():
        dirs = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            for bit in bits:
                if isinstance(bit, str):
                    continue
                if dirs.get(port) == "output":
                    drivers[bit] = (name, port)
                else:
                    loads[bit].append((name, port))
    for port in module.get("ports", {}).values():  # a top port is a load nothing may take
        for bit in port["bits"]:
            if not isinstance(bit, str):
                loads[bit].append((None, port["direction"]))
    removed = set()
    taken = defaultdict(set)  # flip-flop -> the multiplier pins that now hold a copy of it

    def register_of(bit):
        """The plain TRELLIS_FF driving ``bit``, or None."""
        if isinstance(bit, str) or bit not in drivers:
            return None
        name, port = drivers[bit]
        cell = cells[name]
        if cell["type"] != "TRELLIS_FF" or port != "Q" or name in removed or not _plain(cell):
            return None
        return name

    for mname, mult in list(cells.items()):
        if mult["type"] != "MULT18X18D":
            continue
        stats["multipliers"] += 1
        con = mult["connections"]
        par = mult.setdefault("parameters", {})
        domains: list[tuple] = []

        def pair(domain) -> int | None:
            if domain not in domains:
                if len(domains) == 4:
                    return None
                domains.append(domain)
            return domains.index(domain)

        for letter, reg in PORTS.items():
            if par.get(f"REG_{reg}_CLK", "NONE") != "NONE":  # registered already
                continue
            # a pin tied to a constant needs no register (Yosys ties a weight bit that is the
            # same in every word of a ROM); in the DSP's register it holds the constant from
            # the first enabled clock on, before any product is used
            pins = [f"{letter}{i}" for i in range(WIDTH)
                    if not isinstance(con.get(f"{letter}{i}", ["0"])[0], str)]
            ffs = [register_of(con[p][0]) for p in pins]
            if not pins or any(ff is None for ff in ffs):
                continue
            if len({_domain(cells[ff]) for ff in ffs}) != 1:
                continue
            index = pair(_domain(cells[ffs[0]]))
            if index is None:
                continue
            for p, ff in zip(pins, ffs):
                con[p] = [cells[ff]["connections"]["DI"][0]]
                taken[ff].add((mname, p))
            _clock(mult, par, reg, index, _domain(cells[ffs[0]]))
            stats["inputs"] += 1
            for ff in set(ffs):  # a flip-flop that also drives other logic stays for it
                if taken[ff] >= set(loads[cells[ff]["connections"]["Q"][0]]):
                    removed.add(ff)
                    stats["flip_flops"] += 1

        # a port tied to constants only (a weight that is one number) takes the other port's
        # register too: nextpnr times the multiplier as registered only when both inputs are
        for letter, reg in PORTS.items():
            other = f"REG_{PORTS['B' if letter == 'A' else 'A']}"
            if (par.get(f"REG_{reg}_CLK", "NONE") == "NONE"
                    and par.get(f"{other}_CLK", "NONE") != "NONE"
                    and all(isinstance(con.get(f"{letter}{i}", ["0"])[0], str)
                            for i in range(WIDTH))):
                for key in ("CLK", "CE", "RST"):
                    par[f"REG_{reg}_{key}"] = par[f"{other}_{key}"]
                stats["inputs"] += 1

        if par.get("REG_PIPELINE_CLK", "NONE") != "NONE" or par.get("REG_OUTPUT_CLK",
                                                                     "NONE") != "NONE":
            continue
        used = [f"P{i}" for i in range(PRODUCT)
                if f"P{i}" in con and not isinstance(con[f"P{i}"][0], str)
                and loads[con[f"P{i}"][0]]]
        outs = []
        for p in used:
            sinks = loads[con[p][0]]
            name = sinks[0][0] if len(sinks) == 1 else None
            ok = (name is not None and sinks[0][1] == "DI" and cells[name]["type"] == "TRELLIS_FF"
                  and name not in removed and name not in taken and _plain(cells[name]))
            outs.append(name if ok else None)
        if used and all(outs) and len({_domain(cells[ff]) for ff in outs}) == 1:
            index = pair(_domain(cells[outs[0]]))
            if index is not None:
                for p, ff in zip(used, outs):
                    con[p] = [cells[ff]["connections"]["Q"][0]]
                _clock(mult, par, "PIPELINE", index, _domain(cells[outs[0]]))
                removed.update(outs)
                stats["pipelines"] += 1
                stats["flip_flops"] += len(outs)
    for name in removed:
        del cells[name]


def _clock(mult: dict, par: dict, reg: str, index: int, domain: tuple) -> None:
    """Clock register ``reg`` (INPUTA, INPUTB, PIPELINE) of ``mult`` from pair ``index``."""
    clk, ce = domain
    con, dirs = mult["connections"], mult.setdefault("port_directions", {})
    for pin, bit in ((f"CLK{index}", clk), (f"CE{index}", ce), (f"RST{index}", "0")):
        con[pin] = [bit]
        dirs[pin] = "input"
    par[f"REG_{reg}_CLK"] = f"CLK{index}"
    par[f"REG_{reg}_CE"] = f"CE{index}"
    par[f"REG_{reg}_RST"] = f"RST{index}"
    par["GSR"] = "DISABLED"


# Yosys' ECP5 simulation models of the fabric cells (LUT4, PFUMX, L6MUX21, TRELLIS_FF, CCU2C,
# distributed RAM): cells_sim.v itself also defines DP16KD, but includes these files twice
# in the YoWASP build, so neither Yosys nor Icarus reads it whole.
FABRIC_MODELS = ("+/ecp5/common_sim.vh", "+/ecp5/ccu2c_sim.vh")
DSP_MODEL = Path(__file__).resolve().parents[2] / "cosim" / "ecp5_dsp_sim.v"


def gate_level(netlist: Path, top: str, out: Path) -> Path:
    """``out``: the mapped ``netlist`` (module ``top``) as plain Verilog for simulation, the
    fabric cells' models flattened into it; the MULT18X18D cells stay instances, for
    ``DSP_MODEL``. The design may not use block RAM (no DP16KD model)."""
    from . import synth as ys

    netlist, out = Path(netlist), Path(out)
    design = json.loads(netlist.read_text())
    only = out.with_suffix(".top.json")  # the top alone: the other modules are Yosys' boxes
    only.write_text(json.dumps({**design, "modules": {top: design["modules"][top]}}))
    here = out.parent
    script = (f"read_verilog {' '.join(FABRIC_MODELS)}; read_json {ys.rel(only, here)}; "
              f"hierarchy -top {top}; proc; flatten; opt_clean; "
              f"write_verilog -noattr {ys.rel(out, here)}")
    proc = ys.subprocess.run([ys.yosys(), "-q", "-p", script], cwd=here, capture_output=True,
                             text=True)
    if proc.returncode:
        raise ys.SynthError(f"yosys could not write the gate-level netlist:\n{proc.stderr}")
    return out


# The MULT18X18D sites of the LFE5U-85F, as nextpnr-ecp5 names them (``X<col>/Y<row>/<bel>``):
# three rows of 52 (Y 10, 34 and 58), in column pairs; read from nextpnr's placement of 156
# multipliers. A pair's two sites are MULT18_0/1 or MULT18_4/5, alternating along the row.
SITE_ROWS = (34, 10, 58)  # the middle row first
SITE_COLUMNS = (4, 8, 13, 17, 22, 26, 31, 35, 40, 44, 49, 53, 58, 62, 69, 73, 78, 82, 87, 91,
                96, 100, 105, 109, 114, 118)
# a stage's product register; MyHDL adds "_0" to a name another signal already has, and to
# every instance's name when it elaborates a design again in the same process
STAGE = re.compile(r"^(?P<array>.*systolic_array\d+(?:_\d+)*)_row(?P<row>\d+)(?:_\d+)*"
                   r"_stage(?P<stage>\d+)(?:_\d+)*_p$")


def sites(y: int) -> list[str]:
    """The 52 multiplier sites of DSP row ``y``, left to right."""
    out = []
    for i, x in enumerate(SITE_COLUMNS):
        z = 4 * (i % 2)
        out += [f"X{x}/Y{y}/MULT18_{z}", f"X{x + 1}/Y{y}/MULT18_{z + 1}"]
    return out


def place(netlist: Path) -> dict:
    """Give each systolic row's multipliers neighbouring sites: the stages of a row side by
    side along one DSP row, in chain order, so that every stage's adder, between its own
    multiplier and the previous stage's adder, has both close by (left to the placer, the
    multipliers of one row spread along the DSP rows, and a product crossed 61 columns to its
    adder: 8 ns of routing). A stage is a MULT18X18D whose product is a net named
    ``..._systolic_array<i>_row<p>_stage<k>_p``, each number perhaps followed by MyHDL's
    ``_0`` (``hdl.cnn.systolic_array``: the product register, in the DSP or on its output).
    Arrays go largest first; each row into the DSP row with the most free sites, grown
    outwards from the middle column, so that the arrays' rows stack up in the middle of the
    die. Sets the ``BEL`` attribute nextpnr places a cell by; other multipliers, and a row
    that finds no run of free sites as long as itself, are left to the placer. Returns
    {"rows", "stages"} placed and the stages "left"."""
    netlist = Path(netlist)
    design = json.loads(netlist.read_text())
    stats = {"rows": 0, "stages": 0, "left": 0}
    for module in design["modules"].values():
        _place_module(module, stats)
    netlist.write_text(json.dumps(design))
    return stats


def _place_module(module: dict, stats: dict) -> None:
    names = defaultdict(list)
    for name, net in module.get("netnames", {}).items():
        if len(net["bits"]) and STAGE.match(name):
            names[net["bits"][0]].append(name)
    rows = defaultdict(list)  # (array, row) -> [(stage, cell)]
    for cname, cell in module["cells"].items():
        if cell["type"] != "MULT18X18D" or "BEL" in cell.get("attributes", {}):
            continue
        bit = next((b for p in (f"P{i}" for i in range(PRODUCT))
                    for b in cell["connections"].get(p, []) if not isinstance(b, str)), None)
        found = [STAGE.match(n) for n in names.get(bit, [])]
        if found:
            m = found[0]
            rows[(m["array"], int(m["row"]))].append((int(m["stage"]), cname))
    if not rows:
        return
    size = defaultdict(int)
    for (array, _), stages in rows.items():
        size[array] += len(stages)
    order = sorted(rows, key=lambda key: (-size[key[0]], key[0], key[1]))
    line = {y: sites(y) for y in SITE_ROWS}  # each DSP row's sites, left to right
    span = {y: None for y in SITE_ROWS}  # the run [lo, hi) of each DSP row's used sites
    for key in order:
        stages = [c for _, c in sorted(rows[key])]
        n = len(stages)
        # the DSP row with the most free sites first, the next where neither side of that
        # one's used run is long enough
        fits = [(y, lo) for y in sorted(SITE_ROWS, key=lambda r: _used(span[r]))
                if (lo := _room(span, y, n, len(line[y]))) is not None]
        if not fits:  # left to the placer
            stats["left"] += n
            continue
        y, lo = fits[0]
        span[y] = (lo, lo + n) if span[y] is None else (min(lo, span[y][0]),
                                                          max(lo + n, span[y][1]))
        for i, cname in enumerate(stages):
            module["cells"][cname].setdefault("attributes", {})["BEL"] = line[y][lo + i]
        stats["rows"] += 1
        stats["stages"] += n


def _room(span: dict, y: int, n: int, total: int) -> int | None:
    """Where a run of ``n`` sites goes in DSP row ``y`` of ``total``: the middle of an empty
    row, else beside the used run (right first); None when neither side has room."""
    if span[y] is None:
        return (total - n) // 2
    lo0, hi0 = span[y]
    if total - hi0 >= lo0 and hi0 + n <= total:
        return hi0
    if lo0 >= n:
        return lo0 - n
    return None


def _used(span) -> int:
    return 0 if span is None else span[1] - span[0]
