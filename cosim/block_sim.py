"""One converted block in Verilator, clock by clock: the same stimulus a MyHDL testbench gives,
the outputs of every clock back as integers.

``run_stream`` runs a one-input, one-output stream block with a handshaking source and sink
(random gaps and stalls) in the harness itself.

For block tests that need volume (property tests draw many parameter sets, each a converted
block): Icarus under MyHDL's Cosimulation runs a few thousand clocks a second, Verilator
millions, so the cost of a run is its build (a few seconds).

``run(vfile, top, inputs, outputs, stimulus)``:

    inputs     [(port, bits)]: driven from ``stimulus`` (clk and rst are the harness's)
    outputs    [(port, bits, signed)]: read every clock
    stimulus   one row per clock: the input ports' values in ``inputs`` order

The harness holds ``rst`` for 3 clocks, then applies row i of the stimulus at the falling edge
before rising edge i and reads the outputs at the falling edge after it, so ``result[port][i]``
is the port's value after rising edge i (as a MyHDL testbench reading at each posedge sees it).
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from . import icarus

HARNESS = """`timescale 1ns/1ps
module tb;
    reg clk = 1'b0;
    reg rst = 1'b1;
{decls}
    reg [{width}-1:0] stim [0:{n}-1];
    integer i, f;
    {top} dut (.clk(clk), .rst(rst){conns});
    always #5 clk = ~clk;
    initial begin
        $readmemh("stim.mem", stim);
        f = $fopen("out.txt", "w");
        repeat (3) @(posedge clk);
        @(negedge clk);
        rst = 1'b0;
        for (i = 0; i < {n}; i = i + 1) begin
            {{{lhs}}} = stim[i];
            @(posedge clk);
            @(negedge clk);
            $fdisplay(f, "{fmt}"{reads});
        end
        $fclose(f);
        $finish;
    end
endmodule
"""


def run(vfile: Path, top: str, inputs, outputs, stimulus, run_dir: Path | None = None) -> dict:
    """Build and run the harness around ``top`` (in ``vfile``, with the .mem files beside it);
    returns {output port: np.ndarray of int64, one value per stimulus row}."""
    vfile = Path(vfile).resolve()
    run_dir = Path(run_dir or vfile.parent / "verilator_block").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    stimulus = [list(map(int, row)) for row in stimulus]
    if not stimulus:
        raise ValueError("no stimulus")
    width = sum(bits for _, bits in inputs)
    words = []
    for row in stimulus:
        if len(row) != len(inputs):
            raise ValueError(f"a stimulus row has {len(row)} values for {len(inputs)} inputs")
        word = 0
        for (name, bits), value in zip(inputs, row):
            if not -(1 << bits) < value < 1 << bits:
                raise ValueError(f"{name}: {value} does not fit {bits} bits")
            word = (word << bits) | (value & ((1 << bits) - 1))
        words.append(f"{word:x}")
    (run_dir / "stim.mem").write_text("\n".join(words) + "\n")
    decls = [f"    reg [{bits}-1:0] {name} = 0;" for name, bits in inputs]
    decls += [f"    wire [{bits}-1:0] {name};" for name, bits, _ in outputs]
    text = HARNESS.format(
        decls="\n".join(decls), width=width, n=len(stimulus), top=top,
        conns="".join(f", .{name}({name})" for name, *_ in list(inputs) + list(outputs)),
        lhs=", ".join(name for name, _ in inputs),
        fmt=" ".join("%h" for _ in outputs), reads="".join(f", {name}" for name, *_ in outputs))
    (run_dir / "tb.v").write_text(text)
    for mem in vfile.parent.glob("*.mem"):
        if mem.parent != run_dir:
            (run_dir / mem.name).write_bytes(mem.read_bytes())
    _build_and_run(run_dir, vfile)
    rows = (run_dir / "out.txt").read_text().split()
    values = np.array([int(v, 16) for v in rows], dtype=object).reshape(len(stimulus),
                                                                      len(outputs))
    result = {}
    for k, (name, bits, signed) in enumerate(outputs):
        col = values[:, k]
        if signed:
            col = np.array([v - (1 << bits) if v >> (bits - 1) else v for v in col], dtype=object)
        result[name] = col.astype(np.int64) if bits <= 63 else col
    return result


STREAM_HARNESS = """`timescale 1ns/1ps
module tb;
    reg clk = 1'b0;
    reg rst = 1'b1;
    reg s_valid = 1'b0;
    reg [{bits}-1:0] s_data = 0;
    reg m_ready = 1'b0;
    wire s_ready, m_valid;
    wire [{bits}-1:0] m_data;
    reg [{bits}-1:0] vals [0:{n}-1];
    integer sent = 0, got = 0, cycle = 0, f, dummy;
    reg taken = 1'b0;
    {top} dut (.clk(clk), .rst(rst), .s_valid(s_valid), .s_data(s_data), .s_ready(s_ready),
               .m_valid(m_valid), .m_data(m_data), .m_ready(m_ready));
    always #5 clk = ~clk;
    initial begin
        $readmemh("vals.mem", vals);
        f = $fopen("out.txt", "w");
        dummy = $urandom({seed});
        repeat (3) @(posedge clk);
        @(negedge clk);
        rst = 1'b0;
    end
    // the edge: what the block takes and gives (values before the edge's updates)
    always @(posedge clk) begin
        if (!rst) begin
            if (s_valid && s_ready) taken = 1'b1;
            if (m_valid && m_ready) begin
                $fdisplay(f, "%h", m_data);
                got = got + 1;
            end
        end
    end
    // between edges: the source offers the next value (random gaps, held until taken), the
    // sink is ready or not (random stalls)
    always @(negedge clk) begin
        if (!rst) begin
            cycle = cycle + 1;
            if (taken) begin
                sent = sent + 1;
                taken = 1'b0;
                s_valid = 1'b0;
            end
            if (!s_valid && sent < {n} && ($urandom % 100) >= {gap}) begin
                s_valid = 1'b1;
                s_data = vals[sent];
            end
            m_ready = ($urandom % 100) >= {stall};
            if (got >= {n_out} || cycle > {max_cycles}) begin
                if (got < {n_out}) $display("TIMEOUT after %0d cycles: %0d of {n_out} outputs", cycle, got);
                $fclose(f);
                $finish;
            end
        end
    end
