"""Golden model: pure-numpy integer inference with TFLite's reference arithmetic, exactly.

One function per layer kind (``conv2d``, ``depthwise``, ``add``, ``maxpool2x2``, ``maxpool``, ``avgpool``,
``mean``, ``flatten``, ``dense``; ``qnet`` describes them), ``argmax``, and the requantizer the
weighted layers share (``requant``), all vectorized over a batch of images.

Arithmetic (TFLite reference kernels ConvPerChannel / FullyConnectedPerChannel, common.h):

    acc  = sum(w * (x - zp_in)) + bias[c]                       (int32)
    acc  = MultiplyByQuantizedMultiplier(acc, M0[c], shift[c])  (layer.requant == "gemmlowp")
         = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc << max(shift, 0), M0),
                               max(-shift, 0))
      or = int32(round(double(acc) * scale[c]))                 (layer.requant == "round")
    out  = clamp(int32(acc + zp_out), act_min, act_max)         (int8)

The int32 steps are the kernels' C++ on the machines LiteRT runs on, measured against LiteRT:
a double result outside int32 converts to INT32_MIN (x86's conversion of an out-of-range
value), and ``acc + zp_out`` wraps. Both only matter at the edges of int32 (a scale or an
accumulator far beyond what an int8 output can show), where they turn a saturated output into
the other clamp; ``requant`` computes them, and so does the hardware (``hdl.cnn.requant``).

The sums of products are computed as float64 matrix products (BLAS), which is exact here: every
partial sum is an integer far below 2^53 (|w| <= 127, |x - zp| <= 255, fan-in < 2^20), and the
result is checked against the layer's worst-case bound before it is used.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .qnet import INT32_MAX, INT32_MIN, Layer, Network


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values (as int64 arrays)."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    ab = a * b
    # (ab + nudge) / 2^31 truncating toward zero, nudge = 2^30 (ab >= 0) or 1 - 2^30 (ab < 0):
    # for ab < 0 that is -((2^30 - 1 - ab) >> 31).
    q = np.where(ab >= 0, (ab + (1 << 30)) >> 31, -(((1 << 30) - 1 - ab) >> 31))
    if np.any(b == INT32_MIN):
        q = np.where((a == INT32_MIN) & (b == INT32_MIN), np.int64(INT32_MAX), q)
    return q


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero."""
    x = np.asarray(x, np.int64)
    exponent = np.asarray(exponent, np.int64)
    mask = (np.int64(1) << exponent) - 1
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + ((x & mask) > threshold)


