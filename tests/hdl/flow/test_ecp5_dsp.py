"""hdl.flow.ecp5_dsp: the registers around each MULT18X18D move into it, and the netlist
still computes the same. A converted systolic array goes through synth_ecp5, the pass, and
back to Verilog as a gate-level netlist (Yosys' ECP5 cell models, the MULT18X18D model of
cosim/ecp5_dsp_sim.v), and runs in Icarus under random enable gaps against the dot products;
nextpnr-ecp5 then places it with every register in the DSPs."""
import json

import numpy as np
import pytest

from hdl.cnn import systolic_array as sa
from hdl.flow import ecp5_dsp
from hdl.flow import synth as ys
from tests.hdl.cnn.test_systolic_array import simulate, want
from tests.hdl.helpers import need_fpga, need_tools

LANES, PE, ZP = 3, 2, -20


def cells_of(netlist, kind):
    modules = json.loads(netlist.read_text())["modules"].values()
    return [c for m in modules for c in m["cells"].values() if c["type"] == kind]


def gate_level(stats):
    """A ``gates`` hook for ``simulate``: synth_ecp5, the pass (its figures into ``stats``),
    and the netlist written back as Verilog in place of the converted one."""
    def build(folder, name):
        netlist = folder / f"{name}.json"
        ys.synthesize(folder / f"{name}.v", name, "ecp5", netlist=netlist)
        stats["before"] = len(cells_of(netlist, "TRELLIS_FF"))
        stats.update(ecp5_dsp.absorb(netlist))
        stats["after"] = len(cells_of(netlist, "TRELLIS_FF"))
        stats["mults"] = cells_of(netlist, "MULT18X18D")
        ecp5_dsp.gate_level(netlist, name, folder / f"{name}.v")
        return [ecp5_dsp.DSP_MODEL]
    return build


def test_array_registers_move_into_the_multipliers(tmp_path):
    need_fpga("yosys")
    need_tools("iverilog", "vvp")
    rng = np.random.default_rng(3)
    xs = rng.integers(-128, 128, (30, LANES))
    ws = rng.integers(-128, 128, (30, PE, LANES))
    xs[0], ws[0] = 127, -128  # the largest product
    stats = {}
    got = simulate(tmp_path, xs, ws, ZP, hold=0.3, hdl="icarus", gates=gate_level(stats))
    np.testing.assert_array_equal(got, want(xs, ws, ZP))
    # every stage: both operand registers and the product register are in its MULT18X18D
    assert stats["multipliers"] == LANES * PE
    assert stats["inputs"] == 2 * LANES * PE and stats["pipelines"] == LANES * PE
    assert stats["flip_flops"] == stats["before"] - stats["after"]
    assert stats["flip_flops"] >= LANES * PE * (sa.XZ_BITS + 8 + 15)
    for mult in stats["mults"]:
        par = mult["parameters"]
        assert [par.get(f"REG_{r}_CLK") for r in ("INPUTA", "INPUTB", "PIPELINE")] == ["CLK0"] * 3
        assert "REG_OUTPUT_CLK" not in par


SHARED = """module shared(input clk, input en, input signed [7:0] a, b, output reg signed [15:0] p,
                  output [7:0] a_seen);
  reg signed [7:0] ar, br; reg signed [15:0] m;
  always @(posedge clk) begin if (en) begin ar <= a; br <= b; end m <= ar * br; p <= m + 16'sd1; end
  assign a_seen = ar;
endmodule
"""

BENCH = """`timescale 1ns/1ps
module bench;
  reg clk = 0, en = 0; reg [7:0] a = 0, b = 0; integer i, bad = 0;
  wire [15:0] p_rtl, p_gate; wire [7:0] s_rtl, s_gate;
  rtl r (.clk(clk), .en(en), .a(a), .b(b), .p(p_rtl), .a_seen(s_rtl));
  shared g (.clk(clk), .en(en), .a(a), .b(b), .p(p_gate), .a_seen(s_gate));
  initial begin
    for (i = 0; i < 400; i = i + 1) begin
      a = $random; b = $random; en = ($random & 3) != 0;
      #5 clk = 1; #5 clk = 0;
      if (i > 4 && (p_rtl !== p_gate || s_rtl !== s_gate)) bad = bad + 1;
    end
    $display("MISMATCHES %0d", bad);
    $finish;
  end
endmodule
"""


