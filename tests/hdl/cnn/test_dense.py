"""dense == golden.dense: random and real layers (both requant modes), several PE/SIMD, gaps,
stalls, extremes, cycle model, MyHDL and the converted Verilog in Icarus."""
import re

import numpy as np
import pytest
from myhdl import Signal, intbv

from cosim import icarus
from hdl.cnn.dense import cycles, dense, trace
from hdl.cnn.parallel import Parallel, write_block_mems
from hdl.lib.stream import Stream
from model import golden, presets
from tests.hdl.helpers import mac_block_run, make_clk_rst, need_tools
from tests.hdl.layers import layer_input, make_layer


def simulate(tmp_path, layer, x, pe, simd, lanes=1, **kw):
    want = golden.dense(x, layer)
    got, when = mac_block_run(tmp_path, dense, want, layer, x, pe, simd,
                              cycles(layer, pe, simd, lanes), lanes=lanes, **kw)
    return got, want, when


@pytest.mark.parametrize("n_in,n_out,pe,simd,mode,relu", [
    (8, 4, 1, 1, "gemmlowp", True), (12, 6, 2, 3, "round", True), (16, 8, 8, 2, "round", False),
    (6, 10, 5, 6, "gemmlowp", False), (30, 3, 3, 5, "round", False)])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.3, 0.5)])
