"""debounce: a bouncing press and release each give one clean edge; short spikes give none."""
import pytest
from myhdl import Signal, instance

from cosim import icarus
from hdl.lib.debounce import debounce
from tests.hdl.helpers import clock, make_clk_rst, need_tools, play_levels, run

CLOCKS = 20


def simulate(tmp_path, pattern, hdl="myhdl"):
    """Play ``pattern`` ((level, clocks) pieces) on the button; return the clocks at which
    ``level`` changed, with the new level."""
    clk, rst = make_clk_rst()
    button, level = Signal(bool(0)), Signal(bool(0))
    if hdl == "myhdl":
        dut = debounce(clk, rst, button, level, clocks=CLOCKS)
    else:
        icarus.convert(debounce(clk, rst, button, level, clocks=CLOCKS), tmp_path, "db_dut")
        dut = icarus.cosimulation(tmp_path, "db_dut", clk=clk, rst=rst, button=button,
                                  level=level)
    edges, done, t = [], [False], [0]

    @instance
    def drive():
        yield from play_levels(clk, button, pattern)
        done[0] = True

    @instance
    def watch():
        prev = 0
        while True:
            yield clk.posedge
            t[0] += 1
            if int(level) != prev:
                prev = int(level)
                edges.append((t[0], prev))

    run([dut, clock(clk), drive, watch], lambda: done[0], clk, 10_000, rst=rst)
    return edges


BOUNCY = [(1, 3), (0, 2), (1, 1), (0, 4), (1, 60),      # press: bounces, then held
          (0, 2), (1, 3), (0, 60),                        # release: bounces, then open
          (1, CLOCKS - 5), (0, 40)]                       # a spike shorter than CLOCKS


@pytest.mark.parametrize("hdl", ["myhdl", "icarus"])
def test_one_edge_per_press(tmp_path, hdl):
    if hdl == "icarus":
        need_tools("iverilog", "vvp", "verilator")
    edges = simulate(tmp_path, BOUNCY, hdl)
    assert [lv for _, lv in edges] == [1, 0]
    # the level follows the last bounce once it has held CLOCKS clocks (+ the synchronizer)
    press_settled = 5 + 3 + 2 + 1 + 4
    assert press_settled + CLOCKS < edges[0][0] <= press_settled + CLOCKS + 4
    if hdl == "icarus":
        icarus.verilator_lint(tmp_path / "db_dut.v", "db_dut")


def test_bad_clocks():
    clk, rst = make_clk_rst()
    with pytest.raises(ValueError, match="clocks=0"):
        debounce(clk, rst, Signal(bool(0)), Signal(bool(0)), clocks=0)
