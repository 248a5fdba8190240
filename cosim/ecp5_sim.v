`timescale 1ns/1ps
// cnn2fpga: behavioural models of the ECP5 primitives a board top instantiates, for simulation
// only (Icarus, Verilator --timing); synthesis uses the real primitives.
// Hand-written, not converted output: it stands in for a vendor primitive that no MyHDL
// block describes, so it is a committed source like the generated harnesses' templates.
//
// EHXPLLL with CLKOP fed back (FEEDBK_PATH "CLKOP"): CLKOP = CLKI * CLKFB_DIV / CLKI_DIV. The
// model measures CLKI's period between its rising edges and, after LOCK_CYCLES of them, raises
// LOCK and runs CLKOP at the output period (its phase to CLKI is not modelled). The
// dynamic-phase and standby pins are ignored.
module EHXPLLL #(
    parameter integer CLKI_DIV = 1,
    parameter integer CLKFB_DIV = 1,
    parameter integer CLKOP_DIV = 8,
    parameter integer CLKOP_CPHASE = 0,
    parameter integer CLKOP_FPHASE = 0,
    parameter FEEDBK_PATH = "CLKOP",
    parameter CLKOP_ENABLE = "ENABLED",
    parameter PLLRST_ENA = "DISABLED",
    parameter INTFB_WAKE = "DISABLED",
    parameter STDBY_ENABLE = "DISABLED",
    parameter DPHASE_SOURCE = "DISABLED",
    parameter OUTDIVIDER_MUXA = "DIVA"
) (
    input CLKI, input CLKFB, input RST, input STDBY,
    input PHASESEL0, input PHASESEL1, input PHASEDIR, input PHASESTEP, input PHASELOADREG,
    input PLLWAKESYNC, input ENCLKOP,
    output reg CLKOP = 1'b0, output reg LOCK = 1'b0
);
    localparam integer LOCK_CYCLES = 16;
    realtime last = 0.0;
    realtime period = 0.0;
    integer seen = 0;

    always @(posedge CLKI) begin
        if (seen > 0) period = $realtime - last;
        last = $realtime;
        if (seen < LOCK_CYCLES) seen = seen + 1;
        else LOCK <= 1'b1;
    end

    // once locked, CLKOP runs on its own at the output period
    initial begin
        wait (LOCK);
        forever #(period * CLKI_DIV / CLKFB_DIV / 2.0) CLKOP = ~CLKOP;
    end
endmodule
