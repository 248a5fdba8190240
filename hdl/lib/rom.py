"""Synchronous ROM initialised from an exported ``.mem`` file.

The same file is read twice: by MyHDL simulation here (``model.export.read_mem``) and by the
converted Verilog through ``$readmemh`` (user-defined Verilog code), so no weight is ever copied
into HDL source. The Verilog names the file without a folder: simulate or synthesize in the
folder that holds the ``.mem`` files (``make verilog`` copies them beside the ``.v``).

Ports: ``clk``; ``addr`` (unsigned); ``dout`` (registered: the word at ``addr`` one clock
later, or ``latency`` = 2 clocks later); optional ``en`` (read enable: ``dout`` holds while it
is low). One read per clock, no reset: the shape Yosys maps to block RAM (RAMB18/36 on
7-series, SB_RAM40_4K on iCE40) when it is large enough. Words may be wider than 64 bits
(packed weight words). The Verilog memory is named after the file and ``dout``, so several ROMs
of one file (a wide drain's lanes) can sit in one converted module.

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

**Latency 2.** A block RAM's read register is the RAM's own (Yosys merges the register after
the read into the RAM), so whatever follows ``dout`` shares a clock with the RAM's slow
clock-to-out. With ``latency=2`` (and ``en``) a fabric register follows the read: the word at
``addr`` is on ``dout`` two enabled clocks later, and ``dout``'s clock starts at a flip-flop.
Banked, each bank's word goes into a fabric register of its own and the multiplexer comes a
clock later::

    ahead -> [bank 0] -> [reg] --+
          -> [bank 1] -> [reg] --+--(mux by [bank of ahead], delayed)--> [dout]
          -> ...                 --+
"""
from __future__ import annotations

from pathlib import Path

from myhdl import always, block

from model.export import read_mem, write_mem

from . import memories

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
def rom(clk, addr, dout, *, path, signed: bool | None = None, en=None, ahead=None,
        latency: int = 1):
    """``dout`` <= word ``addr`` of ``path`` on each rising edge of ``clk`` (``latency`` 2: a
    clock later, through a fabric register); with ``ahead`` (and ``en``), a ROM deeper than
    ``bank_words`` reads in banks (the module docstring)."""
    if latency not in (1, 2) or (latency == 2 and en is None):
        raise ValueError(f"rom {Path(path).name}: latency {latency} (1, or 2 with en)")
    bits = len(dout)
    if signed is None:
        signed = dout.min is not None and dout.min < 0
    words = load(path, bits, signed)
    depth = len(words)
    memories.note("rom", depth, memories.varying_bits(words, bits))
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
        return banked(clk, ahead, dout, en, words=words, path=Path(path), memname=memname,
                      latency=latency)
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

    en.read = True
    if latency == 2:
        early = [0]  # the RAM's read register (the Python model of it)

        @always(clk.posedge)
        def read_2():
            if en:
                dout.next = early[0]
                early[0] = words[int(addr)] if addr < depth else 0

        rom.verilog_code = """
reg [$top:0] ${memname}_$dout [0:$last];
reg [$top:0] ${memname}_${dout}_read;
initial $$readmemh("$fname", ${memname}_$dout);
always @(posedge $clk) begin
    if ($en) begin
        ${memname}_${dout}_read <= ${memname}_$dout[$addr];
        $dout <= ${memname}_${dout}_read;
    end
end
"""
        return read_2

    @always(clk.posedge)
    def read_en():
        if en:
            dout.next = words[int(addr)] if addr < depth else 0

    rom.verilog_code = """
reg [$top:0] ${memname}_$dout [0:$last];
initial $$readmemh("$fname", ${memname}_$dout);
always @(posedge $clk) begin
    if ($en) $dout <= ${memname}_$dout[$addr];
end
"""
    return read_en


@block
def banked(clk, ahead, dout, en, *, words: tuple, path: Path, memname: str, latency: int = 1):
    """The banked read of ``rom``: a register per bank reads word ``ahead`` of its bank; the
    bank of ``ahead`` is kept beside them; ``dout`` takes that bank's register (``latency``
    2: each bank's register and the bank number go through one more register first)."""
    bits = len(dout)
    size = bank_words(bits)
    n = -(-len(words) // size)
    depth = len(words)
    for b in range(n):
        chunk = words[b * size:(b + 1) * size]
        write_mem(bank_path(path, b), [w & ((1 << bits) - 1) for w in chunk], bits)
    low = (size - 1).bit_length()
    sel_bits = len(ahead) - low  # the bank number: the address bits above a bank
    early = [0] * latency  # the words the bank registers hold (their Python model)

    @always(clk.posedge)
    def read():
        if en:
            dout.next = early[-1]
            early[1:] = early[:-1]
            early[0] = words[int(ahead)] if ahead < depth else 0

    dout.driven = "reg"
    ahead.read = True
    en.read = True
    top = bits - 1
    name = f"{memname}_${{dout}}"
    # latency 2: _r (the fabric registers after the banks' own) and _sel2 one clock behind
    sel, out = (f"{name}_sel2", f"{name}_r") if latency == 2 else (f"{name}_sel", f"{name}_q")
    lines = [f"reg [{sel_bits - 1}:0] {name}_sel;"]
    if latency == 2:
        lines.append(f"reg [{sel_bits - 1}:0] {name}_sel2;")
    for b in range(n):
        last = min(size, depth - b * size) - 1
        lines += [f"reg [{top}:0] {name}_b{b} [0:{last}];",
                  f"reg [{top}:0] {name}_q{b};",
                  f'initial $$readmemh("{bank_path(path, b).name}", {name}_b{b});']
        if latency == 2:
            lines.append(f"reg [{top}:0] {name}_r{b};")
    lines.append("always @(posedge $clk) begin")
    lines.append("    if ($en) begin")
    lines.append(f"        {name}_sel <= $ahead[{len(ahead) - 1}:{low}];")
    if latency == 2:
        lines.append(f"        {name}_sel2 <= {name}_sel;")
    for b in range(n):
        last = min(size, depth - b * size) - 1
        index = f"$ahead[{max(0, last.bit_length() - 1)}:0]" if last else "0"
        lines.append(f"        {name}_q{b} <= {name}_b{b}[{index}];")
        if latency == 2:
            lines.append(f"        {name}_r{b} <= {name}_q{b};")
    lines.append(f"        case ({sel})")
    for b in range(n):
        lines.append(f"            {b}: $dout <= {out}{b};")
    lines.append(f"            default: $dout <= {bits}'d0;")
    lines += ["        endcase", "    end", "end", ""]
    banked.verilog_code = "\n" + "\n".join(lines)
    return read
