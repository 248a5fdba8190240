"""Synchronous ROM initialised from an exported ``.mem`` file.

The same file is read twice: by MyHDL simulation here (``model.export.read_mem``) and by the
converted Verilog through ``$readmemh`` (user-defined Verilog code), so no weight is ever copied
into HDL source. The Verilog names the file without a folder: simulate or synthesize in the
folder that holds the ``.mem`` files (``make verilog`` copies them beside the ``.v``).

Ports: ``clk``; ``addr`` (unsigned); ``dout`` (registered: the word at ``addr`` one clock
later); optional ``en`` (read enable: ``dout`` holds while it is low). One read per clock, no
reset: the shape Yosys maps to block RAM (RAMB18/36 on 7-series, SB_RAM40_4K on iCE40) when it
is large enough. Words may be wider than 64 bits (packed weight words). The Verilog memory is
named after the file and ``dout``, so several ROMs of one file (a wide drain's lanes) can sit
in one converted module.
"""
from __future__ import annotations

from pathlib import Path

from myhdl import always, block

from model.export import read_mem


def load(path, bits: int, signed: bool) -> tuple[int, ...]:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"rom: init file {path} does not exist (run the export first)")
    return tuple(int(v) for v in read_mem(path, bits, signed=signed))


@block
def rom(clk, addr, dout, *, path, signed: bool | None = None, en=None):
    """``dout`` <= word ``addr`` of ``path`` on each rising edge of ``clk``."""
    bits = len(dout)
    if signed is None:
        signed = dout.min is not None and dout.min < 0
    words = load(path, bits, signed)
    depth = len(words)
    if addr.max is None or addr.max < depth:
        raise ValueError(f"rom {Path(path).name}: addr of {len(addr)} bits cannot reach "
                         f"{depth} words")
    fname = Path(path).name
    memname = "rom_" + "".join(ch if ch.isalnum() else "_" for ch in Path(path).stem)
    top = bits - 1
    last = depth - 1

    dout.driven = "reg"
    addr.read = True  # used only inside the user-defined Verilog: tell the converter
    if en is None:
        @always(clk.posedge)
        def read():
            dout.next = words[int(addr)] if addr < depth else 0

        rom.verilog_code = """
reg [$top:0] ${memname}_$dout [0:$last];
initial $$readmemh("$fname", ${memname}_$dout);
always @(posedge $clk) begin
    $dout <= ${memname}_$dout[$addr];
end
"""
        return read

    @always(clk.posedge)
    def read_en():
        if en:
            dout.next = words[int(addr)] if addr < depth else 0

    en.read = True
    rom.verilog_code = """
reg [$top:0] ${memname}_$dout [0:$last];
initial $$readmemh("$fname", ${memname}_$dout);
always @(posedge $clk) begin
    if ($en) $dout <= ${memname}_$dout[$addr];
end
"""
    return read_en