def test_a_register_that_drives_other_logic_is_copied(tmp_path):
    """``ar`` also drives a port: the DSP's input register becomes a copy of it and ``ar``
    stays in the fabric for the port; ``br`` moves in; ``m`` (no enable) becomes the
    pipeline register, on a second clock/enable pair. The gate-level netlist matches the RTL
    clock for clock under random enables."""
    need_fpga("yosys")
    need_tools("iverilog", "vvp")
    verilog = tmp_path / "shared.v"
    verilog.write_text(SHARED)
    netlist = tmp_path / "shared.json"
    ys.synthesize(verilog, "shared", "ecp5", netlist=netlist)
    before = len(cells_of(netlist, "TRELLIS_FF"))
    stats = ecp5_dsp.absorb(netlist)
    assert (stats["inputs"], stats["pipelines"]) == (2, 1)
    assert stats["flip_flops"] == before - len(cells_of(netlist, "TRELLIS_FF")) == 8 + 16
    (mult,) = cells_of(netlist, "MULT18X18D")
    par, con = mult["parameters"], mult["connections"]
    assert {par[f"REG_{r}_CE"] for r in ("INPUTA", "INPUTB")} == {"CE0"}
    assert par["REG_PIPELINE_CE"] == "CE1" and con["CE1"] == ["1"]
    assert ecp5_dsp.absorb(netlist)["flip_flops"] == 0  # nothing moves twice
    gates = ecp5_dsp.gate_level(netlist, "shared", tmp_path / "gates.v")
    assert bench(tmp_path, SHARED, gates) == 0


CONST = """module shared(input clk, input en, input signed [7:0] a, b, output reg signed [15:0] p,
                  output [7:0] a_seen);
  reg signed [7:0] ar, w; reg signed [15:0] m;
  always @(posedge clk) if (en) begin ar <= a; w <= -8'sd77; m <= ar * w; end
  always @(posedge clk) p <= m;
  assign a_seen = 8'd0;
endmodule
"""


def test_a_constant_weight_is_registered_with_the_other_input(tmp_path):
    """A weight that is one number (a 1-word ROM): Yosys ties B to constants; the pass gives B
    the A register's clock and enable all the same (nextpnr times the multiplier as
    registered only with both inputs registered), and the netlist still matches the RTL."""
    need_fpga("yosys")
    need_tools("iverilog", "vvp")
    (tmp_path / "shared.v").write_text(CONST)
    netlist = tmp_path / "shared.json"
    ys.synthesize(tmp_path / "shared.v", "shared", "ecp5", netlist=netlist)
    (mult,) = cells_of(netlist, "MULT18X18D")
    assert all(isinstance(mult["connections"][f"B{i}"][0], str) for i in range(18))
    stats = ecp5_dsp.absorb(netlist)
    assert (stats["inputs"], stats["pipelines"]) == (2, 1)
    (mult,) = cells_of(netlist, "MULT18X18D")
    par = mult["parameters"]
    assert [par[f"REG_INPUT{x}_{k}"] for x in "AB" for k in ("CLK", "CE")] == ["CLK0", "CE0"] * 2
    gates = ecp5_dsp.gate_level(netlist, "shared", tmp_path / "gates.v")
    assert bench(tmp_path, CONST, gates) == 0


