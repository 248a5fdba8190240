"""Testbench plumbing shared by the block tests: clocks, runs in MyHDL or Icarus."""
from __future__ import annotations

import pytest
from myhdl import (
    ResetSignal,
    Signal,
    Simulation,
    StopSimulation,
    always,
    delay,
    instance,
)

from cosim import icarus


def clock(clk, period=10):
    @always(delay(period // 2))
    def tick():
        clk.next = not clk
    return tick


def make_clk_rst():
    return Signal(bool(0)), ResetSignal(0, active=1, isasync=False)


def need_tools(*names):
    """Skip only when a tool is truly absent (CI installs all of them with `make setup`)."""
    try:
        for name in names:
            icarus.tool(name)
        if "vvp" in names:
            icarus.vpi_path()
    except icarus.ToolMissing as exc:
        pytest.skip(str(exc))


def need_fpga(*names):
    """Skip only when a pinned FPGA tool (yosys, nextpnr-ice40, nextpnr-ecp5, icepack,
    ecppack) is truly absent (`make setup` installs them all from PyPI)."""
    from hdl.flow import synth as ys

    try:
        for name in names:
            ys.tool(name)
    except ys.SynthError as exc:
        pytest.skip(str(exc))


def reset(clk, rst, cycles=3):
    """Hold ``rst`` for ``cycles`` clocks from time 0 (converted Verilog starts with x)."""
    @instance
    def pulse():
        rst.next = rst.active
        for _ in range(cycles):
            yield clk.posedge
        rst.next = not rst.active
    return pulse


def play_levels(clk, sig, pieces, lead=5):
    """For ``yield from`` in a testbench: ``lead`` clocks, then each (level, clocks) piece of
    ``pieces`` on ``sig`` (a serial line, a bouncing button)."""
    for _ in range(lead):
        yield clk.posedge
    for level, clocks in pieces:
        sig.next = level
        for _ in range(clocks):
            yield clk.posedge


def run(parts, done, clk, max_cycles, rst=None):
    """Run until ``done()`` is true (checked every clock) or fail after ``max_cycles``.

    With ``rst``, a reset pulse of 3 clocks starts the run."""
    state = {"cycles": 0}
    if rst is not None:
        parts = list(parts) + [reset(clk, rst)]

    @instance
    def watchdog():
        while True:
            yield clk.posedge
            state["cycles"] += 1
            if done():
                raise StopSimulation
            if state["cycles"] >= max_cycles:
                raise StopSimulation("timeout")

    sim = Simulation(*parts, watchdog)
    sim.run(quiet=1)
    assert done(), f"testbench timed out after {max_cycles} cycles"
    return state["cycles"]


def stream_run(tmp_path, make, name, s, m, values, n_out, *, gap=0.0, stall=0.0, hdl="myhdl",
               seed=0, max_cycles=None, in_cycles=None):
    """Run a one-input, one-output stream block: ``make(clk, rst)`` builds it on ``s``/``m``.

    ``hdl="icarus"`` converts it into ``tmp_path`` and co-simulates the Verilog instead (ROM
    files must already be in ``tmp_path``). Returns (outputs, the clock of each output); with
    ``in_cycles`` (a list) also collects the clock each input value was taken.
    """
    from hdl.lib.stream import sink, source

    clk, rst = make_clk_rst()
    dut = make(clk, rst)
    if hdl == "icarus":
        need_tools("iverilog", "vvp")
        icarus.convert(dut, tmp_path, name)
        dut = icarus.cosimulation(tmp_path, name, clk=clk, rst=rst, s_valid=s.valid,
                                  s_data=s.data, s_ready=s.ready, m_valid=m.valid,
                                  m_data=m.data, m_ready=m.ready)
    out, when = [], []
    parts = [dut, clock(clk), source(clk, s, values, gap=gap, seed=seed, rst=rst),
             sink(clk, m, out, stall=stall, seed=seed + 1, cycles=when)]
    if in_cycles is not None:
        parts.append(taken(clk, s, in_cycles))
    limit = max_cycles or 20 * (len(values) + n_out) + 2000
    run(parts, lambda: len(out) >= n_out, clk, limit, rst=rst)
    return out, when


def taken(clk, s, cycles: list):
    """Record the clock (counted as ``sink`` counts) of every beat ``s`` transfers."""
    @instance
    def watch():
        count = 0
        while True:
            yield clk.posedge
            count += 1
            if s.valid and s.ready:
                cycles.append(count)
    return watch


def pack_words(values, simd):
    """int8 values (..., simd) -> packed words, lane i in bits [8i+7:8i] (hdl.cnn.pack's layout)."""
    import numpy as np

    lanes = np.asarray(values).astype(np.int64).reshape(-1, simd) & 0xFF
    return [sum(int(v) << (8 * i) for i, v in enumerate(row)) for row in lanes]


def mac_block_run(tmp_path, block, want, layer, x, pe, simd, cycles, *, taps=1, lanes=1, **kw):
    """Run a conv2d/dense block (``block``) on int8 ``x`` with its ROM files in ``tmp_path``;
    returns (outputs shaped like ``want``, the clock of each output value). ``lanes``: input
    values a beat; with ``taps`` > 1 (conv2d) a beat brings PE output values."""
    import numpy as np

    from hdl.lib.stream import Stream
    from hdl.cnn.parallel import Parallel, write_block_mems

    paths = write_block_mems(layer, tmp_path, Parallel(pe, simd, taps))
    s = Stream(8) if lanes == 1 else Stream(8 * lanes, signed=False)
    out_lanes = pe if taps > 1 else 1
    m = Stream(8) if out_lanes == 1 else Stream(8 * out_lanes, signed=False)
    extra = {"taps": taps} if taps > 1 else {}
    if lanes > 1:
        extra["lanes"] = lanes
    name = f"{layer.kind}_dut"
    values = x.ravel() if lanes == 1 else pack_words(x, lanes)
    out, when = stream_run(
        tmp_path, lambda clk, rst: block(clk, rst, s, m, layer=layer, pe=pe, simd=simd,
                                         paths=paths, **extra),
        name, s, m, values, want.size // out_lanes, max_cycles=len(x) * 4 * cycles + 5000, **kw)
    if out_lanes > 1:
        out = unpack_words(out, out_lanes)
        when = [t for t in when for _ in range(out_lanes)]
    return np.array(out, np.int8).reshape(want.shape), when


def unpack_words(words, lanes):
    """Packed words -> their int8 values, lane 0 first."""
    vals = []
    for word in words:
        for i in range(lanes):
            v = (int(word) >> (8 * i)) & 0xFF
            vals.append(v - 256 if v > 127 else v)
    return vals


def build_top(folder, board, model, camera: str = "qqvga"):
    """Convert ``board``'s top with ``model`` inside (its hardware config for the board's
    variant when there is one) and the OV7670 at ``camera``'s size into ``folder``; returns
    the top's .v."""
    from hdl.cnn import config as cfg
    from hdl.flow import build
    from model import preprocess, presets, qnet

    p = presets.get(model)
    net = qnet.from_tflite(p.tflite)
    variant = presets.hw_config(model, board.variant)
    conf = cfg.load(variant if variant.is_file() else presets.hw_config(model))
    return build.build_board(board, net, conf, preprocess.for_model(model, camera=camera),
                             folder, p.input_max)
