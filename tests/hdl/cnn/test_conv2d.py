"""conv2d == golden.conv2d: random and real layers, several PE/SIMD, gaps, stalls, extremes,
cycle model, MyHDL and the converted Verilog in Icarus."""
import re

import numpy as np
import pytest

from cosim import icarus
from hdl.cnn.conv2d import conv2d, cycles, trace
from hdl.cnn.parallel import Parallel, write_block_mems
from hdl.lib.stream import Stream
from model import golden, presets
from tests.hdl.helpers import mac_block_run, make_clk_rst, need_tools
from tests.hdl.layers import layer_input, make_layer, slice_layer


def simulate(tmp_path, layer, x, pe, simd, taps=1, lanes=1, **kw):
    want = golden.conv2d(x, layer)
    got, when = mac_block_run(tmp_path, conv2d, want, layer, x, pe, simd,
                              cycles(layer, pe, simd, taps, lanes), taps=taps, lanes=lanes, **kw)
    return got, want, when


@pytest.mark.parametrize("h,w,c_in,c_out,pe,simd,mode", [
    (5, 5, 1, 4, 1, 1, "gemmlowp"), (6, 5, 4, 6, 2, 2, "gemmlowp"), (4, 4, 2, 8, 8, 1, "gemmlowp"),
    (5, 6, 3, 4, 4, 3, "round"), (3, 3, 8, 2, 1, 4, "gemmlowp"), (4, 7, 6, 3, 3, 6, "gemmlowp")])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.3, 0.5)])