def bench(folder, rtl, gates) -> int:
    """Mismatches between ``rtl`` and its gate-level netlist ``gates`` (module ``shared``)
    over 400 clocks of random inputs and enables, after the first five."""
    (folder / "rtl.v").write_text(rtl.replace("module shared", "module rtl"))
    (folder / "bench.v").write_text(BENCH)
    run = ys.subprocess.run
    proc = run(["iverilog", "-g2012", "-s", "bench", "-o", str(folder / "b.vvp"),
                str(folder / "bench.v"), str(folder / "rtl.v"), str(gates),
                str(ecp5_dsp.DSP_MODEL)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = run(["vvp", "-n", str(folder / "b.vvp")], capture_output=True, text=True).stdout
    return int(out.split("MISMATCHES")[1].split()[0])


def array_netlist(folder, lanes: int, pe: int):
    """A converted ``lanes`` x ``pe`` systolic array through synth_ecp5: its JSON netlist."""
    from tests.hdl.cnn.test_systolic_array import flat
    from myhdl import Signal, intbv
    from cosim import icarus

    clk, en = Signal(bool(0)), Signal(bool(0))
    bits = sa.sum_bits(lanes - 1)
    dut = flat(clk, en, Signal(intbv(0)[8 * lanes:]), Signal(intbv(0)[8 * pe * lanes:]),
               Signal(intbv(0)[bits * pe:]), lanes=lanes, pe=pe, zp_in=ZP)
    verilog = icarus.convert(dut, folder, "arr", testbench=False)
    netlist = folder / "arr.json"
    ys.synthesize(verilog, "arr", "ecp5", netlist=netlist)
    return netlist


@pytest.mark.parametrize("absorbed", [False, True])
def test_nextpnr_places_the_registered_multipliers(tmp_path, absorbed):
    """nextpnr-ecp5 takes the rewritten netlist (registers configured in the DSP) and routes it."""
    need_fpga("yosys", "nextpnr-ecp5")
    netlist = array_netlist(tmp_path, LANES, PE)
    if absorbed:
        ecp5_dsp.absorb(netlist)
    pnr = ys.place_and_route(netlist, tmp_path / "arr.config", freq_mhz=100, target="ecp5",
                             log=tmp_path / "nextpnr.log")
    assert pnr["fmax_mhz"] > 0


def test_each_systolic_row_gets_neighbouring_sites_in_chain_order(tmp_path):
    """``place``: every stage of a converted array gets a site; a row's stages sit side by
    side along one DSP row, stage k+1 on the site after stage k's; no two share a site; and
    nextpnr places the multipliers on them."""
    need_fpga("yosys", "nextpnr-ecp5")
    lanes, pe = 4, 3
    netlist = array_netlist(tmp_path, lanes, pe)
    ecp5_dsp.absorb(netlist)
    assert ecp5_dsp.place(netlist) == {"rows": pe, "stages": pe * lanes, "left": 0}
    module = json.loads(netlist.read_text())["modules"]["arr"]
    where = {}  # (row, stage) -> site
    for cell in module["cells"].values():
        if cell["type"] != "MULT18X18D":
            continue
        product = cell["connections"]["P0"][0]
        (name,) = [n for n, net in module["netnames"].items()
                   if net["bits"][0] == product and ecp5_dsp.STAGE.match(n)]
        found = ecp5_dsp.STAGE.match(name)
        where[int(found["row"]), int(found["stage"])] = cell["attributes"]["BEL"]
    assert len(where) == pe * lanes and len(set(where.values())) == pe * lanes
    for row in {r for r, _ in where}:
        stages = sorted(s for r, s in where if r == row)
        y = where[row, stages[0]].split("/")[1]
        line = ecp5_dsp.sites(int(y[1:]))
        index = [line.index(where[row, s]) for s in stages]
        assert index == list(range(index[0], index[0] + lanes)), (row, index)
    pnr = ys.place_and_route(netlist, tmp_path / "arr.config", freq_mhz=100, target="ecp5",
                             log=tmp_path / "nextpnr.log")
    assert pnr["fmax_mhz"] > 0
    log = (tmp_path / "nextpnr.log").read_text()
    assert f"Placed {pe * lanes} cells based on constraints" in log


def test_the_sites_are_the_devices_multipliers():
    """Three DSP rows of 52 sites, left to right, each named once (the test above has
    nextpnr place a row on each of the three)."""
    rows = [ecp5_dsp.sites(y) for y in ecp5_dsp.SITE_ROWS]
    every = [s for row in rows for s in row]
    assert len(every) == len(set(every)) == 156
    for row in rows:
        xs = [int(s.split("/")[0][1:]) for s in row]
        assert xs == sorted(xs) and len(row) == 52


def test_stage_names_with_myhdls_suffix():
    """MyHDL names a signal ``<name>_0`` where the name is taken already (the mnist_cnn top
    has ``..._row8_stage10_0_p``), and every instance ``<name>_0`` when a process elaborates a
    design again (``..._systolic_array1_0_row8_0_stage10_0_p``): still a stage, row 8,
    stage 10."""
    for name in ("net0_conv2d1_mac_engine1_systolic_array1_row8_stage10_0_p",
                 "conv2d1_mac_engine1_systolic_array1_row8_stage10_p",
                 "conv2d1_0_mac_engine1_0_systolic_array1_0_row8_0_stage10_0_p"):
        found = ecp5_dsp.STAGE.match(name)
        assert found and (int(found["row"]), int(found["stage"])) == (8, 10), name
        assert "_systolic_array1" in found["array"] and "_row" not in found["array"]
    for name in ("conv2d1_mac_engine1_systolic_array1_row8_stage10_p_TRELLIS_FF_Q_DI",
                 "conv2d1_mac_engine1_systolic_array1_row8_stage10_s_out"):
        assert not ecp5_dsp.STAGE.match(name), name


def test_a_row_with_no_room_is_left_and_the_rest_still_placed(tmp_path):
    """Four rows of 32 stages (mnist_cnn's fastest config has such rows) and one of 10 on
    three DSP rows of 52 sites: three long rows take the middle of a DSP row each, the fourth
    finds no run of 32 free sites and is left to the placer, and the short row still gets the
    10 sites beside a long one."""
    cells, netnames, bit = {}, {}, 10
    for array, rows, lanes in (("conv2d1_mac_engine1_systolic_array1", range(4), 32),
                               ("conv2d2_mac_engine2_systolic_array2", [4], 10)):
        for row in rows:
            for k in range(lanes):
                name = f"{array}_row{row}_stage{row * lanes + k}_p"
                cells[f"m{bit}"] = {"type": "MULT18X18D", "connections": {"P0": [bit]},
                                    "attributes": {}}
                netnames[name] = {"bits": [bit]}
                bit += 1
    netlist = tmp_path / "fake.json"
    netlist.write_text(json.dumps({"modules": {"top": {"cells": cells, "netnames": netnames}}}))
    assert ecp5_dsp.place(netlist) == {"rows": 4, "stages": 3 * 32 + 10, "left": 32}
    placed = [c["attributes"].get("BEL") for c in
              json.loads(netlist.read_text())["modules"]["top"]["cells"].values()]
    sites = [b for b in placed if b]
    assert len(sites) == len(set(sites)) == 106
