`timescale 1ns/1ps
// cnn2fpga: a behavioural model of the ECP5 MULT18X18D for the gate-level simulation of a
// netlist after hdl/flow/ecp5_dsp.py has moved registers into the multipliers (simulation
// only; Yosys' ECP5 cell library has no model of this cell). Hand-written, not converted
// output, like cosim/ecp5_sim.v.
//
// What it models: P = A * B (each signed when SIGNEDA / SIGNEDB), with the input A, input B
// and pipeline registers each either off ("NONE") or clocked by CLKn, enabled by CEn and
// reset to 0 by RSTn on the clock edge (RESETMODE "SYNC"), n = 0..3, from a power-up value of
// 0. The C input, the cascade (SOURCEA/SOURCEB, SRI*/SRO*/RO*), the output register,
// RESETMODE "ASYNC" and MULT_BYPASS are not modelled: asking for them stops elaboration.
module MULT18X18D (
    input A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15, A16, A17, B0, B1, B2, B3, B4, B5, B6, B7, B8, B9, B10, B11, B12, B13, B14, B15, B16, B17, C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13, C14, C15, C16, C17, SIGNEDA, SIGNEDB, SOURCEA, SOURCEB, CLK0, CLK1, CLK2, CLK3, CE0, CE1, CE2, CE3, RST0, RST1, RST2, RST3, SRIA0, SRIA1, SRIA2, SRIA3, SRIA4, SRIA5, SRIA6, SRIA7, SRIA8, SRIA9, SRIA10, SRIA11, SRIA12, SRIA13, SRIA14, SRIA15, SRIA16, SRIA17, SRIB0, SRIB1, SRIB2, SRIB3, SRIB4, SRIB5, SRIB6, SRIB7, SRIB8, SRIB9, SRIB10, SRIB11, SRIB12, SRIB13, SRIB14, SRIB15, SRIB16, SRIB17,
    output SROA0, SROA1, SROA2, SROA3, SROA4, SROA5, SROA6, SROA7, SROA8, SROA9, SROA10, SROA11, SROA12, SROA13, SROA14, SROA15, SROA16, SROA17, SROB0, SROB1, SROB2, SROB3, SROB4, SROB5, SROB6, SROB7, SROB8, SROB9, SROB10, SROB11, SROB12, SROB13, SROB14, SROB15, SROB16, SROB17, ROA0, ROA1, ROA2, ROA3, ROA4, ROA5, ROA6, ROA7, ROA8, ROA9, ROA10, ROA11, ROA12, ROA13, ROA14, ROA15, ROA16, ROA17, ROB0, ROB1, ROB2, ROB3, ROB4, ROB5, ROB6, ROB7, ROB8, ROB9, ROB10, ROB11, ROB12, ROB13, ROB14, ROB15, ROB16, ROB17, ROC0, ROC1, ROC2, ROC3, ROC4, ROC5, ROC6, ROC7, ROC8, ROC9, ROC10, ROC11, ROC12, ROC13, ROC14, ROC15, ROC16, ROC17,
    output P0, P1, P2, P3, P4, P5, P6, P7, P8, P9, P10, P11, P12, P13, P14, P15, P16, P17, P18, P19, P20, P21, P22, P23, P24, P25, P26, P27, P28, P29, P30, P31, P32, P33, P34, P35, output SIGNEDP
);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";

    generate
        if (REG_OUTPUT_CLK != "NONE" || REG_INPUTC_CLK != "NONE" || MULT_BYPASS != "DISABLED"
                || RESETMODE != "SYNC")
            ERROR_UNMODELLED_MULT18X18D_MODE unmodelled();
    endgenerate

    wire [3:0] clks = {CLK3, CLK2, CLK1, CLK0};
    wire [3:0] ces = {CE3, CE2, CE1, CE0};
    wire [3:0] rsts = {RST3, RST2, RST1, RST0};
    wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};

    // "CLKn" / "CEn" / "RSTn" -> n (the last character)
    function integer pick(input [8 * 4 - 1:0] name);
        pick = name[7:0] - "0";
    endfunction

    reg [17:0] a_q = 18'd0, b_q = 18'd0;
    reg [35:0] p_q = 36'd0;
    wire [17:0] a_u = REG_INPUTA_CLK == "NONE" ? a : a_q;
    wire [17:0] b_u = REG_INPUTB_CLK == "NONE" ? b : b_q;
    wire [35:0] prod = $signed({SIGNEDA & a_u[17], a_u}) * $signed({SIGNEDB & b_u[17], b_u});
    wire [35:0] p = REG_PIPELINE_CLK == "NONE" ? prod : p_q;

    generate
        if (REG_INPUTA_CLK != "NONE")
            always @(posedge clks[pick(REG_INPUTA_CLK)])
                if (rsts[pick(REG_INPUTA_RST)]) a_q <= 18'd0;
                else if (ces[pick(REG_INPUTA_CE)]) a_q <= a;
        if (REG_INPUTB_CLK != "NONE")
            always @(posedge clks[pick(REG_INPUTB_CLK)])
                if (rsts[pick(REG_INPUTB_RST)]) b_q <= 18'd0;
                else if (ces[pick(REG_INPUTB_CE)]) b_q <= b;
        if (REG_PIPELINE_CLK != "NONE")
            always @(posedge clks[pick(REG_PIPELINE_CLK)])
                if (rsts[pick(REG_PIPELINE_RST)]) p_q <= 36'd0;
                else if (ces[pick(REG_PIPELINE_CE)]) p_q <= prod;
    endgenerate

    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p;
    assign SIGNEDP = SIGNEDA | SIGNEDB;
endmodule
