"""depthwise == golden.depthwise: random layers at several kernels, strides, paddings and SIMD,
gaps and stalls, extremes, the cycle model clock for clock, the converted Verilog in Icarus."""
import numpy as np
import pytest

from cosim import icarus
from hdl.cnn import depthwise as dw
from hdl.lib.stream import Stream
from model import golden, qnet
from model.qnet import Layer
from tests.hdl.helpers import make_clk_rst, need_tools, pack_words, stream_run, unpack_words
from tests.hdl.layers import with_scales


def make_dw(c, *, h, w, rng, k=3, stride=1, same=False, mode="gemmlowp", zp_in=-128,
            zp_out=-128, relu=True, weights=None, bias=None, spread=3.0):
    """A depthwise layer (depth multiplier 1) with random weights and per-channel scales."""
    if weights is None:
        weights = rng.integers(-127, 128, (c, k, k))
    weights = np.broadcast_to(np.asarray(weights), (c, k, k)).astype(np.int8)
    if bias is None:
        bias = rng.integers(-20000, 20000, c)
    bias = np.broadcast_to(np.asarray(bias), (c,)).astype(np.int32)
    pad = (qnet.same_padding(h, k, stride) + qnet.same_padding(w, k, stride) if same
           else (0, 0, 0, 0))
    out_shape = ((h + pad[0] + pad[1] - k) // stride + 1, (w + pad[2] + pad[3] - k) // stride + 1,
                 c)
    layer = Layer("depthwise", "dw1", (h, w, c), out_shape, 0, zp_in=zp_in, zp_out=zp_out,
                  act_min=zp_out if relu else -128, act_max=127, relu=relu, weights=weights,
                  bias=bias, kernel=k, stride=stride, pad=pad)
    return with_scales(layer, rng, k * k, c, spread, mode)


def simulate(tmp_path, layer, x, simd, lanes=1, taps=None, **kw):
    """(outputs shaped like golden's, golden's, the clock of each output word); ``taps``: 1
    (one a clock) or None (all at once)."""
    want = golden.depthwise(x, layer)
    n_taps = int(np.prod(layer.weights.shape[1:]))
    taps = n_taps if taps is None else taps
    paths = dw.write_mems(layer, tmp_path, simd, taps)
    s = Stream(8) if lanes == 1 else Stream(8 * lanes, signed=False)
    m = Stream(8) if simd == 1 else Stream(8 * simd, signed=False)
    values = x.ravel() if lanes == 1 else pack_words(x, lanes)
    n_words = want.size // simd
    cyc = dw.cycles(layer, simd, lanes, taps)
    out, when = stream_run(
        tmp_path, lambda clk, rst: dw.depthwise(clk, rst, s, m, layer=layer, simd=simd,
                                                taps=taps, paths=paths, lanes=lanes),
        "depthwise_dut", s, m, values, n_words, max_cycles=len(x) * 4 * cyc + 5000, **kw)
    if simd > 1:
        out = unpack_words(out, simd)
    return np.array(out, np.int8).reshape(want.shape), want, when


CASES = [  # h, w, c, k, stride, same, simd, mode
    (5, 5, 1, 3, 1, False, 1, "gemmlowp"), (6, 5, 4, 3, 1, True, 2, "gemmlowp"),
    (7, 6, 4, 3, 2, True, 4, "round"), (6, 7, 3, 5, 1, True, 3, "gemmlowp"),
    (8, 7, 2, 3, 2, False, 1, "round"), (4, 5, 6, 1, 1, False, 2, "gemmlowp"),
    (9, 8, 2, 7, 1, True, 2, "gemmlowp"), (5, 6, 8, 1, 2, False, 8, "round")]


