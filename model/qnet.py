"""qnet: the project's description of a quantized network, read from an int8 ``.tflite``.

One source of truth for everything after the model: the golden model, the ROM/C exporters and
the hardware elaboration all read a ``Network``; none re-derives a scale or a shift.

A ``Network`` is a straight chain of ``Layer``s:

    kind        what it computes (one golden function each; a hardware block each where
                ``HARDWARE_KINDS`` says so)
    conv2d      kh x kw convolution, strides sh x sw, valid or 'same' padding (TFLite's: the
                padding total split with the extra row or column at the end, padded positions
                holding the input zero point, so they add nothing; a PAD before it is folded
                in), per-output-channel requantization
    depthwise   DEPTHWISE_CONV_2D: each input channel with its own kh x kw filter(s) (depth
                multiplier m: output channel o reads input channel o // m), strides, padding
                and requantization as conv2d
    maxpool2x2  2x2 max, stride 2, odd last row/column dropped
    maxpool     fh x fw max, strides sh x sw (valid)
    avgpool     fh x fw average, strides sh x sw (valid): the window's int8 sum divided by
                its count, rounded to nearest with ties away from zero, clamped
                (reference_integer_ops AveragePool; same quantization in and out)
    mean        the mean over height and width (GlobalAveragePooling2D, TFLite MEAN over axes
                1 and 2): MultiplyByQuantizedMultiplier(sum(x - zp_in)) by s_in / (s_out H W)
                as TFLite folds it (``mean_multiplier``), plus zp_out, clamped
    flatten     NHWC tensor -> vector in (h, w, c) order (a no-op on a raster stream)
    dense       fully connected, per-output-row requantization
    add         ADD of two int8 tensors of one shape (a residual join), as TFLite's kernel
                computes it: each input (x - zp) << 20, scaled by its own multiplier, summed,
                then the output multiplier, + zp_out, clamped (``multiplier``/``shift`` hold
                input 1's, input 2's and the output's)

A network is a graph: each layer names the tensors it reads (``Layer.inputs``), in the
.tflite's operator order (topological); a tensor may feed several layers (a skip connection).

Conv and dense layers carry int8 weights (conv2d: (C_out, k, k, C_in), TFLite's OHWI; dense:
(N_out, N_in)), int32 bias, the per-channel ``multiplier``/``shift`` from TFLite's
QuantizeMultiplier, zero points and the clamp bounds of the fused activation. A final softmax is
recorded (``Network.softmax``) but not modelled: the class is the argmax of the logits.

Requantization comes in the two forms TFLite's reference kernels use (``Layer.requant``):

``gemmlowp`` (CONV_2D, ConvPerChannel; per-tensor FULLY_CONNECTED):
    MultiplyByQuantizedMultiplier(acc, multiplier, shift) with TFLite's QuantizeMultiplier
    values: multiplier M0 in [2^30, 2^31), shift positive = left. Two roundings
    (SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT).
``round`` (per-channel FULLY_CONNECTED):
    the reference FullyConnectedPerChannel kernel of this TFLite version requantizes in double
    precision: ``round(double(acc) * (double(s_in) * double(s_w[c]) / double(s_out)))``, C's
    round (half away from zero). The hardware does the same with integers:
    ``sign(acc) * ((|acc| * multiplier + 2^(shift-1)) >> shift)`` (``shift`` = right shift).
    ``rounding_multiplier`` picks the (multiplier, shift) and proves it equal to the double
    formula for every accumulator the layer can produce (see there).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
KINDS = ("conv2d", "depthwise", "maxpool2x2", "maxpool", "avgpool", "mean", "flatten",
         "dense", "add")
# the kinds the hardware blocks implement (all of them today); a kind added to the golden model
# and the C library before it has a block runs in ``make check`` and ``make export`` and is
# refused by the commands that build hardware (``check_hardware``)
HARDWARE_KINDS = ("conv2d", "depthwise", "add", "maxpool2x2", "maxpool", "avgpool", "mean", "flatten", "dense")
# what the hardware blocks take (hardware_reason); the golden model and the C library take any
CONV_KERNELS = (1, 3, 5, 7)
ADD_LEFT_SHIFT = 20  # TFLite's int8 ADD: inputs shifted left by 20 before their multipliers
CONV_STRIDES = (1, 2)
POOL_MAX_SIDE = 64  # a rectangular pool's sides (hdl.cnn.pool2d.MAX_SIDE)
CONV_MAX_SIDE = 16  # a rectangular kernel's sides (hdl.cnn.line_buffer.MAX_SIDE)
POOLS = (2, 3)


class UnsupportedTFLiteError(ValueError):
    """The .tflite holds an operator or option the hardware does not implement."""


@dataclass(frozen=True, eq=False)
class Layer:
    kind: str
    name: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    tensor: int                       # output tensor index in the .tflite (for the oracle)
    zp_in: int = 0
    zp_out: int = 0
    act_min: int = -128
    act_max: int = 127
    relu: bool = False
    weights: np.ndarray | None = None  # int8
    bias: np.ndarray | None = None     # int32 (C_out,)
    requant: str = ""                  # "gemmlowp" or "round" (see module docstring)
    multiplier: np.ndarray | None = None  # int64 (C_out,)
    shift: np.ndarray | None = None    # int64 (C_out,)
    scale_in: float = 0.0
    scale_out: float = 0.0
    weight_scale: np.ndarray | None = field(default=None, repr=False)
    kernel: int = 0                    # pools: the window's height (convolutions: weights)
    stride: int = 1                    # the step down the rows
    pad: tuple = (0, 0, 0, 0)          # conv2d, depthwise: rows above, below, columns left, right
    kernel_w: int = 0                  # pools: the window's width (0: = kernel)
    stride_w: int = 0                  # the step along a row (0: = stride)
    depth_multiplier: int = 1          # depthwise: output channels per input channel
    inputs: tuple = ()                 # the tensors it reads (the .tflite's indices)
    zp_in2: int = 0                    # add: the second input's zero point
    where: str = ""                    # the operator in the .tflite, for messages
    refusal: str = ""                  # why the hardware cannot compute it (else "")

    @property
    def has_weights(self) -> bool:
        return self.weights is not None

    @property
    def kernel_hw(self) -> tuple[int, int]:
        """(height, width) of the window: a convolution's from its weights."""
        if self.kind in ("conv2d", "depthwise"):
            return int(self.weights.shape[1]), int(self.weights.shape[2])
        return self.kernel, self.kernel_w or self.kernel

    @property
    def stride_hw(self) -> tuple[int, int]:
        return self.stride, self.stride_w or self.stride

    @property
    def c_out(self) -> int:
        return self.out_shape[-1]

    @property
    def fan_in(self) -> int:
        """Products summed per output value (k * k * C_in for a convolution, N_in for dense)."""
        return int(np.prod(self.weights.shape[1:])) if self.has_weights else 0

    @property
    def macs(self) -> int:
        return int(np.prod(self.out_shape)) * self.fan_in

    @property
    def acc_bound(self) -> int:
        """Largest |accumulator| any input can produce, bias included (worst case over channels).

        The input term ranges over x - zp_in for every int8 x; the bound uses the actual weights.
        """
        if not self.has_weights:
            return 0
        xmax = max(abs(-128 - self.zp_in), abs(127 - self.zp_in))
        w = np.abs(self.weights.reshape(len(self.weights), -1).astype(np.int64)).sum(axis=1)
        return int(np.max(w * xmax + np.abs(self.bias.astype(np.int64))))

    @property
    def round_scales(self) -> np.ndarray:
        """The per-channel double scales of a ``round`` layer, as the kernel computes them."""
        return np.array([effective_scale(self.scale_in, w, self.scale_out)
                         for w in self.weight_scale], np.float64)

    @property
    def acc_bits(self) -> int:
        """Signed accumulator width that holds ``acc_bound`` (the one width rule used everywhere)."""
        return signed_bits(self.acc_bound)


