"""Testbench plumbing shared by the block tests: clocks, runs in MyHDL or Icarus."""
from __future__ import annotations

import pytest
from myhdl import ResetSignal, Signal, Simulation, StopSimulation, always, delay, instance

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


def reset(clk, rst, cycles=3):
    """Hold ``rst`` for ``cycles`` clocks from time 0 (converted Verilog starts with x)."""
    @instance
    def pulse():
        rst.next = rst.active
        for _ in range(cycles):
            yield clk.posedge
        rst.next = not rst.active
    return pulse


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
