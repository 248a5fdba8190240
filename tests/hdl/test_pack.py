"""pack: SIMD int8 values per word, lane 0 first, under gaps and stalls; converted Verilog."""
import numpy as np
import pytest

from cosim import icarus
from hdl.pack import pack
from hdl.stream import Stream
from tests.hdl.helpers import make_clk_rst, need_tools, pack_words, stream_run


def simulate(tmp_path, values, simd, **kw):
    s, m = Stream(8), Stream(8 * simd, signed=False)
    return stream_run(tmp_path, lambda clk, rst: pack(clk, rst, s, m, simd=simd), "pack_dut", s,
                      m, values, len(values) // simd, **kw)


@pytest.mark.parametrize("simd", [1, 2, 3, 8])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.4, 0.4)])
def test_random(tmp_path, simd, gap, stall):
    values = np.random.default_rng(simd).integers(-128, 128, 24 * simd)
    out, when = simulate(tmp_path, values, simd, gap=gap, stall=stall)
    assert out == pack_words(values, simd)
    if gap == 0 and stall == 0:
        assert np.all(np.diff(when) == simd)  # one value per clock


def test_converted_verilog_in_icarus(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    values = np.random.default_rng(0).integers(-128, 128, 36)
    out, _ = simulate(tmp_path, values, 3, gap=0.3, stall=0.3, hdl="icarus")
    assert out == pack_words(values, 3)
    icarus.verilator_lint(tmp_path / "pack_dut.v", "pack_dut")


def test_bad_parameters():
    clk, rst = make_clk_rst()
    with pytest.raises(ValueError, match="simd=0"):
        pack(clk, rst, Stream(8), Stream(8, signed=False), simd=0)
    with pytest.raises(ValueError, match="needs 16"):
        pack(clk, rst, Stream(8), Stream(8, signed=False), simd=2)