@dataclass(frozen=True, eq=False)
class Network:
    name: str
    layers: tuple[Layer, ...]
    input_shape: tuple       # (H, W, C) of an image, or (N,) of a vector
    input_scale: float
    input_zp: int
    input_tensor: int
    output_tensor: int
    softmax: bool

    @property
    def logits_layer(self) -> Layer:
        return self.layers[-1]

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def parameters(self) -> int:
        return sum(layer.weights.size + layer.bias.size for layer in self.layers if layer.has_weights)

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """Float model input -> int8, as TFLite's QUANTIZE does: round half away from zero."""
        v = np.asarray(x, np.float64) / np.float64(self.input_scale)
        q = np.sign(v) * np.floor(np.abs(v) + 0.5) + self.input_zp
        return np.clip(q, -128, 127).astype(np.int8).reshape((-1,) + self.input_shape)

    def pixel_table(self, input_max: float, input_offset: float = 0.0) -> np.ndarray:
        """int8 input for each raw pixel value 0..255, the model's float input being
        pixel / input_max + input_offset."""
        pixels = np.arange(256, dtype=np.float32) / np.float32(input_max)
        if input_offset:
            pixels = pixels + np.float32(input_offset)
        column = pixels.reshape((256,) + (1,) * len(self.input_shape))
        table = self.quantize_input(np.broadcast_to(column, (256,) + self.input_shape))
        return table.reshape(256, -1)[:, 0]


def hardware_reason(layer: Layer) -> str | None:
    """Why the hardware blocks cannot run ``layer`` (None: they can)."""
    if layer.refusal:
        return layer.refusal
    runs = "the golden model and the C library run it (check_golden.py, export_weights.py)"
    if layer.kind not in HARDWARE_KINDS:
        return f"{layer.kind} has no hardware block yet; {runs}"
    (kh, kw), (sh, sw) = layer.kernel_hw, layer.stride_hw
    square = kh == kw and kh in CONV_KERNELS
    oblong = kh != kw and 2 <= kh <= CONV_MAX_SIDE and 2 <= kw <= CONV_MAX_SIDE
    if layer.kind in ("conv2d", "depthwise") and (not (square or oblong)
                                                  or sh not in CONV_STRIDES
                                                  or sw not in CONV_STRIDES):
        return (f"kernel {kh}x{kw} stride {sh}x{sw}: the hardware's convolution takes square "
                f"kernels of {', '.join(map(str, CONV_KERNELS))}, or rectangular ones of 2 to "
                f"{CONV_MAX_SIDE} a side, with stride 1 or 2 each way; {runs}")
    if layer.kind == "depthwise" and layer.depth_multiplier != 1:
        return (f"depth multiplier {layer.depth_multiplier}: the hardware's depthwise "
                f"convolution takes 1 (one output channel per input channel); {runs}")
    if layer.kind in ("maxpool", "avgpool") and (
            (sh, sw) != (kh, kw) or kh * kw < 2
            or not (1 <= kh <= POOL_MAX_SIDE and 1 <= kw <= POOL_MAX_SIDE)):
        return (f"pool {kh}x{kw} stride {sh}x{sw}: the hardware's pooling takes windows of up "
                f"to {POOL_MAX_SIDE} a side with the stride its window; {runs}")
    return None


