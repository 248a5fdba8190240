"""pack: SIMD int8 values per word, lane 0 first, under gaps and stalls; converted Verilog."""
import numpy as np
import pytest

from cosim import icarus
from hdl.cnn.pack import pack
from hdl.lib.stream import Stream
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


@pytest.mark.parametrize("lanes,simd", [(2, 4), (4, 4), (8, 2), (4, 1)])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.4, 0.4)])
def test_wide_beats(tmp_path, lanes, simd, gap, stall):
    """Beats of several lanes (a wide drain's output) gathered into wider words or split into
    narrower ones: the same values in the same order, one output word a clock when free."""
    values = np.random.default_rng(lanes * 10 + simd).integers(-128, 128, 16 * max(lanes, simd))
    s, m = Stream(8 * lanes, signed=False), Stream(8 * simd, signed=False)
    out, when = stream_run(tmp_path, lambda clk, rst: pack(clk, rst, s, m, simd=simd,
                                                           lanes=lanes),
                           "pack_dut", s, m, pack_words(values, lanes), len(values) // simd,
                           gap=gap, stall=stall)
    assert out == pack_words(values, simd)
    if gap == 0 and stall == 0:
        assert np.all(np.diff(when) == max(1, simd // lanes))


@pytest.mark.parametrize("hold", [1, 3, 6])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.4, 0.4)])
def test_split_holds_a_burst(tmp_path, hold, gap, stall):
    """Split with ``hold`` queued words: the same words under gaps and stalls; back to back with
    the output always ready, at least the first hold + 1 beats are taken on consecutive
    clocks, later ones wait for room, and a word leaves every clock."""
    lanes, simd = 4, 1
    values = np.random.default_rng(hold).integers(-128, 128, 12 * lanes)
    s, m = Stream(8 * lanes, signed=False), Stream(8 * simd, signed=False)
    taken = []
    out, when = stream_run(tmp_path, lambda clk, rst: pack(clk, rst, s, m, simd=simd,
                                                           lanes=lanes, hold=hold),
                           "pack_dut", s, m, pack_words(values, lanes), len(values),
                           gap=gap, stall=stall, in_cycles=taken)
    assert out == pack_words(values, simd)
    if gap == 0 and stall == 0:
        assert np.all(np.diff(taken[:hold + 1]) == 1) and np.any(np.diff(taken) > 1)
        assert np.all(np.diff(when) == 1)


def test_converted_verilog_in_icarus(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    values = np.random.default_rng(0).integers(-128, 128, 36)
    out, _ = simulate(tmp_path, values, 3, gap=0.3, stall=0.3, hdl="icarus")
    assert out == pack_words(values, 3)
    icarus.verilator_lint(tmp_path / "pack_dut.v", "pack_dut")
    # wide beats split (4 lanes -> 2): the holding queue in Verilog, one word and three
    for hold in (1, 3):
        s, m = Stream(32, signed=False), Stream(16, signed=False)
        split_dir = tmp_path / f"split{hold}"
        split_dir.mkdir()
        out, _ = stream_run(split_dir, lambda clk, rst: pack(clk, rst, s, m, simd=2, lanes=4,
                                                             hold=hold),
                            "split_dut", s, m, pack_words(values, 4), 18, gap=0.3, stall=0.3,
                            hdl="icarus")
        assert out == pack_words(values, 2)
        icarus.verilator_lint(split_dir / "split_dut.v", "split_dut")


def test_bad_parameters():
    clk, rst = make_clk_rst()
    with pytest.raises(ValueError, match="simd=0"):
        pack(clk, rst, Stream(8), Stream(8, signed=False), simd=0)
    with pytest.raises(ValueError, match="needs 16"):
        pack(clk, rst, Stream(8), Stream(8, signed=False), simd=2)
    with pytest.raises(ValueError, match="hold=0"):
        pack(clk, rst, Stream(32, signed=False), Stream(8, signed=False), simd=1, lanes=4, hold=0)
    with pytest.raises(ValueError, match="SIMD=3 and the 2 channels"):
        pack(clk, rst, Stream(16, signed=False), Stream(24, signed=False), simd=3, lanes=2)
