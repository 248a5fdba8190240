"""hdl.board.ecp5_pll: the EHXPLLL dividers make exactly the asked frequency (the same as
Trellis' ecppll), the ULX3S top instantiates them for its system clock, and the simulation
model runs at that frequency."""
import re
import subprocess

import pytest

from cosim import icarus
from hdl.board import boards
from hdl.board.ecp5_pll import LOCK_CYCLES, Settings, settings
from hdl.flow.build import SIM_MODELS
from tests.hdl.helpers import need_fpga, need_tools


def test_ulx3s_settings_match_ecppll(tmp_path):
    """25 -> 50 MHz: CLKI_DIV 1, CLKFB_DIV 2, CLKOP_DIV 12 (VCO 600 MHz), as ecppll says."""
    need_fpga("ecppll")
    from hdl.flow.synth import tool

    s = settings(25e6, 50e6)
    assert s == Settings(1, 2, 12) and s.clkop_cphase == 5
    assert s.out_hz(25e6) == 50e6 and s.vco_hz(25e6) == 600e6
    proc = subprocess.run([tool("ecppll"), "-i", "25", "-o", "50"], capture_output=True,
                          text=True, cwd=tmp_path)
    divs = dict(re.findall(r"^(Refclk|Feedback|clkout0) divisor: (\d+)", proc.stdout, re.M))
    assert (int(divs["Refclk"]), int(divs["Feedback"]), int(divs["clkout0"])) == (1, 2, 12)


@pytest.mark.parametrize("fin,fout", [(25e6, 50e6), (25e6, 100e6), (12e6, 48e6), (25e6, 75e6)])
def test_settings_make_exactly_the_frequency_within_the_vco_range(fin, fout):
    s = settings(fin, fout)
    assert s.out_hz(fin) == fout
    assert 400e6 <= s.vco_hz(fin) <= 800e6 and 3.125e6 <= fin / s.clki_div


def test_impossible_frequency_is_refused():
    with pytest.raises(ValueError, match="no EHXPLLL setting makes exactly 51.234 MHz"):
        settings(25e6, 51.234e6)


@pytest.mark.xdist_group("board_ulx3s")
def test_ulx3s_top_asks_the_pll_for_its_system_clock(digits_board):
    """The converted top's EHXPLLL parameters turn the 25 MHz oscillator into the board's
    system clock (the clock camera_system's UART and timers are computed for)."""
    board = boards.get("ulx3s")
    text = (digits_board("ulx3s") / f"{board.top}.v").read_text()
    params = dict(re.findall(r"\.(CLKI_DIV|CLKFB_DIV|CLKOP_DIV|CLKOP_CPHASE)\((\d+)\)", text))
    s = Settings(int(params["CLKI_DIV"]), int(params["CLKFB_DIV"]), int(params["CLKOP_DIV"]))
    assert s.out_hz(boards.ULX3S_OSC_HZ) == board.sys_hz == 50e6
    assert int(params["CLKOP_CPHASE"]) == s.clkop_cphase
    assert 400e6 <= s.vco_hz(boards.ULX3S_OSC_HZ) <= 800e6


def test_simulation_model_runs_at_the_output_frequency(tmp_path):
    """cosim/ecp5_sim.v in Icarus: LOCK after LOCK_CYCLES input clocks, then CLKOP at
    CLKI * CLKFB_DIV / CLKI_DIV (100 rising edges in 2 us at 50 MHz)."""
    need_tools("iverilog", "vvp")
    tb = tmp_path / "tb.v"
    tb.write_text("""`timescale 1ns/1ps
module tb;
    reg clk = 1'b0;
    always #20 clk = ~clk;   // 25 MHz
    wire clkop, lock;
    EHXPLLL #(.CLKI_DIV(1), .CLKFB_DIV(2), .CLKOP_DIV(12)) pll (.CLKI(clk), .CLKFB(clkop),
        .CLKOP(clkop), .LOCK(lock), .RST(1'b0), .STDBY(1'b0), .PHASESEL0(1'b0),
        .PHASESEL1(1'b0), .PHASEDIR(1'b0), .PHASESTEP(1'b0), .PHASELOADREG(1'b0),
        .PLLWAKESYNC(1'b0), .ENCLKOP(1'b0));
    integer rises = 0;
    always @(posedge clkop) rises = rises + 1;
    initial begin
        #(40 * (LOCK_CYCLES + 2));
        $display("lock %0d", lock);
        rises = 0;
        #2000;
        $display("rises %0d", rises);
        $finish;
    end
endmodule
""".replace("LOCK_CYCLES", str(LOCK_CYCLES)))
    icarus.iverilog([tb, SIM_MODELS / "ecp5_sim.v"], tmp_path / "tb.vvp")
    out = subprocess.run(["vvp", "-n", str(tmp_path / "tb.vvp")], capture_output=True,
                         text=True, check=True).stdout
    assert "lock 1" in out
    assert int(re.search(r"rises (\d+)", out).group(1)) in (100, 101)