def test_random(tmp_path, h, w, c_in, c_out, pe, simd, mode, gap, stall):
    rng = np.random.default_rng(h * 1000 + w * 100 + c_in * 10 + c_out)
    layer = make_layer("conv2d", c_in, c_out, h=h, w=w, rng=rng, mode=mode,
                       zp_in=int(rng.integers(-128, 128)), zp_out=int(rng.integers(-128, 0)))
    x = rng.integers(-128, 128, (2, h, w, c_in)).astype(np.int8)
    got, want, _ = simulate(tmp_path, layer, x, pe, simd, gap=gap, stall=stall, seed=pe)
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(want)) >= min(8, want.size // 2), "outputs should spread over int8"


@pytest.mark.parametrize("weight,value,zp_in", [(127, 127, -128), (-127, 127, -128),
                                                (127, -128, 127), (-128, -128, 127)])
def test_extremes(tmp_path, weight, value, zp_in):
    """Largest products and a bias next to the int32 limit: a short accumulator would fail."""
    c_in, c_out = 4, 2
    fan = 9 * c_in * abs(weight) * 255
    bias = np.array([(1 << 31) - 1 - fan, -(1 << 31) + 1 + fan])
    rng = np.random.default_rng(0)
    layer = make_layer("conv2d", c_in, c_out, h=4, w=4, rng=rng, weights=weight, bias=bias,
                       zp_in=zp_in, zp_out=0, relu=False, spread=1 << 14)
    assert layer.acc_bits == 32
    x = np.full((2, 4, 4, c_in), value, np.int8)
    x[1, ::2] = -1 - value  # the other extreme on alternate rows
    got, want, _ = simulate(tmp_path, layer, x, 2, 2, gap=0.2, stall=0.2)
    np.testing.assert_array_equal(got, want)


def test_real_digits_conv1(tmp_path, nets, digits):
    """digits_cnn conv1 whole (8x8x1 -> 6x6x8) on real test digits."""
    net = nets["digits_cnn"]
    layer = net.layers[0]
    x = layer_input(net, layer.name, presets.get("digits_cnn").to_float(digits.test.x[:2]))
    got, want, _ = simulate(tmp_path, layer, x, 4, 1, gap=0.1, stall=0.2)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("index,outs,hw,pe,simd", [(0, 32, (8, 8), 8, 1), (2, 16, (6, 6), 4, 8),
                                                   (4, 8, (5, 5), 2, 16)])
def test_real_mnist_slices(tmp_path, nets, mnist, index, outs, hw, pe, simd):
    """mnist_cnn conv1/conv2/conv3: real activations cropped to ``hw``, the first ``outs``
    output channels, with the layer's own weights, zero points and multipliers."""
    net = nets["mnist_cnn"]
    layer = net.layers[index]
    x = layer_input(net, layer.name, presets.get("mnist_cnn").to_float(mnist.test.x[:1]))
    x = x[:, 3:3 + hw[0], 3:3 + hw[1]] if x.shape[1] > hw[0] else x[:, :hw[0], :hw[1]]
    part = slice_layer(layer, outs, hw)
    got, want, _ = simulate(tmp_path, part, np.ascontiguousarray(x), pe, simd, gap=0.1, stall=0.1)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("h,w,c_in,c_out,pe,simd", [
    (5, 5, 1, 4, 1, 1), (5, 6, 3, 4, 4, 3), (4, 5, 8, 2, 1, 4), (4, 5, 8, 2, 1, 8),
    (4, 8, 6, 4, 4, 1), (6, 6, 1, 16, 16, 1), (6, 9, 2, 2, 2, 1), (4, 12, 2, 1, 1, 2),
    (5, 7, 4, 2, 2, 4)])
def test_cycle_model(tmp_path, h, w, c_in, c_out, pe, simd):
    """Back-to-back images, no gaps or stalls: image-to-image spacing == cycles() exactly."""
    layer = make_layer("conv2d", c_in, c_out, h=h, w=w, rng=np.random.default_rng(0))
    x = np.zeros((3, h, w, c_in), np.int8)
    _, want, when = simulate(tmp_path, layer, x, pe, simd)
    per = want[0].size
    last = [when[(i + 1) * per - 1] for i in range(3)]
    assert [last[1] - last[0], last[2] - last[1]] == [cycles(layer, pe, simd)] * 2


@pytest.mark.parametrize("h,w,c_in,c_out,pe,simd", [
    (5, 6, 3, 4, 4, 3), (4, 8, 6, 4, 4, 1), (6, 6, 1, 16, 16, 1), (5, 7, 4, 2, 2, 4)])
def test_timing_model(tmp_path, h, w, c_in, c_out, pe, simd):
    """One image into an empty block: trace() gives the clock of every output value exactly."""
    layer = make_layer("conv2d", c_in, c_out, h=h, w=w, rng=np.random.default_rng(0))
    t_in = []
    _, _, when = simulate(tmp_path, layer, np.zeros((1, h, w, c_in), np.int8), pe, simd,
                          in_cycles=t_in)
    assert when == trace(layer, pe, simd, t_in)


# all 9 taps a clock: one beat of the input (lanes 1), gathered (2 -> 4) and split (4 -> 1)
@pytest.mark.parametrize("h,w,c_in,c_out,pe,simd,lanes", [
    (6, 6, 1, 8, 8, 1, 1), (5, 6, 4, 6, 2, 4, 2), (5, 6, 4, 8, 4, 1, 4)])
def test_all_taps_in_one_clock(tmp_path, h, w, c_in, c_out, pe, simd, lanes):
    """PE x 9 x SIMD multipliers, PE results a beat: bit-exact under gaps and stalls; back to
    back the image spacing is cycles() and every output's clock is trace()'s, exactly."""
    rng = np.random.default_rng(h * 1000 + w * 100 + c_in * 10 + c_out)
    layer = make_layer("conv2d", c_in, c_out, h=h, w=w, rng=rng,
                       zp_in=int(rng.integers(-128, 128)), zp_out=int(rng.integers(-128, 0)))
    x = rng.integers(-128, 128, (2, h, w, c_in)).astype(np.int8)
    got, want, _ = simulate(tmp_path, layer, x, pe, simd, 9, lanes, gap=0.3, stall=0.4)
    np.testing.assert_array_equal(got, want)
    t_in = []
    _, _, when = simulate(tmp_path, layer, np.zeros((3, h, w, c_in), np.int8), pe, simd, 9,
                          lanes, in_cycles=t_in)
    per = want[0].size
    last = [when[(i + 1) * per - 1] for i in range(3)]
    assert [last[1] - last[0], last[2] - last[1]] == [cycles(layer, pe, simd, 9, lanes)] * 2
    t_vals = [t for t in t_in for _ in range(lanes)][:h * w * c_in]
    assert when[:per] == trace(layer, pe, simd, t_vals, taps=9, lanes=lanes)


# k x k, stride, 'same': (h, w, c_in, c_out, k, stride, same, pe, simd)
GEOMETRIES = [(6, 7, 2, 4, 1, 1, False, 2, 1), (7, 6, 3, 4, 1, 2, False, 4, 3),
              (5, 6, 2, 3, 3, 1, True, 3, 2), (7, 8, 1, 4, 3, 2, True, 2, 1),
              (6, 7, 2, 2, 3, 2, True, 1, 2), (8, 7, 3, 2, 3, 2, False, 2, 1),
              (6, 6, 2, 4, 5, 1, True, 2, 2), (9, 8, 1, 3, 5, 2, True, 3, 1),
              (7, 7, 1, 2, 5, 1, False, 2, 1), (8, 9, 1, 2, 7, 2, True, 1, 1),
              (4, 5, 2, 2, 7, 1, True, 2, 1)]


def geometry_layer(h, w, c_in, c_out, k, stride, same, mode="gemmlowp"):
    rng = np.random.default_rng(h * 1000 + w * 100 + int(np.sum(k)) * 10 + stride)
    return rng, make_layer("conv2d", c_in, c_out, h=h, w=w, rng=rng, k=k, stride=stride,
                           same=same, mode=mode, zp_in=int(rng.integers(-128, 128)),
                           zp_out=int(rng.integers(-128, 0)))


@pytest.mark.parametrize("h,w,c_in,c_out,k,stride,same,pe,simd", GEOMETRIES)
def test_kernel_stride_padding(tmp_path, h, w, c_in, c_out, k, stride, same, pe, simd):
    """k x k, stride 1 or 2, 'valid' or 'same' (the zero point inserted on the stream):
    bit-exact under gaps and stalls; back to back, the image spacing is cycles() and every
    output's clock is trace()'s, exactly."""
    rng, layer = geometry_layer(h, w, c_in, c_out, k, stride, same)
    x = rng.integers(-128, 128, (2, h, w, c_in)).astype(np.int8)
    got, want, _ = simulate(tmp_path, layer, x, pe, simd, gap=0.3, stall=0.4, seed=k)
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(want)) >= min(8, want.size // 2), "outputs should spread over int8"
    t_in = []
    zeros = np.zeros((3, h, w, c_in), np.int8)
    _, want, when = simulate(tmp_path, layer, zeros, pe, simd, in_cycles=t_in)
    per = want[0].size
    last = [when[(i + 1) * per - 1] for i in range(3)]
    assert [last[1] - last[0], last[2] - last[1]] == [cycles(layer, pe, simd)] * 2
    assert when == trace(layer, pe, simd, t_in)


@pytest.mark.parametrize("h,w,c_in,c_out,k,stride,same,pe,simd,lanes,taps", [
    (6, 6, 2, 4, 5, 1, True, 2, 1, 1, "all"), (7, 8, 2, 4, 3, 2, True, 4, 2, 2, "all"),
    (6, 6, 2, 3, 1, 2, False, 3, 1, 2, "all"),
    (6, 6, 2, 4, 3, 1, True, 2, 2, 1, "row"), (7, 8, 2, 4, 5, 2, True, 2, 1, 2, "row"),
    (5, 6, 4, 8, 3, 1, False, 4, 1, 4, "row"), (9, 6, 1, 3, (4, 3), 2, True, 3, 1, 1, "row")])
def test_taps_at_once_of_any_kernel(tmp_path, h, w, c_in, c_out, k, stride, same, pe, simd,
                                    lanes, taps):
    """All kh*kw taps a clock (PE x kh*kw x SIMD multipliers) or a kernel row a clock (PE x kw
    x SIMD, a window in kh clocks), on padded, strided, square or rectangular layers:
    bit-exact under gaps and stalls, models exact."""
    rng, layer = geometry_layer(h, w, c_in, c_out, k, stride, same)
    kh, kw = (k, k) if np.isscalar(k) else k
    taps = kh * kw if taps == "all" else kw
    x = rng.integers(-128, 128, (2, h, w, c_in)).astype(np.int8)
    got, want, _ = simulate(tmp_path, layer, x, pe, simd, taps, lanes, gap=0.3, stall=0.4)
    np.testing.assert_array_equal(got, want)
    t_in = []
    _, _, when = simulate(tmp_path, layer, np.zeros((3, h, w, c_in), np.int8), pe, simd, taps,
                          lanes, in_cycles=t_in)
    per = want[0].size
    last = [when[(i + 1) * per - 1] for i in range(3)]
    assert [last[1] - last[0], last[2] - last[1]] == [cycles(layer, pe, simd, taps, lanes)] * 2
    t_vals = [t for t in t_in for _ in range(lanes)]
    assert when == trace(layer, pe, simd, t_vals, taps=taps, lanes=lanes)


def test_padded_strided_verilog_in_icarus(tmp_path):
    """A 5x5 stride-2 'same' layer (pad2d, the decimating line buffer) converted, linted and
    co-simulated."""
    need_tools("iverilog", "vvp", "verilator")
    rng, layer = geometry_layer(7, 6, 2, 2, 5, 2, True)
    x = rng.integers(-128, 128, (2, 7, 6, 2)).astype(np.int8)
    got, want, _ = simulate(tmp_path, layer, x, 2, 2, gap=0.3, stall=0.3, hdl="icarus")
    np.testing.assert_array_equal(got, want)
    icarus.verilator_lint(tmp_path / "conv2d_dut.v", "conv2d_dut")


def test_converted_verilog_in_icarus(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(11)
    layer = make_layer("conv2d", 4, 4, h=4, w=5, rng=rng, zp_in=-3, zp_out=-128)
    x = rng.integers(-128, 128, (2, 4, 5, 4)).astype(np.int8)
    got, want, _ = simulate(tmp_path, layer, x, 2, 2, gap=0.3, stall=0.3, hdl="icarus")
    np.testing.assert_array_equal(got, want)
    icarus.verilator_lint(tmp_path / "conv2d_dut.v", "conv2d_dut")
    # the enable copies carry the names the ECP5 flow keeps apart (hdl/flow/synth.py): one
    # ``en_dup`` a lane (SIMD 2) and one an accumulator (PE 2), one ``full_dup`` a tap's job-buffer RAMs, one ``ready_dup``
    # for each of the line buffer's 16 register groups (stage 1's control, s.ready, its beat,
    # 2 row and 2 column memories, 9 window taps: each at most ``CHUNK`` bits here)
    text = (tmp_path / "conv2d_dut.v").read_text()
    copies = {name: len(set(re.findall(rf"^reg \w*_{name};", text, re.M)))
              for name in ("en_dup", "full_dup", "ready_dup")}
    assert copies == {"en_dup": 4, "full_dup": 9, "ready_dup": 16}


def test_bad_parameters(tmp_path):
    clk, rst = make_clk_rst()
    rng = np.random.default_rng(0)
    layer = make_layer("conv2d", 4, 6, h=5, w=5, rng=rng)
    paths = write_block_mems(layer, tmp_path, Parallel(1, 1))
    with pytest.raises(ValueError, match="PE=4 must divide its 6 output"):
        conv2d(clk, rst, Stream(8), Stream(8), layer=layer, pe=4, simd=1, paths=paths)
    with pytest.raises(ValueError, match="SIMD=3"):
        conv2d(clk, rst, Stream(8), Stream(8), layer=layer, pe=1, simd=3, paths=paths)
    small = make_layer("conv2d", 1, 2, h=2, w=5, rng=rng)
    with pytest.raises(ValueError, match="H=2"):
        conv2d(clk, rst, Stream(8), Stream(8), layer=small, pe=1, simd=1, paths=paths)
    with pytest.raises(ValueError, match="needs 8"):
        conv2d(clk, rst, Stream(16), Stream(8), layer=layer, pe=1, simd=1, paths=paths)
    with pytest.raises(ValueError, match="taps=4 must be 1"):
        conv2d(clk, rst, Stream(8), Stream(8), layer=layer, pe=1, simd=1, paths=paths, taps=4)
    with pytest.raises(ValueError, match="SIMD=4 and the 3 channels"):
        conv2d(clk, rst, Stream(24, signed=False), Stream(8), layer=layer, pe=1, simd=4,
                paths=paths, lanes=3)
    with pytest.raises(ValueError, match="does not exist"):
        conv2d(clk, rst, Stream(8), Stream(8), layer=layer, pe=2, simd=1, paths={
            **paths, "weights": [tmp_path / "missing.mem"]})
    with pytest.raises(ValueError, match="1 weight ROM files for 2 lanes"):
        conv2d(clk, rst, Stream(8), Stream(8), layer=layer, pe=2, simd=2, paths=paths)

