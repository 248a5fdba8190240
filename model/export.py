"""ROM init files (``$readmemh``), ``network.json`` and a C header, all read from a qnet.

Word layout of the ``.mem`` files (one word per line, hexadecimal, no address markers, the
first line is address 0; signed values as two's complement of the word's width):

    <layer>_weights.mem     8-bit signed words. conv2d (k x k): index
                            ((o*k + ky)*k + kx)*C_in + c (TFLite's OHWI order); dense:
                            o*N_in + i (the input index i is the NHWC flatten order
                            (h*W + w)*C + c, the order a raster stream delivers).
    <layer>_bias.mem        32-bit signed words, one per output channel.
    <layer>_multiplier.mem  ``mult_bits``-bit *unsigned* words (network.json), one per output
                            channel: M0 (31 bits) for requant "gemmlowp"; up to 63 bits for
                            "round" (the word is exactly as wide as the largest multiplier, so
                            its top bit is often set: read it unsigned).
    <layer>_shift.mem       8-bit signed words, one per output channel: TFLite's shift
                            (positive = left) for "gemmlowp", the right shift for "round".

The hardware's weight ROMs pack the same weights for a MAC array's parallelism
(``hdl.cnn.parallel``: ``<layer>_weights_pe<P>_simd<S>[_taps9].mem``).

``network.json`` lists the layers with shapes, zero points, clamp bounds, requant mode,
accumulator width and the files; ``<model>_model.h`` holds the ``.tflite`` as an aligned
``const unsigned char`` array and its length, for TFLite Micro on a microcontroller.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .qnet import Layer, Network


def hex_words(values, bits: int) -> list[str]:
    """Two's complement hex strings of ``bits`` bits; raise if a value does not fit."""
    # object arrays keep Python ints exact: words wider than 53 bits must not pass through float
    arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    values = [int(v) for v in arr.ravel()]
    lo, hi = -(1 << (bits - 1)), (1 << bits) - 1
    digits = (bits + 3) // 4
    out = []
    for v in values:
        if not lo <= v <= hi:
            raise ValueError(f"value {v} does not fit {bits} bits")
        out.append(f"{v & ((1 << bits) - 1):0{digits}x}")
    return out


def write_mem(path: Path, values, bits: int) -> None:
    path.write_text("\n".join(hex_words(values, bits)) + "\n")


def read_mem(path: Path, bits: int, signed: bool = True) -> np.ndarray:
    """Read a ``.mem`` file back into integers (the inverse of ``write_mem``)."""
    words = [int(line, 16) for line in Path(path).read_text().split() if not line.startswith("//")]
    if signed:
        words = [w - (1 << bits) if w >> (bits - 1) else w for w in words]
    return np.array(words, np.int64 if bits < 64 else object)


def mult_bits(layer: Layer) -> int:
    return max(1, int(max(int(m) for m in layer.multiplier)).bit_length())


def layer_files(layer: Layer) -> dict[str, dict]:
    """File name, word width and depth of each ROM of ``layer``."""
    return {
        "weights": {"file": f"{layer.name}_weights.mem", "bits": 8, "depth": int(layer.weights.size)},
        "bias": {"file": f"{layer.name}_bias.mem", "bits": 32, "depth": layer.c_out},
        "multiplier": {"file": f"{layer.name}_multiplier.mem", "bits": mult_bits(layer),
                       "depth": layer.c_out},
        "shift": {"file": f"{layer.name}_shift.mem", "bits": 8, "depth": layer.c_out},
    }


def network_json(net: Network, input_max: float | None = None,
                 input_offset: float = 0.0) -> dict:
    layers = []
    for layer in net.layers:
        entry = {"name": layer.name, "kind": layer.kind, "in_shape": list(layer.in_shape),
                 "out_shape": list(layer.out_shape), "zp_in": layer.zp_in, "zp_out": layer.zp_out}
        if layer.has_weights:
            entry.update({
                "act_min": layer.act_min, "act_max": layer.act_max, "relu": layer.relu,
                "requant": layer.requant, "acc_bits": layer.acc_bits, "acc_bound": layer.acc_bound,
                "macs": layer.macs, "files": layer_files(layer)})
        if layer.kind in ("conv2d", "depthwise", "maxpool", "avgpool"):
            entry.update({"kernel": list(layer.kernel_hw), "stride": list(layer.stride_hw),
                          "pad": list(layer.pad)})    # rows above, below, columns left, right
        if layer.kind == "depthwise":
            entry["depth_multiplier"] = layer.depth_multiplier
        if layer.kind == "mean":
            entry.update({"multiplier": int(layer.multiplier[0]), "shift": int(layer.shift[0])})
        layers.append(entry)
    doc = {"model": net.name, "input_shape": list(net.input_shape), "input_scale": net.input_scale,
           "input_zero_point": net.input_zp, "softmax_dropped": net.softmax,
           "macs": net.macs, "parameters": net.parameters, "layers": layers}
    if input_max is not None:
        doc["input_max"] = input_max
        doc["input_offset"] = input_offset
        doc["pixel_to_int8"] = [int(v) for v in net.pixel_table(input_max, input_offset)]
    return doc


