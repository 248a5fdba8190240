"""hdl.cnn.parallel: the one parallelism type (parsing, JSON and text forms, validation
against a layer, multiplier count) and the weight ROM layout it implies."""
import json

import numpy as np
import pytest

from hdl.cnn import config as cfg
from hdl.cnn.parallel import Parallel, mac_shape, options, packed_weights
from tests.hdl.layers import make_layer


def test_forms_and_multipliers():
    par = Parallel.parse("8x1x9")
    assert par == Parallel(8, 1, 9) == Parallel.of([8, 1, 9]) == Parallel.of(par)
    assert str(par) == "8x1x9" and par.entry == [8, 1, 9] and par.multipliers == 72
    assert str(Parallel.parse("8X4")) == "8x4" and Parallel.of((8, 4)).taps == 1
    pe, simd, taps = Parallel(2, 3)
    assert (pe, simd, taps) == (2, 3, 1)
    for bad in ("8", "8x4x9x1", "ax4", "0x4", "8x-1"):
        with pytest.raises(ValueError, match="parallelism"):
            Parallel.parse(bad)
    with pytest.raises(ValueError, match="PE=0 must be a whole number of at least 1"):
        Parallel(0, 1)
    with pytest.raises(ValueError, match="give \\[PE, SIMD\\]"):
        Parallel.of([1])


def test_config_files_round_trip(tmp_path, nets):
    net = nets["mnist_cnn"]
    conf = cfg.load(Path_hw("mnist_cnn"))
    assert all(isinstance(par, Parallel) for par in conf.values())
    path = tmp_path / "c.hw.json"
    path.write_text(json.dumps(cfg.to_json(conf)))
    assert cfg.load(path) == conf
    assert cfg.validate(net, conf) == conf
    path.write_text('{"conv1": [2, "x"]}')
    with pytest.raises(ValueError, match="c.hw.json: layer conv1: parallelism"):
        cfg.load(path)


def test_options_all_fold_the_layer():
    layer = make_layer("conv2d", 6, 12, h=4, w=4, rng=np.random.default_rng(0))
    opts = options(layer)
    # PE in divisors(12), SIMD in divisors(6), taps 1, 3 (a row) or 9
    assert len(opts) == 3 * 6 * 4
    assert all(par.check(layer) is par for par in opts)


def Path_hw(name):
    from model import presets

    return presets.hw_config(name)


@pytest.mark.parametrize("kind,pe,simd", [("conv2d", 2, 3), ("conv2d", 4, 1), ("dense", 3, 4),
                                          ("dense", 1, 12)])