@pytest.mark.parametrize("h,w,c,k,stride,same,simd,mode", CASES)
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.3, 0.5)])
@pytest.mark.parametrize("taps", [1, None], ids=["folded", "at_once"])
def test_random(tmp_path, h, w, c, k, stride, same, simd, mode, gap, stall, taps):
    rng = np.random.default_rng(h * 1000 + w * 100 + c * 10 + k)
    layer = make_dw(c, h=h, w=w, rng=rng, k=k, stride=stride, same=same, mode=mode,
                    zp_in=int(rng.integers(-128, 128)), zp_out=int(rng.integers(-128, 0)))
    x = rng.integers(-128, 128, (2, h, w, c)).astype(np.int8)
    got, want, _ = simulate(tmp_path, layer, x, simd, taps=taps, gap=gap, stall=stall,
                            seed=simd)
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(want)) >= min(8, want.size // 2), "outputs should spread over int8"


# every case with one-channel input beats, and with two where the beats fold into its SIMD
TIMED = [case + (lanes,) for case in CASES for lanes in (1, 2)
         if lanes == 1 or (case[2] % lanes == 0 and not (case[6] % lanes and lanes % case[6]))]


@pytest.mark.parametrize("h,w,c,k,stride,same,simd,mode,lanes", TIMED)
@pytest.mark.parametrize("taps", [1, None], ids=["folded", "at_once"])
def test_cycle_model(tmp_path, h, w, c, k, stride, same, simd, mode, lanes, taps):
    """Every output word leaves on the clock ``trace`` gives from the clocks the inputs were
    taken, three images back to back (the input offered a beat a clock); ``cycles`` is the
    spacing of their last words."""
    rng = np.random.default_rng(k * 100 + c)
    layer = make_dw(c, h=h, w=w, rng=rng, k=k, stride=stride, same=same, mode=mode)
    x = rng.integers(-128, 128, (3, h, w, c)).astype(np.int8)
    t_in = []
    got, want, when = simulate(tmp_path, layer, x, simd, lanes=lanes, taps=taps, in_cycles=t_in)
    np.testing.assert_array_equal(got, want)
    t_in = [t for t in t_in for _ in range(lanes)]
    predicted = dw.trace(layer, simd, t_in, lanes, taps)[::simd]
    words = list(when)  # one a word
    assert list(words) == predicted
    per = want[0].size // simd
    assert words[2 * per + per - 1] - words[per + per - 1] == dw.cycles(layer, simd, lanes,
                                                                          taps)


@pytest.mark.parametrize("weight,value,zp_in", [(127, 127, -128), (-128, -128, 127)])
@pytest.mark.parametrize("taps", [1, None], ids=["folded", "at_once"])
def test_extremes(tmp_path, weight, value, zp_in, taps):
    """Largest products and a bias next to the int32 limit: a short sum would fail."""
    c, k = 2, 3
    fan = k * k * 128 * 255
    bias = np.array([(1 << 31) - 1 - fan, -(1 << 31) + 1 + fan])
    layer = make_dw(c, h=4, w=4, rng=np.random.default_rng(0), weights=weight, bias=bias,
                    zp_in=zp_in, zp_out=0, relu=False, spread=1 << 14)
    assert layer.acc_bits == 32
    x = np.full((2, 4, 4, c), value, np.int8)
    x[1, ::2] = -1 - value
    got, want, _ = simulate(tmp_path, layer, x, 2, taps=taps, gap=0.2, stall=0.2)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("taps", [1, None], ids=["folded", "at_once"])
def test_converted_verilog_in_icarus(tmp_path, taps):
    need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(5)
    layer = make_dw(4, h=6, w=5, rng=rng, stride=2, same=True, zp_in=3, zp_out=-7)
    x = rng.integers(-128, 128, (1, 6, 5, 4)).astype(np.int8)
    got, want, _ = simulate(tmp_path, layer, x, 2, taps=taps, gap=0.2, stall=0.3,
                            hdl="icarus")
    np.testing.assert_array_equal(got, want)
    icarus.verilator_lint(tmp_path / "depthwise_dut.v", "depthwise_dut")


def test_refusals():
    rng = np.random.default_rng(0)
    layer = make_dw(4, h=5, w=5, rng=rng)
    with pytest.raises(ValueError, match="SIMD=3 must divide its 4 channels"):
        dw.check(layer, 3)
    two = Layer(**{**layer.__dict__, "depth_multiplier": 2})
    with pytest.raises(ValueError, match="depth multiplier 2"):
        dw.check(two, 1)
    clk, rst = make_clk_rst()
    with pytest.raises(ValueError, match="not depthwise"):
        dw.depthwise(clk, rst, Stream(8), Stream(8), layer=Layer(**{**layer.__dict__,
                                                                      "kind": "conv2d"}),
                     paths={})
