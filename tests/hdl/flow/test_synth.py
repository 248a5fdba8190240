"""The open flow (the pinned YoWASP Yosys and nextpnr): every int8 MAC lane is one DSP48E1;
the iCE40 and ECP5 builds place, route and pack; the synthesis command's errors are clean."""
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.hdl.helpers import need_fpga


def synth(tmp_path, layer, pe, simd):
    from hdl.flow import synth as ys

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
    need_fpga("yosys")
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
    """`make synth MODEL=digits_cnn TARGET=ice40` with the default config and the requantizer
    products in LUTs: the report names the device, the DSP count is exactly the config's MAC
    lanes, and a design with more lanes than the part has DSPs is reported OVER, not placed,
    and refused naming the resource and both counts."""
    import json

    need_fpga("yosys")
    proc = subprocess.run([sys.executable, "scripts/synth.py", "--model", "digits_cnn",
                           "--target", "ice40", "--config", "model/pretrained/digits_cnn.hw.json",
                           "--par", "conv1=8x1", "--par", "dense1=1x2",
                           "--requant-dsp-bits", "0",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == ("error: digits_cnn does not fit the iCE40 UP5K (iCEBreaker): DSP 10 "
                           "(the device has 8); choose a smaller config (--par, --auto-budget) "
                           "or another target\n")
    report = json.loads((tmp_path / "summary.json").read_text())
    assert report["device"].startswith("iCE40 UP5K") and report["yosys"].startswith("Yosys")
    assert report["multipliers"] == 8 + 2
    assert report["fit"]["DSP"] == {"used": 10, "capacity": 8}
    assert report["fit"]["EBR"]["used"] > 0  # ROMs and row buffers in block RAM
    assert "OVER" in proc.stdout and "not placed: over on DSP" in proc.stdout
    assert report["pnr"] is None


def test_up5k_build_places_routes_and_packs(tmp_path):
    """`make bitstream`: the up5k config with 16 requantizer bits per layer in DSPs fits the
    UP5K (4 lanes + 2 x 2 DSPs), nextpnr-ice40 routes it and reports an fmax, icepack packs
    a .bin."""
    import json

    need_fpga("yosys", "nextpnr-ice40", "icepack")
    proc = subprocess.run([sys.executable, "scripts/synth.py", "--model", "digits_cnn",
                           "--target", "ice40", "--bitstream", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "summary.json").read_text())
    assert report["config"] == {"conv1": [2, 1], "dense1": [1, 2]}
    assert report["requant_dsp_bits"] == 16
    assert report["fit"]["DSP"] == {"used": 4 + 2 * 2, "capacity": 8}
    pnr = report["pnr"]
    assert 0 < pnr["lc"][0] <= pnr["lc"][1] == 5280
    assert pnr["fmax_mhz"] > 10 and pnr["nextpnr"].startswith("nextpnr-ice40")
    binary = tmp_path / report["bitstream"]
    assert binary.stat().st_size > 100_000  # a whole UP5K image
    assert "fmax" in proc.stdout and "OVER" not in proc.stdout


def test_ecp5_flow_end_to_end(tmp_path):
    """`make bitstream MODEL=digits_cnn TARGET=ecp5` on a small config: synth_ecp5,
    nextpnr-ecp5 (85k, CABGA381), ecppack; the report has the ECP5's resources against the
    device, one MULT18X18D per MAC lane at least, the routed fmax with its critical path, the
    tool versions, and a .bit of the 85F's size. Written under /tmp (pytest's tmp_path), which
    the YoWASP tools only see through relative paths."""
    import json

    need_fpga("yosys", "nextpnr-ecp5", "ecppack")
    proc = subprocess.run([sys.executable, "scripts/synth.py", "--model", "digits_cnn",
                           "--target", "ecp5", "--par", "conv1=2x1", "--par", "dense1=1x2",
                           "--bitstream", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "summary.json").read_text())
    assert report["device"] == "ECP5 LFE5U-85F (ULX3S)"
    assert report["yosys"].startswith("Yosys 0.70")
    assert report["pnr"]["nextpnr"] == "nextpnr-ecp5 nextpnr-0.11.1"
    fit = report["fit"]
    assert set(fit) == {"LUT4", "FF", "MULT18X18D", "DP16KD"}
    assert fit["MULT18X18D"]["capacity"] == 156 and fit["MULT18X18D"]["used"] >= 4
    assert fit["DP16KD"]["capacity"] == 208 and fit["LUT4"]["capacity"] == 83_640
    pnr = report["pnr"]
    assert 0 < pnr["lc"][0] < pnr["lc"][1] == 83_640 and pnr["fmax_mhz"] > 20
    assert pnr["critical_path"] and any("Source" in line for line in pnr["critical_path"])
    bit = tmp_path / report["bitstream"]
    assert bit.suffix == ".bit" and bit.stat().st_size > 1_000_000
    assert "critical path" in proc.stdout and "make prog BOARD=ulx3s IMAGE=" in proc.stdout
    # every MAC lane's operand and product registers moved into its MULT18X18D
    moved = report["dsp_registers"]
    lanes = fit["MULT18X18D"]["used"]
    assert (moved["multipliers"], moved["inputs"], moved["pipelines"]) == (lanes, 2 * lanes,
                                                                            lanes)
    assert "flip-flops moved into" in proc.stdout


def test_bitstream_needs_a_routed_target(tmp_path):
    proc = subprocess.run([sys.executable, "scripts/synth.py", "--model", "digits_cnn",
                           "--bitstream", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "--bitstream needs --target ice40 or ecp5" in proc.stderr


def test_block_rams_are_the_registered_read_memories_of_64_bits_or_more():
    """iCE40 has no LUT RAM: hdl.lib.ram memories of >= 64 bits get ram_style "block"; the
    async FIFO's memory (read without a clock) and 2-word buffers do not."""
    from hdl.flow.synth import BLOCK_MIN_BITS, block_rams

    text = "\n".join(["reg [7:0] top_line_buffer0_ram3_mem [0:8-1];",        # 64 bits
                      "reg signed [15:0] ram0_mem [0:108-1];",                 # top-level, signed
                      "reg [7:0] top_mac_engine0_ram10_mem [0:2-1];",          # 16 bits
                      "reg [17:0] top_async_fifo0_mem [0:4-1];",               # not hdl.lib.ram
                      "reg [15:0] rom_conv1_weights [0:35];"])                 # a ROM
    assert BLOCK_MIN_BITS == 64
    assert block_rams(text) == ["top_line_buffer0_ram3_mem", "ram0_mem"]
    assert block_rams(text, min_bits=16) == ["top_line_buffer0_ram3_mem", "ram0_mem",
                                             "top_mac_engine0_ram10_mem"]


@pytest.mark.parametrize("failure", [
    "ERROR: Unable to find legal placement for all cells, design is probably at utilisation limit.",
    "ERROR: Failed to route arc 0.0 of net 'clk$TRELLIS_IO_IN', from X0/Y11/JPADDID_PIO to "
    "X0/Y0/G_CLKI_TDCC0."])
def test_place_and_route_tries_the_next_seed_when_placing_fails(tmp_path, monkeypatch, failure):
    """A stand-in nextpnr-ice40 that cannot legalise (or route the clock pin) from seed 1 but
    places from seed 2: the result names seed 2 and both clocks; one that never places
    raises, naming the seeds."""
    from hdl.flow import synth as ys

    fake = tmp_path / "nextpnr-ice40"
    fake.write_text("""#!/bin/sh
seed=""; asc=""
while [ $# -gt 0 ]; do
  case "$1" in --seed) seed=$2; shift;; --asc) asc=$2; shift;; esac; shift
done
echo "Info: 	         ICESTORM_LC:  4608/ 5280    87%"
if [ "$seed" != "$GOOD_SEED" ]; then
  echo "$FAILURE"
  exit 1
fi
echo "Info: Max frequency for clock 'clk': 27.11 MHz (PASS at 12.00 MHz)"
echo "Info: Max frequency for clock  'pclk': 65.76 MHz (PASS at 12.00 MHz)"
echo placed > "$asc"
""")
    fake.chmod(0o755)
    monkeypatch.setattr(ys, "tool", lambda name: str(fake))
    monkeypatch.setenv("GOOD_SEED", "101")  # seed 1's retry: outside the seeds a sweep asks
    monkeypatch.setenv("FAILURE", failure)
    pnr = ys.place_and_route(tmp_path / "d.json", tmp_path / "d.asc", freq_mhz=12)
    assert pnr["seed"] == 101 and pnr["clocks"] == {"clk": 27.11, "pclk": 65.76}
    assert pnr["fmax_mhz"] == 27.11 and pnr["lc"] == (4608, 5280) and pnr["met"]
    monkeypatch.setenv("GOOD_SEED", "9")
    with pytest.raises(ys.SynthError, match=r"seeds 1, 101, 201\).*\n.*(legal placement|route arc)"):
        ys.place_and_route(tmp_path / "d.json", tmp_path / "d.asc", freq_mhz=12)


def test_a_stuck_router2_is_stopped_and_the_next_seed_tried(tmp_path, monkeypatch):
    """A stand-in nextpnr-ice40 whose router2 passes never bring the overused wires below 2
    at seed 1 (it would run for ever), and routes at another: the first run is stopped after
    ROUTER_STUCK_PASSES passes without progress, its log says so, and the retry seed 101 is
    the result."""
    from hdl.flow import synth as ys

    fake = tmp_path / "nextpnr-ice40"
    fake.write_text("""#!/bin/sh
seed=""; asc=""
while [ $# -gt 0 ]; do
  case "$1" in --seed) seed=$2; shift;; --asc) asc=$2; shift;; esac; shift
done
echo "Info: 	         ICESTORM_LC:  3377/ 5280    63%"
echo "Info:     iter=1 wires=30000 overused=40 overuse=41 archfail=NA"
if [ "$seed" = "1" ]; then
  i=2
  while true; do
    echo "Info:     iter=$i wires=30869 overused=2 overuse=2 archfail=NA"
    i=$((i+1))
  done
fi
echo "Info:     iter=2 wires=30869 overused=0 overuse=0 archfail=NA"
echo "Info: Max frequency for clock 'clk': 36.01 MHz (PASS at 24.00 MHz)"
echo routed > "$asc"
""")
    fake.chmod(0o755)
    monkeypatch.setattr(ys, "tool", lambda name: str(fake))
    monkeypatch.setattr(ys, "ROUTER_STUCK_PASSES", 50)
    log = tmp_path / "nextpnr.log"
    pnr = ys.place_and_route(tmp_path / "d.json", tmp_path / "d.asc", freq_mhz=24, log=log,
                             router="router2")
    assert pnr["seed"] == 101 and pnr["fmax_mhz"] == 36.01
    returncode, text = ys.run_nextpnr([str(fake), "--seed", "1", "--asc", "x.asc"], tmp_path,
                                      log, label="fake", progress=False)
    assert returncode != 0
    assert text.splitlines()[-1] == ("ERROR: router2 made no progress: 2 wire(s) overused "
                                     "since pass 2, still at pass 52; stopped")
    assert log.read_text().splitlines()[-1] == text.splitlines()[-1]


def test_nextpnr_says_what_it_is_doing_and_logs_as_it_goes(tmp_path, monkeypatch, capfd):
    """A stand-in nextpnr-ecp5 that packs, places and routes in its log's words, and checks
    that its log file already holds the packing line while it routes: stderr names each phase
    (off a terminal, a line when the phase changes), the log holds every line."""
    from hdl.flow import synth as ys

    fake = tmp_path / "nextpnr-ecp5"
    fake.write_text("""#!/bin/sh
echo "ARGS: $*"
cfg=""; while [ $# -gt 0 ]; do case "$1" in --textcfg) cfg=$2; shift;; esac; shift; done
echo "Info: Packing IOs.."
echo "Info: Creating initial analytic placement for 8301 cells, random placement wirelen = 1."
echo "Info: Running simulated annealing placer for refinement."
echo "Info: Routing 57156 arcs."
for i in $(seq 100); do grep -q "Packing IOs" nextpnr.log && break; sleep 0.05; done
grep -q "Packing IOs" nextpnr.log || echo "ERROR: the log is written at the end"
echo "Info:       1000 |      328        671 |  328   671 |     56550|       3.95       3.95|"
echo "Info:      64592 |     5810      53353 |   67   489 |         0|      31.09     115.17|"
echo "Info: Routing complete."
echo "Info:          TRELLIS_COMB:  8301/83640    9%"
echo "Info: Max frequency for clock 'clk': 96.77 MHz (FAIL at 100.00 MHz)"
echo routed > "$cfg"
""")
    fake.chmod(0o755)
    monkeypatch.setattr(ys, "tool", lambda name: str(fake))
    monkeypatch.chdir(tmp_path)
    capfd.readouterr()
    pnr = ys.place_and_route(tmp_path / "d.json", tmp_path / "d.config", freq_mhz=100,
                             log=tmp_path / "nextpnr.log", target="ecp5", router="router2")
    err = capfd.readouterr().err
    assert pnr["fmax_mhz"] == 96.77 and not pnr["met"] and pnr["lc"] == (8301, 83640)
    assert pnr["router"] == "router2" and "ARGS: " in (tmp_path / "nextpnr.log").read_text()
    assert "--router router2" in (tmp_path / "nextpnr.log").read_text()
    assert "ERROR" not in (tmp_path / "nextpnr.log").read_text()
    assert [line.split(": ", 1)[1].split(" (at")[0] for line in err.splitlines()] == [
        "packing", "placing", "routing 57,156 arcs", "timing analysis"]
    assert ys.pnr_phase("Info:       1000 |      328        671 |  328   671 |     56550|"
                        "       3.95       3.95|") == "routing: 56,550 arcs left"
    assert ys.pnr_phase("Info: Running simulated annealing placer for refinement.") == \
        "placing (refinement)"
    assert ys.pnr_phase("Info:     iter=13 wires=389675 overused=540 overuse=542 "
                        "archfail=NA") == "routing: pass 13, 540 wires overused"
    with pytest.raises(ValueError, match="router 'router3': nextpnr has router1, router2"):
        ys.place_and_route(tmp_path / "d.json", tmp_path / "d.config", router="router3")


DUPS = """module dups(input clk, input [7:0] x, output [7:0] a, output [7:0] b);
  reg [7:0] a_dup, b_dup;
  always @(posedge clk) begin a_dup <= x + 8'd3; b_dup <= x + 8'd3; end
  assign a = a_dup; assign b = b_dup;
endmodule
"""


@pytest.mark.parametrize("target,copies", [("ecp5", 2), ("xilinx", 1)])
def test_registers_named_dup_stay_apart_on_ecp5(tmp_path, target, copies):
    """Two registers of one input, named *_dup (the systolic array's per-row operand copies):
    the ECP5 flow keeps both, the xc7 flow lets Yosys merge them (xilinx_dsp copies a shared
    operand register into every DSP48E1 itself)."""
    from hdl.flow import synth as ys

    need_fpga("yosys")
    verilog = tmp_path / "dups.v"
    verilog.write_text(DUPS)
    cells = ys.synthesize(verilog, "dups", target)["cells"]
    assert ys.summary(cells, target)["FF"] == 8 * copies
