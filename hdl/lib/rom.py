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

**Banked read.** A ROM deeper than one block RAM (``bank_words``: 512 words of up to 36 bits
on the ECP5's DP16KD, 1,024 of 18, 2,048 of 9, ...) becomes several block RAMs joined by
multiplexers after their read, and on the ECP5 that read (5.6 ns clock-to-out without the
RAM's own output register, which Yosys does not use) and the multiplexers share one clock.
Given ``ahead`` (the address ``addr`` will hold after the next enabled clock: the D input of
the address register), the ROM reads one clock early instead, into a register per bank, and
``dout`` takes the chosen bank's word on the next enabled clock::

    ahead -> [bank 0] --+
          -> [bank 1] --+--(mux by [bank of ahead])--> [dout]
          -> ...      --+

``dout`` is the same word on the same clock as without banks: at each enabled clock the
banks read the word ``addr`` will hold, and ``dout`` takes it when ``addr`` holds it. So it
needs ``en`` and an ``ahead`` that agrees with ``addr``; the first enabled clock after
``addr`` is reset must not be the one its word is used on (the engine issues nothing then).
Each bank has its own ``.mem`` file, ``<file>_bank<b>.mem``, written beside ``path``.
"""
from __future__ import annotations

from pathlib import Path

from myhdl import always, block

from model.export import read_mem, write_mem

# deepest single DP16KD (ECP5 block RAM) of each data width: 16 kbit as 1, 2, 4, 9, 18 or 36
# bits a word (the widest mode stacks side by side for wider words)
DP16KD_SHAPES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))


def bank_words(bits: int) -> int:
    """Words a bank of ``bits``-bit words holds: one DP16KD deep, side by side for width."""
    for width, depth in DP16KD_SHAPES:
        if bits <= width:
            return depth
    return DP16KD_SHAPES[-1][1]


def bank_path(path, b: int) -> Path:
    path = Path(path)
    return path.with_name(f"{path.stem}_bank{b}{path.suffix}")


def load(path, bits: int, signed: bool) -> tuple[int, ...]:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"rom: init file {path} does not exist (run the export first)")
    return tuple(int(v) for v in read_mem(path, bits, signed=signed))


@block
def rom(clk, addr, dout, *, path, signed: bool | None = None, en=None, ahead=None):
    """``dout`` <= word ``addr`` of ``path`` on each rising edge of ``clk``; with ``ahead``
    (and ``en``), a ROM deeper than ``bank_words`` reads in banks (the module docstring)."""
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
    if ahead is not None and en is not None and depth > bank_words(bits):
        if hasattr(rom, "verilog_code"):  # an earlier rom's template: this one is its banks'
            del rom.verilog_code
        return banked(clk, ahead, dout, en, words=words, path=Path(path), memname=memname)
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


@block
def banked(clk, ahead, dout, en, *, words: tuple, path: Path, memname: str):
    """The banked read of ``rom``: a register per bank reads word ``ahead`` of its bank; the
    bank of ``ahead`` is kept beside them; ``dout`` takes that bank's register."""
    bits = len(dout)
    size = bank_words(bits)
    n = -(-len(words) // size)
    depth = len(words)
    for b in range(n):
        chunk = words[b * size:(b + 1) * size]
        write_mem(bank_path(path, b), [w & ((1 << bits) - 1) for w in chunk], bits)
    low = (size - 1).bit_length()
    sel_bits = len(ahead) - low  # the bank number: the address bits above a bank
    early = [0]  # the word the banks hold (the Python model of the bank registers)

    @always(clk.posedge)
    def read():
        if en:
            dout.next = early[0]
            early[0] = words[int(ahead)] if ahead < depth else 0

    dout.driven = "reg"
    ahead.read = True
    en.read = True
    top = bits - 1
    name = f"{memname}_${{dout}}"
    lines = [f"reg [{sel_bits - 1}:0] {name}_sel;"]
    for b in range(n):
        last = min(size, depth - b * size) - 1
        lines += [f"reg [{top}:0] {name}_b{b} [0:{last}];",
                  f"reg [{top}:0] {name}_q{b};",
                  f'initial $$readmemh("{bank_path(path, b).name}", {name}_b{b});']
    lines.append("always @(posedge $clk) begin")
    lines.append("    if ($en) begin")
    lines.append(f"        {name}_sel <= $ahead[{len(ahead) - 1}:{low}];")
    for b in range(n):
        last = min(size, depth - b * size) - 1
        index = f"$ahead[{max(0, last.bit_length() - 1)}:0]" if last else "0"
        lines.append(f"        {name}_q{b} <= {name}_b{b}[{index}];")
    lines.append(f"        case ({name}_sel)")
    for b in range(n):
        lines.append(f"            {b}: $dout <= {name}_q{b};")
    lines.append(f"            default: $dout <= {bits}'d0;")
    lines += ["        endcase", "    end", "end", ""]
    banked.verilog_code = "\n" + "\n".join(lines)
    return read