def test_packed_weights_layout(kind, pe, simd):
    """Word (g*T + t)*(C_in/S) + cg, lane p*S + s = weight [g*PE + p, t, cg*S + s]."""
    rng = np.random.default_rng(1)
    layer = make_layer(kind, 6 if kind == "conv2d" else 12, 12, h=4, w=4, rng=rng)
    words = packed_weights(layer, Parallel(pe, simd))
    outs, taps, ins = mac_shape(layer)
    w = layer.weights.reshape(outs, taps, ins)
    assert len(words) == outs * taps * ins // (pe * simd)
    for k, word in enumerate(words):
        g, rest = divmod(k, taps * (ins // simd))
        t, cg = divmod(rest, ins // simd)
        for p in range(pe):
            for s in range(simd):
                lane = (word >> (8 * (p * simd + s))) & 0xFF
                assert lane - 256 * (lane >> 7) == w[g * pe + p, t, cg * simd + s]


@pytest.mark.parametrize("pe,simd", [(2, 3), (12, 1)])
def test_packed_weights_all_taps_layout(pe, simd):
    """All 9 taps a clock: word g*(C_in/S) + cg, lane (p*9 + t)*S + s = weight
    [g*PE + p, t, cg*S + s]."""
    layer = make_layer("conv2d", 6, 12, h=4, w=4, rng=np.random.default_rng(2))
    words = packed_weights(layer, Parallel(pe, simd, 9))
    w = layer.weights.reshape(12, 9, 6)
    assert len(words) == 12 * 6 // (pe * simd)
    for k, word in enumerate(words):
        g, cg = divmod(k, 6 // simd)
        for p in range(pe):
            for t in range(9):
                for s in range(simd):
                    lane = (word >> (8 * ((p * 9 + t) * simd + s))) & 0xFF
                    assert lane - 256 * (lane >> 7) == w[g * pe + p, t, cg * simd + s]
    with pytest.raises(ValueError, match=r"taps=4 must be 1 .*, 3 \(a row of the kernel a "
                                         r"clock\) or 9"):
        packed_weights(layer, Parallel(pe, simd, 4))


@pytest.mark.parametrize("pe,simd,k", [(2, 3, 3), (3, 2, (2, 4))])
def test_packed_weights_row_layout(pe, simd, k):
    """A kernel row a clock (taps kw): word (g*kh + u)*(C_in/S) + cg, lane (p*kw + i)*S + s =
    weight [g*PE + p, tap u*kw + i, cg*S + s]."""
    layer = make_layer("conv2d", 6, 12, h=5, w=5, k=k, rng=np.random.default_rng(3))
    kh, kw = layer.weights.shape[1:3]
    words = packed_weights(layer, Parallel(pe, simd, kw))
    w = layer.weights.reshape(12, kh * kw, 6)
    assert len(words) == 12 * kh * 6 // (pe * simd)
    for k, word in enumerate(words):
        g, rest = divmod(k, kh * (6 // simd))
        u, cg = divmod(rest, 6 // simd)
        for p in range(pe):
            for i in range(kw):
                for s in range(simd):
                    lane = (word >> (8 * ((p * kw + i) * simd + s))) & 0xFF
                    assert lane - 256 * (lane >> 7) == w[g * pe + p, u * kw + i, cg * simd + s]
    dense = make_layer("dense", 6, 4, rng=np.random.default_rng(3))
    assert [par.taps for par in options(dense)] == [1] * len(options(dense))


@pytest.mark.parametrize("kind,pe,simd,taps", [("conv2d", 2, 3, 1), ("conv2d", 4, 2, 9),
                                               ("dense", 3, 4, 1)])
def test_stage_weights_layout(tmp_path, kind, pe, simd, taps):
    """Systolic stage k (lane k: tap k // S and channel k % S with all taps a clock, channel
    k with taps folded), word a, bits [8p+7 : 8p] = the weight packed_weights word a has for
    row p, lane k; one ROM file per stage, 8 x PE bits a word."""
    from hdl.cnn.parallel import stage_weights, write_block_mems
    from model.export import read_mem

    layer = make_layer(kind, 6 if kind == "conv2d" else 12, 12, h=4, w=4,
                       rng=np.random.default_rng(3))
    par = Parallel(pe, simd, taps)
    outs, n_taps, ins = mac_shape(layer)
    w = layer.weights.reshape(outs, n_taps, ins)
    stages = stage_weights(layer, par)
    assert len(stages) == taps * simd
    steps, cg_n = n_taps // taps, ins // simd
    for k, words in enumerate(stages):
        assert len(words) == outs // pe * steps * cg_n
        for a, word in enumerate(words):
            g, rest = divmod(a, steps * cg_n)
            t, cg = divmod(rest, cg_n)
            tap = k // simd if taps > 1 else t
            for p in range(pe):
                byte = (word >> (8 * p)) & 0xFF
                assert byte - 256 * (byte >> 7) == w[g * pe + p, tap, cg * simd + k % simd]
    paths = write_block_mems(layer, tmp_path, par)
    assert [read_mem(f, 8 * pe, signed=False).tolist() for f in paths["weights"]] == stages


def test_packed_weights_bad_parallelism():
    layer = make_layer("dense", 12, 10, rng=np.random.default_rng(0), name="dense2")
    with pytest.raises(ValueError, match="layer dense2: PE=4 must divide its 10 output"):
        packed_weights(layer, Parallel(4, 1))
    with pytest.raises(ValueError, match="layer dense2: SIMD=5 must divide its 12 input"):
        packed_weights(layer, Parallel(1, 5))