def check_hardware(net: Network, label: str | None = None) -> Network:
    """``net`` if the hardware blocks implement every layer; otherwise UnsupportedTFLiteError
    naming the file (``label``), the first such operator and why."""
    for layer in net.layers:
        reason = hardware_reason(layer)
        if reason:
            where = layer.where or f"{label or net.name}: layer {layer.name}"
            raise UnsupportedTFLiteError(f"{where}: {reason}")
    last = net.layers[-1]
    # keras.applications' top: a 1x1 convolution on the pooled 1x1 map, then the reshape
    conv_top = (last.kind == "flatten" and len(net.layers) > 1
                and net.layers[-2].kind == "conv2d" and net.layers[-2].out_shape[:2] == (1, 1))
    if not (last.kind == "dense" or (last.kind == "mean" and len(last.out_shape) == 1)
            or conv_top):
        raise UnsupportedTFLiteError(
            f"{last.where or label or net.name}: the hardware's classifier takes its logits "
            f"from a dense layer or a global average, not a {net.layers[-2].kind} reshaped; "
            f"the golden model and the C library run it (check_golden.py, export_weights.py)")
    return net


def mean_multiplier(real: float, count: int) -> tuple[int, int]:
    """(multiplier, shift) of an int8 MEAN of ``count`` values, as TFLite's kernel derives them
    (kernels/reduce.cc): QuantizeMultiplier(s_in / s_out) = (M0, e), then the division by the
    count folded in with n = min(floor(log2 count), 32, 31 + e) bits of headroom:
    multiplier = (M0 << n) // count, shift = e - n. The mean is then
    MultiplyByQuantizedMultiplier(sum(x - zp_in), multiplier, shift) + zp_out, clamped
    (measured equal to LiteRT's reference kernel on every tensor; dividing after the
    multiplier, as reference_integer_ops Mean writes it, differs by one on a few values)."""
    m0, e = quantize_multiplier(real)
    n = min(count.bit_length() - 1, 32, 31 + e)
    return (m0 << n) // count, e - n