def wrap_int32(x) -> np.ndarray:
    x = np.asarray(x, np.int64)
    return ((x - INT32_MIN) & 0xFFFFFFFF) + INT32_MIN


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """TFLite MultiplyByQuantizedMultiplier for int32 ``x`` (left shift wraps like int32)."""
    shift = np.asarray(shift, np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = wrap_int32(np.asarray(x, np.int64) << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def round_multiply(acc, multiplier, shift) -> np.ndarray:
    """sign(acc) * ((|acc| * multiplier + 2^(shift-1)) >> shift): the hardware's ``round``
    requantizer before the int32 conversion (``qnet.rounding_multiplier`` proves it equal to
    the kernel's double rounding). Exact for any width: Python integers where int64 is too
    narrow."""
    acc = np.asarray(acc)
    multiplier = np.asarray(multiplier)
    shift = np.asarray(shift, np.int64)
    top = int(np.max(np.abs(acc.astype(object)))) if acc.size else 0
    widest = top * int(np.max(multiplier, initial=0)) + (1 << int(np.max(shift, initial=1)))
    if multiplier.dtype == object or widest >= 1 << 62:
        mag = ((np.abs(acc.astype(object)) * multiplier.astype(object)
                + (1 << (shift.astype(object) - 1))) >> shift.astype(object))
        return np.where(acc < 0, -mag, mag)
    acc = acc.astype(np.int64)
    mag = (np.abs(acc) * multiplier.astype(np.int64) + (np.int64(1) << (shift - 1))) >> shift
    return np.where(acc < 0, -mag, mag)


def c_round(x) -> np.ndarray:
    """C's round() on doubles: nearest, halves away from zero (exact: the fraction is exact)."""
    x = np.asarray(x, np.float64)
    t = np.trunc(x)
    frac = x - t
    return t + (frac >= 0.5) - (frac <= -0.5)


def to_int32(r) -> np.ndarray:
    """An integer-valued result converted to int32 as the kernel's cast does on x86 (LiteRT's
    reference kernels, measured): out of range gives INT32_MIN."""
    r = np.asarray(r)
    out = (r >= 1 << 31) | (r < INT32_MIN)
    return np.where(out, INT32_MIN, r).astype(np.int64)


def round_double(acc, scales) -> np.ndarray:
    """The per-channel FULLY_CONNECTED kernel's requantization: int32(round(double(acc) *
    scale)), the scale a double (``qnet.effective_scale``)."""
    product = np.asarray(acc).astype(np.float64) * np.asarray(scales, np.float64)
    return to_int32(c_round(product))


def finish(scaled, zp_out: int, act_min: int, act_max: int) -> np.ndarray:
    """+ zp_out in int32 (it wraps, as the kernels' int32 add does), then the clamp."""
    return np.clip(wrap_int32(np.asarray(scaled, np.int64) + zp_out), act_min,
                   act_max).astype(np.int8)


def requant(acc: np.ndarray, layer: Layer) -> np.ndarray:
    """int32 accumulators (..., C_out), bias included -> int8 outputs of ``layer``, as the
    TFLite kernel computes them (round mode: in double precision, ``round_double``)."""
    if layer.requant == "round":
        scaled = round_double(acc, layer.round_scales)
    else:
        scaled = multiply_by_quantized_multiplier(acc, layer.multiplier, layer.shift)
    return finish(scaled, layer.zp_out, layer.act_min, layer.act_max)


def requant_integer(acc, mode: str, multiplier, shift, zp_out: int, act_min: int,
                    act_max: int) -> np.ndarray:
    """The hardware requantizer's arithmetic (and the C library's gemmlowp): ``round`` mode in
    integers (``round_multiply``, proven equal to ``round_double`` by qnet), then the same int32
    conversion and zero-point add as the kernel."""
    if mode == "round":
        scaled = to_int32(round_multiply(acc, multiplier, shift))
    else:
        scaled = multiply_by_quantized_multiplier(acc, multiplier, shift)
    return finish(scaled, zp_out, act_min, act_max)


def _exact_matmul(patches: np.ndarray, weights: np.ndarray, layer: Layer) -> np.ndarray:
    """patches (M, K) @ weights (K, C_out) + bias, exactly, as int64.

    A float product is exact while every partial sum is an integer below the float's 2^mantissa:
    float32 when the layer's worst-case accumulator is below 2^24, float64 (2^53) otherwise.
    """
    if layer.acc_bound >= 1 << 53:
        raise ValueError(f"layer {layer.name}: accumulator bound {layer.acc_bound} too large")
    ftype = np.float32 if layer.acc_bound < 1 << 24 else np.float64
    acc = patches.astype(ftype) @ weights.astype(ftype)
    acc += layer.bias.astype(ftype)
    return acc.astype(np.int64)


def _padded_windows(x: np.ndarray, layer: Layer) -> np.ndarray:
    """(N, H, W, C) int8 -> (N, H', W', C, kh, kw): each output's window of x - zp_in, padded
    with zeros (a padded position holds zp_in, so it adds nothing), at the layer's strides."""
    (kh, kw), (sh, sw) = layer.kernel_hw, layer.stride_hw
    top, bottom, left, right = layer.pad
    xs = x.astype(np.int16) - np.int16(layer.zp_in)
    if any(layer.pad):
        xs = np.pad(xs, ((0, 0), (top, bottom), (left, right), (0, 0)))
    oh, ow = layer.out_shape[:2]
    win = np.lib.stride_tricks.sliding_window_view(xs, (kh, kw), axis=(1, 2))
    return win[:, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw]


def conv2d_acc(x: np.ndarray, layer: Layer) -> np.ndarray:
    """Accumulators (bias included) of a kh x kw convolution with the layer's strides and
    padding: (N, H, W, C_in) -> (N, H', W', C_out)."""
    (kh, kw) = layer.kernel_hw
    win = _padded_windows(x, layer)                                  # n, h', w', c, kh, kw
    n, oh, ow, c = win.shape[:4]
    patches = win.transpose(0, 1, 2, 4, 5, 3).reshape(n * oh * ow, kh * kw * c)
    weights = layer.weights.reshape(layer.c_out, kh * kw * c).T  # (ky, kx, c) order, as OHWI
    return _exact_matmul(patches, weights, layer).reshape(n, oh, ow, layer.c_out)


def conv2d(x: np.ndarray, layer: Layer) -> np.ndarray:
    """int8 (N, H, W, C_in) -> int8 (N, H', W', C_out): any kernel, strides, valid or same."""
    return requant(conv2d_acc(x, layer), layer)


def depthwise_acc(x: np.ndarray, layer: Layer) -> np.ndarray:
    """Accumulators (bias included) of DepthwiseConvPerChannel: output channel o is input
    channel o // depth_multiplier through its own kh x kw filter. (N, H, W, C) -> (N, H', W',
    C * m). Integer arithmetic: each sum has kh * kw terms of at most 127 * 255."""
    win = _padded_windows(x, layer).astype(np.int64)                # n, h', w', c, kh, kw
    win = np.repeat(win, layer.depth_multiplier, axis=3)             # n, h', w', c*m, kh, kw
    acc = np.einsum("nhwokl,okl->nhwo", win, layer.weights.astype(np.int64))
    return acc + layer.bias.astype(np.int64)


def depthwise(x: np.ndarray, layer: Layer) -> np.ndarray:
    """int8 (N, H, W, C) -> int8 (N, H', W', C * m)."""
    return requant(depthwise_acc(x, layer), layer)


def maxpool2x2(x: np.ndarray, layer: Layer | None = None) -> np.ndarray:
    """int8 (N, H, W, C) -> (N, H//2, W//2, C); an odd last row/column is dropped (VALID)."""
    n, h, w, c = x.shape
    x = x[:, : h // 2 * 2, : w // 2 * 2]
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _pool_windows(x: np.ndarray, layer: Layer) -> np.ndarray:
    """(N, H, W, C) -> (N, H', W', C, fh * fw): the layer's fh x fw windows at its strides
    (VALID)."""
    (fh, fw), (sh, sw) = layer.kernel_hw, layer.stride_hw
    oh, ow = layer.out_shape[:2]
    win = np.lib.stride_tricks.sliding_window_view(x, (fh, fw), axis=(1, 2))
    win = win[:, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw]
    return win.reshape(win.shape[:4] + (fh * fw,))


def maxpool(x: np.ndarray, layer: Layer) -> np.ndarray:
    """int8 (N, H, W, C) -> (N, H', W', C): the max of each fh x fw window at the strides."""
    return _pool_windows(x, layer).max(axis=-1)


def divide_round_away(acc, count) -> np.ndarray:
    """acc / count rounded to nearest, ties away from zero, as C computes
    ``acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count`` (truncating)."""
    acc = np.asarray(acc, np.int64)
    half = count // 2
    return np.where(acc > 0, (acc + half) // count, -((half - acc) // count))


def avgpool(x: np.ndarray, layer: Layer) -> np.ndarray:
    """int8 (N, H, W, C) -> (N, H', W', C): reference_integer_ops AveragePool on int8 values
    (no zero point: in and out share it): the window's sum over its count, rounded, clamped."""
    fh, fw = layer.kernel_hw
    acc = _pool_windows(x, layer).astype(np.int64).sum(axis=-1)
    return np.clip(divide_round_away(acc, fh * fw), layer.act_min,
                   layer.act_max).astype(np.int8)


def mean(x: np.ndarray, layer: Layer) -> np.ndarray:
    """int8 (N, H, W, C) -> (N, C) (or (N, 1, 1, C) when the MEAN keeps its dimensions):
    MultiplyByQuantizedMultiplier(sum(x - zp_in) over H and W) with the layer's multiplier and
    shift, which fold s_in / s_out and the division by H * W (``qnet.mean_multiplier``), plus
    zp_out, clamped."""
    n = len(x)
    acc = (x.astype(np.int64) - layer.zp_in).sum(axis=(1, 2))
    acc = multiply_by_quantized_multiplier(acc, layer.multiplier[0], layer.shift[0])
    out = np.clip(acc + layer.zp_out, -128, 127).astype(np.int8)
    return out.reshape((n,) + layer.out_shape)


def add(a: np.ndarray, b: np.ndarray, layer: Layer) -> np.ndarray:
    """int8 + int8 of one shape -> int8, TFLite's int8 ADD (reference_integer_ops
    AddElementwise): each input (x - zp) << 20 scaled by its own multiplier (a multiplier below
    one: MultiplyByQuantizedMultiplierSmallerThanOneExp), the sum by the output multiplier,
    + zp_out, clamped."""
    from .qnet import ADD_LEFT_SHIFT

    m, e = layer.multiplier, layer.shift
    x1 = (a.astype(np.int64) - layer.zp_in) << ADD_LEFT_SHIFT
    x2 = (b.astype(np.int64) - layer.zp_in2) << ADD_LEFT_SHIFT
    total = (multiply_by_quantized_multiplier(x1, m[0], e[0])
             + multiply_by_quantized_multiplier(x2, m[1], e[1]))
    return finish(multiply_by_quantized_multiplier(wrap_int32(total), m[2], e[2]),
                  layer.zp_out, layer.act_min, layer.act_max)


def flatten(x: np.ndarray, layer: Layer | None = None) -> np.ndarray:
    """(N, H, W, C) -> (N, H*W*C) in NHWC order, or (N, H*W*C) -> (N, H, W, C) (a RESHAPE of a
    vector into a map): a raster stream needs no reordering."""
    return x.reshape((len(x),) + (tuple(layer.out_shape) if layer is not None else (-1,)))


def dense_acc(x: np.ndarray, layer: Layer) -> np.ndarray:
    xs = x.astype(np.int16) - np.int16(layer.zp_in)
    return _exact_matmul(xs, layer.weights.T, layer)


def dense(x: np.ndarray, layer: Layer) -> np.ndarray:
    """int8 (N, N_in) -> int8 (N, N_out)."""
    return requant(dense_acc(x, layer), layer)


def argmax(logits: np.ndarray) -> np.ndarray:
    """Class index per row; ties resolve to the lowest index (numpy's rule, and the hardware's)."""
    return np.argmax(logits, axis=-1)


BLOCKS = {"conv2d": conv2d, "depthwise": depthwise, "maxpool2x2": maxpool2x2, "maxpool": maxpool,
          "avgpool": avgpool, "mean": mean, "flatten": flatten, "dense": dense}


@dataclass
class Result:
    tensors: list[np.ndarray]   # one output per layer, in order

    @property
    def logits(self) -> np.ndarray:
        return self.tensors[-1]

    @property
    def prediction(self) -> np.ndarray:
        return argmax(self.logits)


def run_network(net: Network, x: np.ndarray, batch: int = 250, progress: bool = False) -> Result:
    """Run int8 inputs (N, H, W, C) through every layer; keep every layer's output."""
    x = np.asarray(x)
    if x.dtype != np.int8 or x.shape[1:] != net.input_shape:
        raise ValueError(f"{net.name}: input must be int8 of shape (N,) + {net.input_shape}, "
                         f"got {x.dtype} {x.shape}")
    chunks = range(0, len(x), batch)
    if progress:
        from tqdm import tqdm
        chunks = tqdm(chunks, desc="golden", unit="batch", leave=False)
    outs: list[list[np.ndarray]] = [[] for _ in net.layers]
    for start in chunks:
        prev = x[start:start + batch]
        values = {net.input_tensor: prev}  # the graph's tensors, by index
        for i, layer in enumerate(net.layers):
            # a layer built without ``inputs`` (a test's) reads the one before it
            ins = [values[t] for t in layer.inputs] if layer.inputs else [prev]
            prev = add(*ins, layer) if layer.kind == "add" else BLOCKS[layer.kind](ins[0], layer)
            values[layer.tensor] = prev
            outs[i].append(prev)
    return Result([np.concatenate(o) if o else np.empty((0,) + l.out_shape, np.int8)
                   for o, l in zip(outs, net.layers)])