def c_identifier(name: str) -> str:
    ident = "".join(ch if ch.isalnum() else "_" for ch in name)
    return ident if ident and not ident[0].isdigit() else f"m_{ident}"


def c_header(name: str, tflite: bytes) -> str:
    ident = c_identifier(name)
    guard = f"{ident.upper()}_MODEL_H"
    rows = [", ".join(f"0x{b:02x}" for b in tflite[i:i + 12]) for i in range(0, len(tflite), 12)]
    body = ",\n  ".join(rows)
    return f"""/* {name}: int8 TFLite model ({len(tflite)} bytes), generated by cnn2fpga's
 * scripts/export_weights.py. Do not edit. Load it with tflite::GetModel({ident}_model_tflite). */
#ifndef {guard}
#define {guard}

#if defined(__GNUC__) || defined(__clang__)
#define {ident.upper()}_ALIGN __attribute__((aligned(16)))
#elif defined(_MSC_VER)
#define {ident.upper()}_ALIGN __declspec(align(16))
#else
#define {ident.upper()}_ALIGN
#endif

const unsigned char {ident}_model_tflite[] {ident.upper()}_ALIGN = {{
  {body}
}};
const unsigned int {ident}_model_tflite_len = {len(tflite)};

#endif /* {guard} */
"""


@contextmanager
def staged_folder(out, *, replace_all: bool = False):
    """Yield a fresh staging folder beside ``out``; when the block finishes, move its files
    into ``out`` (with ``replace_all`` the files already in ``out`` go first, so nothing stale
    stays). On an error ``out`` is left exactly as it was: no half-written output."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield stage
        out.mkdir(exist_ok=True)
        if replace_all:
            for old in out.iterdir():
                if old.is_file():
                    old.unlink()
        for f in sorted(stage.iterdir()):
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def export(net: Network, tflite: bytes, out: str | os.PathLike,
           input_max: float | None = None, samples=None, raw=None,
           input_offset: float = 0.0) -> list[Path]:
    """Write every ROM file, ``network.json`` and the C headers into ``out``: the .tflite as
    an array (``<model>_model.h``) and, with ``input_max``, the network for ``mcu/cnn2fpga.c``
    (``<model>_weights.h``, ``model.c_export``); ``samples`` = (raw images, labels) adds
    ``<model>_samples.h`` for the example sketch; ``raw`` = (raw images, labels) writes them
    as ``images.u8`` (N x H*W*C bytes) and ``labels.u8``, the host runner's input
    (``mcu/host/c2f_host.c``).

    All files are generated into a staging folder first; only when every one is written are
    they moved into ``out`` (a failure leaves ``out`` as it was). Returns the written paths.
    """
    out = Path(out)
    if input_max is not None:  # refused before anything is written
        from . import c_export
        c_export.check_chain(net)
    with staged_folder(out) as stage:
        for layer in net.layers:
            if not layer.has_weights:
                continue
            files = layer_files(layer)
            write_mem(stage / files["weights"]["file"], layer.weights, 8)
            write_mem(stage / files["bias"]["file"], layer.bias, 32)
            write_mem(stage / files["multiplier"]["file"], layer.multiplier,
                      files["multiplier"]["bits"])
            write_mem(stage / files["shift"]["file"], layer.shift, 8)
        (stage / "network.json").write_text(json.dumps(network_json(net, input_max, input_offset), indent=2) + "\n")
        (stage / f"{c_identifier(net.name)}_model.h").write_text(c_header(net.name, tflite))
        if input_max is not None:  # the C library's network needs the pixel table
            from . import c_export
            ident = c_identifier(net.name)
            (stage / f"{ident}_weights.h").write_text(c_export.weights_header(net, input_max, input_offset))
            if samples is not None:
                (stage / f"{ident}_samples.h").write_text(c_export.samples_header(net, *samples))
        if raw is not None:
            (stage / "images.u8").write_bytes(np.ascontiguousarray(raw[0], np.uint8).tobytes())
            (stage / "labels.u8").write_bytes(np.ascontiguousarray(raw[1], np.uint8).tobytes())
        written = [out / f.name for f in sorted(stage.iterdir())]
    return written
