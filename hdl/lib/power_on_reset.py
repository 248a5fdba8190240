"""Power-on and button reset for a board top: ``rst`` is high for the first ``clocks`` clocks
after the FPGA is configured, and while ``button`` (active high, any timing: it goes through
two flip-flops) is pressed.

The count starts from the register's configuration value (0), written as a Verilog initial
value, which Yosys, Vivado and Quartus all load at configuration. MyHDL cannot give one
register an initial value without giving every signal one, so the Verilog is user-defined
here; the MyHDL model below behaves the same and is what the tests simulate.
"""
from __future__ import annotations

from myhdl import Signal, always, block, intbv


@block
def power_on_reset(clk, button, rst, *, clocks: int = 255):
    if not 1 <= clocks < 1 << 16:
        raise ValueError(f"power_on_reset: clocks={clocks} must be 1..65535")
    count = Signal(intbv(0, min=0, max=clocks + 1))
    q1, q2 = Signal(bool(0)), Signal(bool(0))
    bits = max(1, clocks.bit_length())
    top = bits - 1

    @always(clk.posedge)
    def hold():
        q1.next = button
        q2.next = q1
        if count < clocks:
            count.next = count + 1
        rst.next = count < clocks or q2

    rst.driven = "reg"
    button.read = True
    power_on_reset.verilog_code = """
reg [$top:0] por_count = 0;
reg por_q1 = 1'b0;
reg por_q2 = 1'b0;
initial $rst = 1'b1;
always @(posedge $clk) begin
    por_q1 <= $button;
    por_q2 <= por_q1;
    if (por_count < $clocks) por_count <= por_count + 1'b1;
    $rst <= (por_count < $clocks) || por_q2;
end
"""
    return hold
