"""hdl/__init__.py's two MyHDL adaptations: a caller stack without source lookups (same frames,
same names) and fresh block names for every top (the same Verilog however often it is built)."""
import inspect

from myhdl import _block, _instance

import hdl
from hdl.board import boards
from hdl.lib.fifo import fifo
from hdl.lib.stream import Stream
from tests.hdl.helpers import build_top, make_clk_rst


def test_same_frames_and_names_as_inspect_stack():
    def inner():
        return inspect.stack(), hdl._stack()

    slow, fast = (lambda: inner())()
    assert len(slow) > len(fast) == 8  # the innermost eight: MyHDL reads records 2 to 5
    assert [(r[0], r[3]) for r in fast] == [(r.frame, r.function) for r in slow[:8]]
    assert [r[3] for r in fast[:3]] == ["inner", "<lambda>",
                                        "test_same_frames_and_names_as_inspect_stack"]


def test_myhdl_modules_use_it():
    assert _block.inspect.stack is hdl._stack and _instance.inspect.stack is hdl._stack
    assert inspect.stack is not hdl._stack       # the rest of the process keeps the real one


def test_a_top_built_twice_in_one_process_has_the_same_names(tmp_path):
    """The board top converted twice, the second after a few blocks elaborated for simulation:
    the same signal names (MyHDL would count on from the simulated instances and append _0 to
    every block name the second time)."""
    board = boards.get("icebreaker")

    def build(folder, simulated):
        for _ in range(simulated):
            fifo(*make_clk_rst(), Stream(8), Stream(8), depth=4)
        return build_top(folder, board, "digits_cnn")

    first, second = (build(tmp_path / d, n) for d, n in (("a", 0), ("b", 3)))
    names = [{ln.split()[-1] for ln in v.read_text().splitlines() if ln.startswith("reg ")}
             for v in (first, second)]
    assert names[0] == names[1]
    assert any(n.startswith("board_core0_camera_system0_network0") for n in names[0])