def test_random(tmp_path, n_in, n_out, pe, simd, mode, relu, gap, stall):
    rng = np.random.default_rng(n_in * 100 + n_out)
    layer = make_layer("dense", n_in, n_out, rng=rng, mode=mode, relu=relu,
                       zp_in=int(rng.integers(-128, 128)), zp_out=int(rng.integers(-128, 20)))
    x = rng.integers(-128, 128, (4, n_in)).astype(np.int8)
    got, want, _ = simulate(tmp_path, layer, x, pe, simd, gap=gap, stall=stall, seed=simd)
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(want)) >= min(8, want.size // 2), "outputs should spread over int8"


@pytest.mark.parametrize("weight,value,zp_in,mode", [(127, 127, -128, "gemmlowp"),
                                                     (-127, 127, -128, "round"),
                                                     (-128, -128, 127, "gemmlowp")])
def test_extremes(tmp_path, weight, value, zp_in, mode):
    """Largest products, a bias next to the int32 limit: the accumulator is exactly 32 bits.

    ("round" can prove a 63-bit integer multiplier only for accumulator bounds well below
    2^31 -- qnet.rounding_multiplier refuses larger ones -- so its bound is 2^28: 30 bits.)"""
    n_in, n_out = 16, 2
    fan = n_in * abs(weight) * 255
    top = (1 << 31) - 1 if mode == "gemmlowp" else 1 << 28
    bias = np.array([top - fan, -top + fan])
    layer = make_layer("dense", n_in, n_out, rng=np.random.default_rng(0), weights=weight,
                       bias=bias, zp_in=zp_in, zp_out=0, relu=False, mode=mode, spread=1 << 14)
    assert layer.acc_bits == (32 if mode == "gemmlowp" else 30)
    x = np.full((2, n_in), value, np.int8)
    x[1, ::3] = -1 - value
    got, want, _ = simulate(tmp_path, layer, x, 2, 4, gap=0.2, stall=0.2)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("model,index,pe,simd", [
    ("digits_cnn", 3, 2, 8), ("mnist_cnn", 6, 8, 8), ("mnist_cnn", 7, 1, 4)])
def test_real_layers(tmp_path, nets, digits, mnist, model, index, pe, simd):
    """Whole dense layers of both presets on real images: digits dense1 (72 -> 10, logits),
    mnist dense1 (576 -> 64, ReLU, 34-bit round multipliers), mnist dense2 (64 -> 10, logits)."""
    net = nets[model]
    layer = net.layers[index]
    data = digits if model == "digits_cnn" else mnist
    images = presets.get(model).to_float(data.test.x[:2])
    x = layer_input(net, layer.name, images).reshape(2, -1)
    got, want, _ = simulate(tmp_path, layer, x, pe, simd, gap=0.1, stall=0.2)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("n_in,n_out,pe,simd", [(8, 4, 1, 1), (16, 8, 8, 2), (24, 4, 2, 1),
                                                (64, 4, 4, 8)])
def test_cycle_model(tmp_path, n_in, n_out, pe, simd):
    layer = make_layer("dense", n_in, n_out, rng=np.random.default_rng(0))
    x = np.zeros((3, n_in), np.int8)
    _, want, when = simulate(tmp_path, layer, x, pe, simd)
    last = [when[(i + 1) * n_out - 1] for i in range(3)]
    assert [last[1] - last[0], last[2] - last[1]] == [cycles(layer, pe, simd)] * 2


@pytest.mark.parametrize("n_in,n_out,pe,simd", [(12, 4, 4, 3), (8, 16, 16, 1), (72, 10, 1, 4)])
def test_timing_model(tmp_path, n_in, n_out, pe, simd):
    """One vector into an empty block: trace() gives the clock of every output exactly."""
    layer = make_layer("dense", n_in, n_out, rng=np.random.default_rng(0))
    t_in = []
    _, _, when = simulate(tmp_path, layer, np.zeros((1, n_in), np.int8), pe, simd,
                          in_cycles=t_in)
    assert when == trace(layer, pe, simd, t_in)


@pytest.mark.parametrize("n_in,n_out,pe,simd,lanes", [(72, 10, 5, 2, 4), (16, 4, 1, 8, 2)])
def test_wide_input_beats(tmp_path, n_in, n_out, pe, simd, lanes):
    """Inputs ``lanes`` a beat (after a wide convolution), split or gathered into SIMD words:
    bit-exact under gaps and stalls; one image's output clocks are trace()'s, exactly."""
    rng = np.random.default_rng(n_in + lanes)
    layer = make_layer("dense", n_in, n_out, rng=rng, mode="round", zp_in=-5, zp_out=-128)
    x = rng.integers(-128, 128, (3, n_in)).astype(np.int8)
    got, want, _ = simulate(tmp_path, layer, x, pe, simd, lanes, gap=0.3, stall=0.4)
    np.testing.assert_array_equal(got, want)
    t_in = []
    _, _, when = simulate(tmp_path, layer, x[:1], pe, simd, lanes, in_cycles=t_in)
    t_vals = [t for t in t_in for _ in range(lanes)]
    assert when == trace(layer, pe, simd, t_vals, lanes=lanes)


@pytest.mark.parametrize("mode", ["gemmlowp", "round"])
def test_converted_verilog_in_icarus(tmp_path, mode):
    need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(12)
    layer = make_layer("dense", 12, 6, rng=rng, mode=mode, zp_in=5, zp_out=-128)
    x = rng.integers(-128, 128, (3, 12)).astype(np.int8)
    got, want, _ = simulate(tmp_path, layer, x, 3, 4, gap=0.3, stall=0.3, hdl="icarus")
    np.testing.assert_array_equal(got, want)
    icarus.verilator_lint(tmp_path / "dense_dut.v", "dense_dut")


@pytest.mark.parametrize("hdl", ["myhdl", "icarus"])
def test_deep_weight_rom_reads_in_banks(tmp_path, hdl):
    """600 x 8 weights at PE = SIMD = 1: a 4,800-word ROM, deeper than one block RAM, reads in
    three banks (2,048, 2,048 and 704 words) a clock early (hdl.lib.rom), each bank's word
    into a fabric register before the bank multiplexer: bit-exact under gaps and stalls, in
    MyHDL and in the converted Verilog, with the output clocks still trace()'s."""
    from hdl.lib import rom

    if hdl == "icarus":
        need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(21)
    layer = make_layer("dense", 600, 8, rng=rng, mode="round", zp_in=-3, zp_out=-100)
    x = rng.integers(-128, 128, (2, 600)).astype(np.int8)
    got, want, _ = simulate(tmp_path, layer, x, 1, 1, gap=0.2, stall=0.3, hdl=hdl)
    np.testing.assert_array_equal(got, want)
    banks = sorted(tmp_path.glob("*_weights_pe1_simd1_lane0_bank*.mem"))
    assert [len(b.read_text().split()) for b in banks] == [2048, 2048, 704]
    assert rom.bank_words(8) == 2048
    if hdl == "icarus":
        text = (tmp_path / "dense_dut.v").read_text()
        assert text.count("$readmemh(\"dense1_weights_pe1_simd1_lane0_bank") == 3
        for b in range(3):  # the bank's read register, then its fabric register
            assert re.search(rf"_r{b} <= \w+_q{b};", text)
        icarus.verilator_lint(tmp_path / "dense_dut.v", "dense_dut")
    else:
        t_in = []
        _, _, when = simulate(tmp_path, layer, x[:1], 1, 1, in_cycles=t_in)
        assert when == trace(layer, 1, 1, t_in)


def test_bad_parameters(tmp_path):
    clk, rst = make_clk_rst()
    layer = make_layer("dense", 12, 6, rng=np.random.default_rng(0))
    paths = write_block_mems(layer, tmp_path, Parallel(1, 1))
    with pytest.raises(ValueError, match="PE=4 must divide its 6 output"):
        dense(clk, rst, Stream(8), Stream(8), layer=layer, pe=4, simd=1, paths=paths)
    with pytest.raises(ValueError, match="SIMD=5 must divide its 12 input"):
        dense(clk, rst, Stream(8), Stream(8), layer=layer, pe=1, simd=5, paths=paths)
    with pytest.raises(ValueError, match="not dense"):
        conv = make_layer("conv2d", 1, 2, h=4, w=4, rng=np.random.default_rng(0))
        dense(clk, rst, Stream(8), Stream(8), layer=conv, pe=1, simd=1, paths=paths)
    with pytest.raises(ValueError, match="needs 8"):
        dense(clk, rst, Stream(8), Stream(9), layer=layer, pe=1, simd=1, paths=paths)
    from hdl.lib.rom import rom
    addr, word = Signal(intbv(0, min=0, max=16)), Signal(intbv(0)[8:])
    with pytest.raises(ValueError, match="latency 2 .1, or 2 with en."):
        rom(clk, addr, word, path=paths["bias"], latency=2)