def same_padding(size: int, k: int, stride: int) -> tuple[int, int]:
    """TFLite's SAME padding of one axis: (before, after), the extra one at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def signed_bits(bound: int) -> int:
    """Bits of a two's complement register that holds every value in [-bound, bound]."""
    return max(2, int(bound).bit_length() + 1)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier (quantization_util.cc): real = M0 * 2^(shift - 31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    m0 = c_round(q * (1 << 31))  # TfLiteRound = std::round
    if m0 == 1 << 31:
        m0 //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return m0, shift


def c_round(v: float) -> int:
    """C's round(): nearest integer, halves away from zero (exact for any double)."""
    t = math.trunc(v)
    f = v - t  # exact for doubles
    return t + (1 if f >= 0.5 else -1 if f <= -0.5 else 0)


def effective_scale(s_in: float, s_w: float, s_out: float) -> float:
    """double(s_in) * double(s_w) / double(s_out), in TFLite's order of operations."""
    return float(s_in) * float(s_w) / float(s_out)


def round_multiply(acc: int, multiplier: int, shift: int) -> int:
    """The hardware's ``round`` requantization on one integer (see module docstring)."""
    mag = (abs(acc) * multiplier + (1 << (shift - 1))) >> shift
    return -mag if acc < 0 else mag


# |results| the int8 output can tell apart: beyond, every zero point and clamp saturates
SHOWN = 300
# widest multiplier rounding_multiplier tries before it gives up (the hardware's product is
# |acc| (at most 32 bits) times it)
MAX_MULT_BITS = 128


class RoundingError(UnsupportedTFLiteError):
    """No integer multiplier reproduces a layer's double-precision rounding."""


def rounding_multiplier(eff: float, bound: int) -> tuple[int, int]:
    """Integer (multiplier, shift) whose ``round_multiply`` gives the kernel's double rounding
    ``c_round(a * eff)`` wherever the int8 output depends on it, for |a| <= bound.

    Where that is: every a with |a * eff| <= SHOWN (beyond, any zero point and clamp
    saturate), and the a next to the int32 limits, where the kernel's int32 conversion and
    zero-point add wrap (``golden.finish``): results within 2^31 +- 130. Both forms are
    monotone in a, so between those ranges they saturate alike.

    ``a * eff`` is a double product. Both it and the integer form are within a tiny error of
    the exact product, so they can only disagree next to a half-integer. For each half-integer h
    in those ranges, the integers next to h / eff are checked exactly; all other accumulators
    are at least eff / 2 away from a tie, far beyond both errors (asserted). The shift starts
    at TFLite's precision (a 31-bit multiplier) and grows, with no fixed width, until every
    candidate agrees. ``RoundingError`` if none up to MAX_MULT_BITS bits does, naming the
    accumulator whose double rounding no such multiplier reproduced.
    """
    if eff == 0.0 or bound == 0:
        return 0, 1
    if not eff > 0 or math.isinf(eff):
        raise ValueError(f"effective scale {eff} must be positive and finite")
    from fractions import Fraction

    exact = Fraction(eff)
    _, e = math.frexp(eff)
    near = min(bound, int(SHOWN / eff) + 2)       # |a| <= near: the results an int8 shows
    halves = [h + 0.5 for h in range(-SHOWN - 1, SHOWN + 1)]
    edge = 1 << 31
    if bound * eff >= edge - 2 * SHOWN:           # the int32 limits are reachable
        halves += [s * (edge + d + 0.5) for s in (1, -1) for d in range(-140, 141)]
    cand = set()
    for h in halves:
        centre = math.floor(h / eff)
        cand.update(a for a in range(centre - 1, centre + 3) if abs(a) <= bound)
    cand.update(a for a in range(-2, 3) if abs(a) <= bound)
    cand = sorted(cand)
    bad = cand[:1]
    reach = max(abs(a) for a in cand) if cand else near
    reach = max(reach, near)
    want = [int(c) for c in _c_round_list([a * eff for a in cand])]  # IEEE double products
    for shift in range(max(1, 31 - e), 31 - e + MAX_MULT_BITS):
        multiplier = round(exact * (1 << shift))
        int_error = Fraction(reach, 1 << (shift + 1)) + Fraction(reach) * exact / (1 << 52)
        if int_error >= exact / 4:
            continue
        bad = [a for a, w in zip(cand, want) if round_multiply(a, multiplier, shift) != w]
        if not bad:
            return multiplier, shift
    a = bad[0]
    raise RoundingError(
        f"no integer multiplier of up to {MAX_MULT_BITS} bits reproduces the double "
        f"requantization (scale {eff!r}: accumulator {a} times it rounds to "
        f"{want[cand.index(a)]} in double precision)")


def _c_round_list(values) -> list[int]:
    return [c_round(v) for v in values]


# --- reading the flatbuffer -------------------------------------------------------------

def _schema():
    from ai_edge_litert import schema_py_generated as schema
    return schema


def _tensor_array(model, sub, index: int, schema) -> np.ndarray:
    tensor = sub.tensors[index]
    dtypes = {schema.TensorType.INT8: np.int8, schema.TensorType.INT32: np.int32,
              schema.TensorType.FLOAT32: np.float32, schema.TensorType.INT64: np.int64}
    buf = model.buffers[tensor.buffer]
    raw = getattr(buf, "data", None)
    if raw is None or len(raw) == 0:
        raise UnsupportedTFLiteError(f"tensor '{_name(tensor)}' has no constant data")
    dtype = dtypes.get(tensor.type)
    if dtype is None:
        raise UnsupportedTFLiteError(f"tensor '{_name(tensor)}' has unsupported type {tensor.type}")
    return np.frombuffer(np.asarray(raw, np.uint8).tobytes(), dtype).reshape(tuple(tensor.shape))


def _name(tensor) -> str:
    name = tensor.name
    return name.decode() if isinstance(name, bytes) else str(name)


def _quant(tensor):
    q = tensor.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return None, None
    return np.asarray(q.scale, np.float32), np.asarray(q.zeroPoint, np.int64)


CONVERT_HINT = ("convert with full-integer quantization: converter.optimizations = "
                "[tf.lite.Optimize.DEFAULT], converter.representative_dataset = <a generator of "
                "training images>, converter.target_spec.supported_ops = "
                "[tf.lite.OpsSet.TFLITE_BUILTINS_INT8], converter.inference_input_type = "
                "converter.inference_output_type = tf.int8 (or give cnn2fpga the .keras file and "
                "it converts it so)")
# Operators that only compute a shape (a dynamic batch's Flatten: SHAPE -> STRIDED_SLICE ->
# PACK -> RESHAPE); they are evaluated here, once, on the static shapes (see _fold).
FOLDABLE = ("SHAPE", "STRIDED_SLICE", "PACK", "CONCATENATION", "REDUCE_PROD", "CAST", "GATHER")


def _activation(opts, out_t, act, bad) -> tuple[bool, int, int, int]:
    """(relu, zp_out, act_min, act_max) of a fused activation, as TFLite's
    CalculateActivationRangeQuantized computes the clamp: quantize(f) = zp + round(f / scale)
    with the division in float32."""
    scale, zp = _quant(out_t)
    zp = int(zp[0])

    def q(f: float) -> int:
        return zp + c_round(float(np.float32(f) / np.float32(scale[0])))

    fn = opts.fusedActivationFunction
    if fn == act.NONE:
        return False, zp, -128, 127
    if fn == act.RELU:
        return True, zp, max(-128, q(0.0)), 127
    if fn == act.RELU6:
        return True, zp, max(-128, q(0.0)), min(127, q(6.0))
    names = {v: k for k, v in vars(act).items() if not k.startswith("_")}
    raise bad(f"fused activation {names.get(fn, fn)}; supported: none, RELU, RELU6 (in "
              f"Keras: no activation, 'relu', 'relu6' or ReLU(max_value=6))")


def _fold(opname: str, op, values: list, in_shapes: list, schema):
    """The value of a shape-only operator, from constant inputs (SHAPE: its input's static
    shape, batch 1: the hardware takes one image at a time). None when it cannot be folded."""
    opts = op.builtinOptions
    if opname == "SHAPE":
        return np.array(in_shapes[0], np.int32)
    if any(v is None for v in values):
        return None
    if opname == "STRIDED_SLICE":
        x, begin, end, strides = values
        if x.ndim != 1 or opts.ellipsisMask or opts.newAxisMask or getattr(opts, "offset", False):
            return None
        b, e, s = int(begin[0]), int(end[0]), int(strides[0])
        sl = slice(None if opts.beginMask & 1 else b, None if opts.endMask & 1 else e, s)
        if opts.shrinkAxisMask & 1:
            return np.asarray(x[b], x.dtype)
        return x[sl]
    if opname == "PACK":
        return np.stack([np.asarray(v) for v in values], axis=opts.axis)
    if opname == "CONCATENATION":
        return np.concatenate([np.atleast_1d(v) for v in values], axis=opts.axis)
    if opname == "REDUCE_PROD":
        axes = tuple(int(a) for a in np.atleast_1d(values[1]))
        return np.prod(values[0], axis=axes, keepdims=bool(opts.keepDims)).astype(values[0].dtype)
    if opname == "CAST":
        return values[0].astype(np.int64 if values[0].dtype == np.int32 else np.int32)
    if opname == "GATHER":
        return np.take(values[0], values[1].astype(np.int64), axis=opts.axis)
    return None


def _diagnose_types(model, sub, schema, op_names, label: str) -> None:
    """A model that is not int8 end to end: say which kind it is and the fix for that kind."""
    tt = schema.TensorType
    in_t, out_t = sub.tensors[sub.inputs[0]], sub.tensors[sub.outputs[0]]
    types = {t.type for t in sub.tensors}
    ops = [op_names.get(max(model.operatorCodes[op.opcodeIndex].builtinCode,
                            model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode), "")
           for op in sub.operators]
    if in_t.type == tt.FLOAT32 and tt.INT8 not in types:
        raise UnsupportedTFLiteError(
            f"{label}: a float32 model (nothing is quantized); {CONVERT_HINT}")
    if in_t.type == tt.FLOAT32 and "QUANTIZE" not in ops:
        raise UnsupportedTFLiteError(
            f"{label}: dynamic-range quantized (int8 weights, float32 activations); the "
            f"activations need int8 too, which takes a representative dataset: {CONVERT_HINT}")
    names = {v: k for k, v in vars(tt).items() if not k.startswith("_")}
    for role, t, option in (("input", in_t, "inference_input_type"),
                            ("output", out_t, "inference_output_type")):
        if t.type != tt.INT8:
            kind = names.get(t.type, str(t.type)).lower()
            raise UnsupportedTFLiteError(
                f"{label}: the model's {role} '{_name(t)}' is {kind} (the model is quantized "
                f"inside, with a {'QUANTIZE' if role == 'input' else 'DEQUANTIZE or QUANTIZE'} "
                f"at the {'start' if role == 'input' else 'end'}); convert with "
                f"converter.{option} = tf.int8")


def from_tflite(source: str | os.PathLike | bytes, name: str | None = None,
                label: str | None = None) -> Network:
    """Read an int8 ``.tflite`` (path or bytes) into a ``Network``.

    Raises UnsupportedTFLiteError naming the file (``label``, default its path), the operator
    and the reason for anything the hardware does not implement.
    """
    import struct

    schema = _schema()
    if isinstance(source, (bytes, bytearray)):
        buf = bytes(source)
        name = name or "model"
    else:
        path = Path(source)
        try:
            buf = path.read_bytes()
        except OSError as exc:
            raise FileNotFoundError(f"{path}: cannot read model ({exc.strerror})") from None
        name = name or path.stem
        label = label or str(path)
    label = label or name
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise UnsupportedTFLiteError(f"{label}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        model = schema.ModelT.InitFromPackedBuf(buf, 0)
        sub = model.subgraphs[0] if model.subgraphs else None
        if sub is not None:  # touch every tensor now, so a truncated file fails here
            for t in sub.tensors:
                _ = (t.shape, t.type, t.buffer, t.quantization)
    except (struct.error, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise UnsupportedTFLiteError(
            f"{label}: truncated or corrupt TFLite file ({type(exc).__name__}: {exc}); "
            f"convert the model again") from None
    if sub is None or len(model.subgraphs) != 1:
        raise UnsupportedTFLiteError(
            f"{label}: {len(model.subgraphs)} subgraphs; one is supported")
    if len(sub.inputs) != 1 or len(sub.outputs) != 1:
        raise UnsupportedTFLiteError(
            f"{label}: {len(sub.inputs)} inputs and {len(sub.outputs)} outputs; one each is "
            f"supported")
    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    act = schema.ActivationFunctionType
    _diagnose_types(model, sub, schema, op_names, label)

    in_t = sub.tensors[sub.inputs[0]]
    in_shape = tuple(int(d) for d in in_t.shape)
    if len(in_shape) not in (2, 4) or in_shape[0] != 1:
        raise UnsupportedTFLiteError(
            f"{label}: input shape {in_shape}; an image (1, H, W, C) or a vector (1, N) is "
            f"required")
    in_scale, in_zp = _quant(in_t)

    layers: list[Layer] = []
    counts: dict[str, int] = {}
    prefix = {"conv2d": "conv", "depthwise": "dw", "add": "add", "maxpool2x2": "pool",
              "maxpool": "pool",
              "avgpool": "pool", "mean": "mean", "flatten": "flatten", "reshape": "reshape",
              "dense": "dense"}

    def short(kind: str) -> str:
        head = prefix[kind]
        counts[head] = counts.get(head, 0) + 1
        return head if kind == "flatten" else f"{head}{counts[head]}"

    # constant tensors and the values of folded shape computations, by tensor index
    folded: dict[int, np.ndarray] = {}
    folded_by: dict[int, str] = {}

    def constant(index: int):
        if index in folded:
            return folded[index]
        t = sub.tensors[index]
        raw = getattr(model.buffers[t.buffer], "data", None)
        if raw is None or len(raw) == 0:
            return None
        return _tensor_array(model, sub, index, schema)

    current = sub.inputs[0]
    available = {sub.inputs[0]}             # tensors a layer may read: the input, layer outputs
    softmax = False
    pending_pad, padded_from = None, None   # a PAD waiting for its convolution
    for k, op in enumerate(sub.operators):
        code = model.operatorCodes[op.opcodeIndex]
        opcode = max(code.builtinCode, code.deprecatedBuiltinCode)
        opname = op_names.get(opcode, f"builtin {opcode}")
        out_index = op.outputs[0]
        out_t = sub.tensors[out_index]
        where = f"{label}: operator {k} {opname} ('{_name(out_t)}')"

        def bad(reason: str) -> UnsupportedTFLiteError:
            return UnsupportedTFLiteError(f"{where}: {reason}")

        if opname in FOLDABLE and out_t.type in (schema.TensorType.INT32,
                                                 schema.TensorType.INT64):
            ins = [i for i in op.inputs if i >= 0]
            shapes = [tuple([1] + [int(d) for d in sub.tensors[i].shape[1:]]) for i in ins]
            value = _fold(opname, op, [constant(i) for i in ins], shapes, schema)
            if value is None:
                raise bad("a shape computation that cannot be evaluated ahead of time; only "
                          "static shapes are supported")
            folded[out_index] = value
            folded_by[out_index] = opname
            continue
        if softmax:
            raise bad("operators after SOFTMAX are not supported")
        if op.inputs[0] not in available:
            if op.inputs[0] in folded:
                raise bad(f"uses a value computed by {folded_by[op.inputs[0]]}; shape "
                          f"computations are supported only as the shape of a RESHAPE")
            raise bad(f"reads tensor '{_name(sub.tensors[op.inputs[0]])}', which no supported "
                      f"operator before it computes")
        src = op.inputs[0]
        src_t = sub.tensors[src]
        src_shape = tuple(int(d) for d in src_t.shape[1:])
        dst_shape = tuple(int(d) for d in out_t.shape[1:])
        opts = op.builtinOptions
        if opcode != schema.BuiltinOperator.SOFTMAX and out_t.type != schema.TensorType.INT8:
            raise bad(f"output is not int8, so this operator is not quantized; {CONVERT_HINT}")
        for extra in op.inputs[1:]:
            if extra in folded and not (opcode == schema.BuiltinOperator.RESHAPE
                                        and extra == op.inputs[1]):
                raise bad(f"uses a value computed by {folded_by[extra]}; shape computations "
                          f"are supported only as the shape of a RESHAPE")

        def fused() -> tuple[bool, int, int, int]:
            return _activation(opts, out_t, act, bad)

        is_pad = opcode in (schema.BuiltinOperator.PAD, schema.BuiltinOperator.PADV2)
        convolution = opcode in (schema.BuiltinOperator.CONV_2D,
                                 schema.BuiltinOperator.DEPTHWISE_CONV_2D)
        if pending_pad is not None and not (convolution or is_pad):
            raise bad("follows a PAD; a PAD is supported only right before a convolution "
                      "(Keras: ZeroPadding2D before Conv2D or DepthwiseConv2D)")
        if is_pad:
            amounts = constant(op.inputs[1]) if len(op.inputs) > 1 else None
            if amounts is None:
                raise bad("padding amounts that are not constant")
            amounts = np.asarray(amounts, np.int64).reshape(-1, 2)
            if len(src_shape) != 3 or amounts.shape != (4, 2) or np.any(amounts[[0, 3]]) \
                    or np.any(amounts < 0):
                raise bad(f"padding {amounts.tolist()}; only height and width are padded "
                          f"(Keras ZeroPadding2D)")
            zp_src, zp_dst = _quant(src_t)[1], _quant(out_t)[1]
            if zp_src is None or zp_dst is None or int(zp_src[0]) != int(zp_dst[0]) or \
                    float(_quant(src_t)[0][0]) != float(_quant(out_t)[0][0]):
                raise bad("input and output quantization differ")
            if opcode == schema.BuiltinOperator.PADV2 and len(op.inputs) > 2:
                fill = constant(op.inputs[2])
                if fill is None or int(np.ravel(fill)[0]) != int(zp_dst[0]):
                    raise bad("pads with a value other than the zero point (a real 0); only "
                              "zero padding folds into the convolution")
            more = (int(amounts[1, 0]), int(amounts[1, 1]), int(amounts[2, 0]),
                    int(amounts[2, 1]))
            if pending_pad is None:
                pending_pad, padded_from, pad_source = more, src_shape, src
            else:
                pending_pad = tuple(a + b for a, b in zip(pending_pad, more))
            current = out_index
            available.add(out_index)
            continue
        if opcode in (schema.BuiltinOperator.CONV_2D, schema.BuiltinOperator.FULLY_CONNECTED,
                      schema.BuiltinOperator.DEPTHWISE_CONV_2D):
            is_conv = convolution
            depthwise = opcode == schema.BuiltinOperator.DEPTHWISE_CONV_2D
            weights = _tensor_array(model, sub, op.inputs[1], schema)
            if weights.dtype != np.int8:
                raise bad("weights are not int8")
            geometry = {}
            if is_conv:
                if len(src_shape) != 3:
                    raise bad(f"a convolution of a {len(src_shape)}-D tensor {src_shape}")
                if depthwise:  # TFLite's (1, kh, kw, C_out) -> (C_out, kh, kw)
                    if weights.ndim != 4 or weights.shape[0] != 1:
                        raise bad(f"depthwise weights of shape {weights.shape}")
                    c_in, c_out_w = src_shape[2], int(weights.shape[3])
                    if c_out_w % c_in:
                        raise bad(f"{c_out_w} output channels from {c_in} input channels; a "
                                  f"depthwise convolution has a whole number per channel")
                    geometry["depth_multiplier"] = c_out_w // c_in
                    weights = weights[0].transpose(2, 0, 1)
                    if c_in == 1:  # one input channel: a convolution with c_out_w filters
                        depthwise, geometry = False, {}
                        weights = weights[..., None]
                elif weights.shape[3] != src_shape[2]:
                    raise bad(f"input {src_shape} does not match weights {weights.shape}")
                kh, kw = int(weights.shape[1]), int(weights.shape[2])
                sh, sw = int(opts.strideH), int(opts.strideW)
                if (opts.dilationHFactor, opts.dilationWFactor) != (1, 1):
                    raise bad("dilation is not supported (Keras: dilation_rate=1)")
                if opts.padding == schema.Padding.SAME:
                    own = same_padding(src_shape[0], kh, sh) + same_padding(src_shape[1], kw, sw)
                else:
                    own = (0, 0, 0, 0)
                oh = (src_shape[0] + own[0] + own[1] - kh) // sh + 1
                ow = (src_shape[1] + own[2] + own[3] - kw) // sw + 1
                if min(oh, ow) < 1:
                    raise bad(f"a {kh}x{kw} kernel on a {src_shape[0]}x{src_shape[1]} input "
                              f"leaves no output")
                pad = own
                if pending_pad is not None:  # the PAD before it, folded in
                    pad = tuple(a + b for a, b in zip(pending_pad, own))
                    src_shape, pending_pad, src = padded_from, None, pad_source
                expected = (oh, ow, weights.shape[0])
                geometry.update(kernel=kh, kernel_w=kw, stride=sh, stride_w=sw, pad=pad)
            else:
                if len(src_shape) != 1:
                    raise bad(f"a dense layer on a {len(src_shape)}-D tensor {src_shape}; put a "
                              f"Flatten before the first Dense")
                if weights.shape[1] != src_shape[0]:
                    raise bad(f"input {src_shape} does not match weights {weights.shape}")
                expected = (weights.shape[0],)
            if dst_shape != expected:
                raise bad(f"output shape {dst_shape}, expected {expected}")
            c_out = weights.shape[0]
            if len(op.inputs) > 2 and op.inputs[2] >= 0:
                bias = _tensor_array(model, sub, op.inputs[2], schema)
                if bias.dtype != np.int32:
                    raise bad("bias is not int32")
            else:
                bias = np.zeros(c_out, np.int32)
            w_scale, w_zp = _quant(sub.tensors[op.inputs[1]])
            if w_scale is None or np.any(w_zp != 0):
                raise bad("weights must be symmetric int8 (zero point 0)")
            w_scale = np.broadcast_to(w_scale, (c_out,)).astype(np.float32)
            s_in, zp_in = _quant(src_t)
            s_out, _ = _quant(out_t)
            relu, zp_out, lo, hi = fused()
            effs = [effective_scale(s_in[0], ws, s_out[0]) for ws in w_scale]
            per_channel = len(_quant(sub.tensors[op.inputs[1]])[0]) > 1
            mode = "round" if (not is_conv and per_channel) else "gemmlowp"
            kind = ("depthwise" if depthwise else "conv2d") if is_conv else "dense"
            layer = Layer(
                kind=kind, name=short(kind),
                in_shape=src_shape, out_shape=dst_shape, tensor=out_index,
                zp_in=int(zp_in[0]), zp_out=zp_out, act_min=lo, act_max=hi, relu=relu,
                weights=np.ascontiguousarray(weights).copy(), bias=bias.reshape(c_out).copy(),
                requant=mode, scale_in=float(s_in[0]), scale_out=float(s_out[0]),
                weight_scale=w_scale.copy(), where=where, **geometry)
            if layer.acc_bound > INT32_MAX:
                raise bad(f"worst-case accumulator {layer.acc_bound} exceeds int32")
            if mode == "gemmlowp":
                m, sh = zip(*(quantize_multiplier(eff) for eff in effs))
            else:
                try:
                    m, sh = zip(*(rounding_multiplier(eff, layer.acc_bound) for eff in effs))
                except RoundingError as exc:  # golden and C compute in double; no hardware
                    m, sh = [0] * len(effs), [1] * len(effs)
                    object.__setattr__(layer, "refusal", str(exc))
            wide = max(int(v) for v in m) >= 1 << 63
            object.__setattr__(layer, "multiplier", np.array(m, object if wide else np.int64))
            object.__setattr__(layer, "shift", np.array(sh, np.int64))
        elif opcode in (schema.BuiltinOperator.MAX_POOL_2D,
                        schema.BuiltinOperator.AVERAGE_POOL_2D):
            is_max = opcode == schema.BuiltinOperator.MAX_POOL_2D
            fh, fw = int(opts.filterHeight), int(opts.filterWidth)
            sh, sw = int(opts.strideH), int(opts.strideW)
            if min(fh, fw, sh, sw) < 1:
                raise bad(f"pool {fh}x{fw} stride {sh}x{sw}")
            if opts.padding != schema.Padding.VALID:
                raise bad("padding SAME; only VALID is supported (Keras: padding='valid')")
            if opts.fusedActivationFunction != act.NONE:
                raise bad(f"fused activation on {opname} is not supported")
            if len(src_shape) != 3:
                raise bad(f"pooling a {len(src_shape)}-D tensor {src_shape}")
            if _quant(src_t) != (None, None) and (
                    _quant(src_t)[1][0] != _quant(out_t)[1][0]
                    or _quant(src_t)[0][0] != _quant(out_t)[0][0]):
                raise bad("input and output quantization differ")
            expected = ((src_shape[0] - fh) // sh + 1, (src_shape[1] - fw) // sw + 1,
                        src_shape[2])
            if src_shape[0] < fh or src_shape[1] < fw or dst_shape != expected:
                raise bad(f"output shape {dst_shape}, expected {expected}")
            zp = int(_quant(out_t)[1][0])
            if is_max:
                kind = "maxpool2x2" if (fh, fw, sh, sw) == (2, 2, 2, 2) else "maxpool"
            else:
                kind = "avgpool"
            layer = Layer(kind, short(kind), src_shape, dst_shape, out_index, zp_in=zp, zp_out=zp,
                          kernel=fh, kernel_w=fw, stride=sh, stride_w=sw, where=where)
        elif opcode == schema.BuiltinOperator.ADD:
            other = op.inputs[1]
            if other not in available:
                raise bad(f"reads tensor '{_name(sub.tensors[other])}', which no supported "
                          f"operator before it computes")
            other_shape = tuple(int(d) for d in sub.tensors[other].shape[1:])
            if other_shape != src_shape or dst_shape != src_shape:
                raise bad(f"adds {src_shape} and {other_shape}; only tensors of one shape are "
                          f"added (no broadcasting)")
            (s1, z1), (s2, z2), (so, _) = (_quant(sub.tensors[src]), _quant(sub.tensors[other]),
                                           _quant(out_t))
            relu, zp_out, lo, hi = fused()
            # kernels/add.cc: twice the larger input scale (a float product), left shift 20
            twice = float(np.float32(2) * max(np.float32(s1[0]), np.float32(s2[0])))
            pairs = [quantize_multiplier(float(s1[0]) / twice),
                     quantize_multiplier(float(s2[0]) / twice),
                     quantize_multiplier(twice / (float(1 << ADD_LEFT_SHIFT) * float(so[0])))]
            layer = Layer("add", short("add"), src_shape, dst_shape, out_index,
                          zp_in=int(z1[0]), zp_in2=int(z2[0]), zp_out=zp_out, act_min=lo,
                          act_max=hi, relu=relu,
                          multiplier=np.array([m for m, _ in pairs], np.int64),
                          shift=np.array([e for _, e in pairs], np.int64),
                          scale_in=float(s1[0]), scale_out=float(so[0]), where=where,
                          inputs=(src, other))
        elif opcode == schema.BuiltinOperator.MEAN:
            axes = constant(op.inputs[1])
            if axes is None or sorted(int(a) % 4 for a in np.ravel(axes)) != [1, 2]:
                raise bad("a mean over other axes than height and width; only "
                          "GlobalAveragePooling2D's (axes 1 and 2) is supported")
            if len(src_shape) != 3:
                raise bad(f"a mean of a {len(src_shape)}-D tensor {src_shape}")
            keep = bool(getattr(opts, "keepDims", False))
            expected = (1, 1, src_shape[2]) if keep else (src_shape[2],)
            if dst_shape != expected:
                raise bad(f"output shape {dst_shape}, expected {expected}")
            s_in, zp_in = _quant(src_t)
            s_out, zp_out = _quant(out_t)
            m, sh = mean_multiplier(float(s_in[0]) / float(s_out[0]), src_shape[0] * src_shape[1])
            layer = Layer("mean", short("mean"), src_shape, dst_shape, out_index,
                          zp_in=int(zp_in[0]), zp_out=int(zp_out[0]),
                          multiplier=np.array([m], np.int64), shift=np.array([sh], np.int64),
                          scale_in=float(s_in[0]), scale_out=float(s_out[0]), where=where)
        elif opcode == schema.BuiltinOperator.RESHAPE:
            # in raster order (row, column, channel) a map and its flattened vector are the
            # same stream: a Flatten, or a vector read as a map (micro_speech's 1960 -> 49x40x1)
            flat = len(src_shape) in (1, 3) and dst_shape == (int(np.prod(src_shape)),)
            to_map = (len(src_shape) == 1 and len(dst_shape) == 3
                      and int(np.prod(dst_shape)) == src_shape[0])
            if not (flat or to_map):
                raise bad(f"reshape {src_shape} -> {tuple(int(d) for d in out_t.shape)}; only "
                          f"a Flatten (H, W, C) -> (1, H*W*C) and a vector into a map (1, N) -> "
                          f"(1, H, W, C) are supported (a Dense on an image needs a Flatten "
                          f"before it)")
            target = constant(op.inputs[1]) if len(op.inputs) > 1 and op.inputs[1] >= 0 \
                else np.asarray(getattr(opts, "newShape", None) or [], np.int64)
            if target is not None and target.size:
                want = [int(d) for d in np.asarray(target).ravel()]
                if -1 in want:  # the one free dimension takes what the others leave
                    rest = int(np.prod([d for d in want if d != -1]))
                    want[want.index(-1)] = int(np.prod(src_shape)) // max(rest, 1)
                if int(np.prod(want)) != int(np.prod(src_shape)) or want[-1] != dst_shape[-1]:
                    raise bad(f"its shape operand {list(np.asarray(target).ravel())} does not "
                              f"give the output shape {dst_shape}")
            zp = int(_quant(out_t)[1][0])
            layer = Layer("flatten", short("flatten") if flat else short("reshape"), src_shape,
                          dst_shape, out_index, zp_in=zp, zp_out=zp, where=where)
        elif opcode == schema.BuiltinOperator.SOFTMAX:
            if out_index != sub.outputs[0]:
                raise bad("SOFTMAX is only supported as the last operator")
            softmax = True
            current = out_index
            continue
        else:
            raise bad("operator not supported (supported: CONV_2D and DEPTHWISE_CONV_2D of "
                      "any kernel and stride, a PAD before them, MAX_POOL_2D and "
                      "AVERAGE_POOL_2D (valid), MEAN over height and width, RESHAPE as "
                      "Flatten, FULLY_CONNECTED, a final SOFTMAX; fused activations none, RELU, "
                      "RELU6)")
        if not layer.inputs:
            object.__setattr__(layer, "inputs", (src,))
        layers.append(layer)
        current = out_index
        available.add(out_index)

    if pending_pad is not None:
        raise UnsupportedTFLiteError(f"{label}: a PAD with no convolution after it")
    if current != sub.outputs[0]:
        raise UnsupportedTFLiteError(f"{label}: the chain of operators does not reach the output")
    # the logits: a dense layer, a global average, or (keras.applications' tops) a 1x1 map of
    # a convolution or an average reshaped into a vector
    vector_of_one_pixel = (len(layers) >= 2 and layers[-1].kind == "flatten"
                           and tuple(layers[-2].out_shape[:-1]) in ((1, 1), ()))
    if not layers or not (layers[-1].kind == "dense" or vector_of_one_pixel or
                          (layers[-1].kind == "mean" and len(layers[-1].out_shape) == 1)):
        raise UnsupportedTFLiteError(f"{label}: the last layer must give the class logits: a "
                                     f"dense (FULLY_CONNECTED) layer or a global average "
                                     f"(MEAN, Keras GlobalAveragePooling2D)")
    return Network(name=name, layers=tuple(layers), input_shape=in_shape[1:],
                   input_scale=float(in_scale[0]), input_zp=int(in_zp[0]),
                   input_tensor=int(sub.inputs[0]), output_tensor=int(sub.outputs[0]),
                   softmax=softmax)
