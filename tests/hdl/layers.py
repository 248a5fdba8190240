"""Synthetic conv2d/dense layers for block tests: seeded random or extreme int8 weights, with
requantization parameters built the way qnet builds them, so outputs spread over int8."""
from __future__ import annotations

import numpy as np

from model import qnet
from model.qnet import Layer


def make_layer(kind, c_in, c_out, *, h=1, w=1, rng, mode="gemmlowp", zp_in=-128, zp_out=-128,
               relu=True, weights=None, bias=None, spread=3.0, name=None, k=3, stride=1,
               same=False):
    """A conv2d (k x k or ``k`` = (kh, kw), ``stride``, 'valid' or ``same``) or dense layer."""
    conv = kind == "conv2d"
    kh, kw = (k, k) if np.isscalar(k) else k
    shape = (c_out, kh, kw, c_in) if conv else (c_out, c_in)
    if weights is None:
        weights = rng.integers(-127, 128, shape)
    weights = np.broadcast_to(np.asarray(weights), shape).astype(np.int8)
    fan_in = int(np.prod(shape[1:]))
    if bias is None:
        bias = rng.integers(-20000, 20000, c_out)
    bias = np.broadcast_to(np.asarray(bias), (c_out,)).astype(np.int32)
    geometry = {}
    if conv:
        pad = qnet.same_padding(h, kh, stride) + qnet.same_padding(w, kw, stride) if same \
            else (0, 0, 0, 0)
        out_shape = ((h + pad[0] + pad[1] - kh) // stride + 1,
                     (w + pad[2] + pad[3] - kw) // stride + 1, c_out)
        geometry = {"kernel": k, "stride": stride, "pad": pad}
    in_shape = (h, w, c_in) if conv else (c_in,)
    out_shape = out_shape if conv else (c_out,)
    layer = Layer(kind, name or ("conv1" if conv else "dense1"), in_shape, out_shape,
                  0, zp_in=zp_in, zp_out=zp_out, act_min=zp_out if relu else -128, act_max=127,
                  relu=relu, weights=weights, bias=bias, **geometry)
    return with_scales(layer, rng, fan_in, c_out, spread, mode)


def with_scales(layer: Layer, rng, fan_in: int, channels: int, spread: float,
                mode: str) -> Layer:
    """``layer`` with random per-channel output scales, each mapping about ``spread`` standard
    deviations of an accumulator of ``fan_in`` random products onto int8, as ``mode``
    ("gemmlowp" or "round") requantizes."""
    std = np.sqrt(fan_in) * 73.0 * 147.0
    effs = [127.0 / (spread * std) * f for f in rng.uniform(0.5, 2.0, channels)]
    if mode == "gemmlowp":
        pairs = [qnet.quantize_multiplier(e) for e in effs]
    else:
        pairs = [qnet.rounding_multiplier(e, layer.acc_bound) for e in effs]
    # the scales as qnet keeps them: effective_scale(1, eff, 1) is eff itself
    return Layer(**{**layer.__dict__, "requant": mode, "scale_in": 1.0, "scale_out": 1.0,
                    "weight_scale": np.array(effs, np.float64),
                    "multiplier": np.array([p[0] for p in pairs], np.int64),
                    "shift": np.array([p[1] for p in pairs], np.int64)})


def slice_layer(layer: Layer, outs: int | None = None, hw: tuple[int, int] | None = None) -> Layer:
    """The first ``outs`` output channels of a real layer, on an ``hw`` input crop (a 3x3
    'valid' conv2d)."""
    outs = outs or layer.c_out
    fields = {**layer.__dict__, "weights": layer.weights[:outs], "bias": layer.bias[:outs],
              "multiplier": layer.multiplier[:outs], "shift": layer.shift[:outs]}
    if layer.kind == "conv2d":
        h, w = hw or layer.in_shape[:2]
        fields["in_shape"] = (h, w, layer.in_shape[2])
        fields["out_shape"] = (h - 2, w - 2, outs)
    else:
        fields["out_shape"] = (outs,)
    return Layer(**fields)


def layer_input(net, name: str, images) -> np.ndarray:
    """The int8 tensor that feeds layer ``name`` of ``net`` for float ``images``."""
    from model import golden

    x = net.quantize_input(images)
    for layer in net.layers:
        if layer.name == name:
            return x
        x = golden.BLOCKS[layer.kind](x, layer)
    raise KeyError(name)