endmodule
"""


def run_stream(vfile: Path, top: str, values, n_out: int, bits: int, *, gap: int = 0,
               stall: int = 0, seed: int = 1, run_dir: Path | None = None,
               max_cycles: int | None = None) -> list[int]:
    """A one-input, one-output stream block (ports clk, rst, s_valid/s_data/s_ready,
    m_valid/m_data/m_ready) in Verilator: ``values`` (``bits``-wide words, signed values
    allowed) offered with ``gap`` percent of clocks idle, the output taken with ``stall``
    percent not ready; returns the first ``n_out`` output words (unsigned)."""
    vfile = Path(vfile).resolve()
    run_dir = Path(run_dir or vfile.parent / "verilator_stream").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    mask = (1 << bits) - 1
    (run_dir / "vals.mem").write_text("\n".join(f"{int(v) & mask:x}" for v in values) + "\n")
    limit = max_cycles or 40 * (len(values) + n_out) + 2000
    (run_dir / "tb.v").write_text(STREAM_HARNESS.format(
        bits=bits, n=len(values), n_out=n_out, top=top, seed=seed, gap=gap, stall=stall,
        max_cycles=limit))
    for mem in vfile.parent.glob("*.mem"):
        if mem.parent != run_dir:
            (run_dir / mem.name).write_bytes(mem.read_bytes())
    _build_and_run(run_dir, vfile)
    text = (run_dir / "out.txt").read_text().split()
    if len(text) < n_out:
        raise AssertionError(f"{top}: {len(text)} of {n_out} outputs before the time limit")
    return [int(v, 16) for v in text[:n_out]]


def _build_and_run(run_dir: Path, vfile: Path) -> None:
    exe = run_dir / "obj_dir" / "Vtb"
    cmd = [icarus.tool("verilator"), "--binary", "-O1", "-Wno-fatal", "-Wno-lint", "-Wno-style",
           "-Wno-TIMESCALEMOD", "--top-module", "tb", "tb.v", str(vfile)]
    proc = subprocess.run(cmd, cwd=run_dir, capture_output=True, text=True,
                          env=icarus.verilator_env(2))
    if proc.returncode or not exe.exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise AssertionError(f"verilator build failed:\n{tail}")
    proc = subprocess.run([str(exe)], cwd=run_dir, capture_output=True, text=True)
    if proc.returncode or "TIMEOUT" in proc.stdout:
        raise AssertionError(f"{exe.name} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
