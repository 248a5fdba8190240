"""The network as a C99 header for ``mcu/cnn2fpga.c``: ``<model>_weights.h``.

Everything comes from the qnet (``model.qnet``), as the golden model and the ROM files read it:
int8 weights (conv OHWI, dense [out][in] in NHWC flatten order), int32 biases, per-channel
multipliers (int64) and shifts (int8) (a per-channel dense layer whose integer form needs more
than 64 bits: the kernel's double scales instead), zero points, clamp bounds, the pixel-to-int8 table, and
a layer table. Flatten has no entry (a no-op on NHWC memory).

Memory figures (``memory``): flash is every const array; RAM is the two scratch buffers
``c2f_run`` ping-pongs between, each as large as the largest activation tensor.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from cnn2fpga import resources

from .export import c_identifier
from .presets import pixel_map
from .qnet import Layer, Network

PER_ROW = 16
# qnet layer kind -> the C library's (mcu/cnn2fpga.h); flatten has no entry
C_KINDS = {"conv2d": "C2F_CONV", "depthwise": "C2F_DEPTHWISE",
           "maxpool2x2": "C2F_MAXPOOL2X2", "dense": "C2F_DENSE",
           "maxpool": "C2F_MAXPOOL", "avgpool": "C2F_AVGPOOL",
           "mean": "C2F_MEAN", "add": "C2F_ADD"}


def _array(ctype: str, name: str, values) -> str:
    values = [int(v) for v in np.asarray(values, dtype=object).ravel()]
    suffix = "LL" if ctype == "int64_t" else ""
    rows = [", ".join(f"{v}{suffix}" for v in values[i:i + PER_ROW])
            for i in range(0, len(values), PER_ROW)]
    body = ",\n    ".join(rows)
    return f"static const {ctype} {name}[{len(values)}] = {{\n    {body}\n}};\n"


def round_fits_64(layer: Layer) -> bool:
    """Whether the C library's integer ``round`` form, |acc| * M + 2^(n-1) in uint64, holds
    every accumulator of ``layer`` (else it computes the kernel's double rounding)."""
    if layer.refusal:
        return False
    return all(1 <= int(n) <= 63 and
               int(layer.acc_bound) * int(m) + (1 << (int(n) - 1)) < 1 << 64
               for m, n in zip(layer.multiplier, layer.shift))


def _doubles(name: str, values) -> str:
    """A const double array, each value written so that it reads back as the same double."""
    values = [repr(float(v)) for v in np.ravel(values)]
    rows = [", ".join(values[i:i + 4]) for i in range(0, len(values), 4)]
    return f"static const double {name}[{len(values)}] = {{\n    " + ",\n    ".join(rows) + "\n};\n"


def largest_tensor(net: Network) -> int:
    sizes = [int(np.prod(net.input_shape))]
    sizes += [int(np.prod(layer.out_shape)) for layer in net.layers]
    return max(sizes)


def is_chain(net: Network) -> bool:
    """Every layer reads the tensor of the layer before it."""
    before = net.input_tensor
    for layer in net.layers:
        if tuple(layer.inputs) != (before,):
            return False
        before = layer.tensor
    return True


def slot_plan(net: Network) -> tuple[dict, int]:
    """The scratch slots of a network with branches: ({tensor: slot}, slots). Each layer's
    output takes the lowest slot no tensor still to be read holds (a tensor is held from its
    layer to its last reader, so a skip connection's tensor waits for its ADD); a RESHAPE's
    output is its input's slot. The input in slot 0."""
    last = {}
    for i, layer in enumerate(net.layers):
        for t in layer.inputs:
            last[t] = i
    end = len(net.layers)
    slot = {net.input_tensor: 0}
    release = {0: last.get(net.input_tensor, end)}  # slot -> the last layer that reads it
    for i, layer in enumerate(net.layers):
        if layer.kind == "flatten":
            s = slot[layer.inputs[0]]
            release[s] = max(release[s], last.get(layer.tensor, end))
        else:
            s = next(k for k in range(len(release) + 1) if release.get(k, -1) < i)
            release[s] = last.get(layer.tensor, end)
        slot[layer.tensor] = s
    return slot, max(release) + 1


def buffer_values(net: Network) -> int:
    """Values in each of the two scratch buffers: the largest tensor c2f_run holds (a network
    with branches: as many slots of it as ``slot_plan`` needs, half in each buffer)."""
    if is_chain(net):
        return largest_tensor(net)
    _, slots = slot_plan(net)
    return -(-slots // 2) * largest_tensor(net)


def memory(net: Network) -> dict:
    """Bytes of const data (flash) and of scratch RAM the C inference needs."""
    flash = 256  # pixel table
    for layer in net.layers:
        if layer.has_weights:
            flash += layer.weights.size + 4 * layer.bias.size + 8 * layer.c_out + layer.c_out
        elif layer.kind == "mean":
            flash += 8 + 1
    return {"flash_arrays": flash, "ram_buffers": 2 * buffer_values(net),
            "buffer_bytes": buffer_values(net)}


def _pixel_range(net: Network, input_max: float, input_offset: float = 0.0) -> str:
    """What the pixel table makes of 0..255: where it stops changing."""
    table = net.pixel_table(input_max, input_offset)
    top = int(np.argmax(table == table[-1]))
    if top < 255:
        return f"0..{top}; larger values read as {top}"
    return "0..255"


def check_chain(net: Network) -> None:
    """Every layer is one the C library runs (a chain between two buffers, or a network with
    branches in ``slot_plan``'s slots)."""
    for layer in net.layers:
        if layer.kind not in C_KINDS and layer.kind != "flatten":
            raise ValueError(f"{net.name}: layer {layer.name}: the C library has no {layer.kind} "
                             f"(check_golden.py runs it)")


def weights_header(net: Network, input_max: float, input_offset: float = 0.0) -> str:
    check_chain(net)
    ident = c_identifier(net.name)
    up = ident.upper()
    h, w, c = net.input_shape if len(net.input_shape) == 3 else (1, 1) + net.input_shape
    parts = [f"""/* {net.name}: the int8 network for mcu/cnn2fpga.c, generated by cnn2fpga's
 * scripts/export_weights.py from the quantized model. Do not edit.
 *
 *   static int8_t buf_a[{up}_BUFFER_BYTES], buf_b[{up}_BUFFER_BYTES];
 *   int cls = c2f_run(&{ident}_net, pixels, buf_a, buf_b, logits);
 *
 * pixels: {h}x{w}x{c} bytes, NHWC, each the raw pixel the model saw as {pixel_map(input_max, input_offset)}
 * ({_pixel_range(net, input_max, input_offset)}). {net.macs} MACs per image. */
#ifndef {up}_WEIGHTS_H
#define {up}_WEIGHTS_H

#include "cnn2fpga.h"

#define {up}_BUFFER_BYTES {buffer_values(net)}
#define {up}_CLASSES {net.logits_layer.c_out}
#define {up}_PIXELS {h * w * c}
#define {up}_FLASH_BYTES {memory(net)["flash_arrays"]}

"""]
    parts.append(_array("int8_t", f"{ident}_pixel_to_int8", net.pixel_table(input_max, input_offset)))
    chain = is_chain(net)
    slot, n_slots = ({}, 0) if chain else slot_plan(net)
    entries = []
    for layer in net.layers:
        if layer.kind == "flatten":
            continue
        if layer.kind == "dense":
            lh, lw, lc = 1, 1, int(np.prod(layer.in_shape))
        else:
            lh, lw, lc = layer.in_shape
        name = f"{ident}_{c_identifier(layer.name)}"
        kind = C_KINDS[layer.kind]
        if layer.has_weights:
            parts.append(_array("int8_t", f"{name}_weights", layer.weights))
            parts.append(_array("int32_t", f"{name}_bias", layer.bias))
            if layer.requant == "round" and not round_fits_64(layer):
                # the kernel's own double arithmetic (floating point only for such a layer)
                parts.append(_doubles(f"{name}_scale", layer.round_scales))
                mode = "C2F_ROUND_DOUBLE"
                arrays = f"{name}_weights, {name}_bias, 0, 0, {name}_scale"
            else:
                parts.append(_array("int64_t", f"{name}_multiplier", layer.multiplier))
                parts.append(_array("int8_t", f"{name}_shift", layer.shift))
                mode = "C2F_ROUND" if layer.requant == "round" else "C2F_GEMMLOWP"
                arrays = f"{name}_weights, {name}_bias, {name}_multiplier, {name}_shift, 0"
            c_out = layer.c_out
        elif layer.kind in ("mean", "add"):  # add: [input 1, input 2, output]
            parts.append(_array("int64_t", f"{name}_multiplier", layer.multiplier))
            parts.append(_array("int8_t", f"{name}_shift", layer.shift))
            mode, arrays, c_out = "C2F_GEMMLOWP", f"0, 0, {name}_multiplier, {name}_shift, 0", lc
        else:
            mode, arrays, c_out = "C2F_NONE", "0, 0, 0, 0, 0", lc
        out_h, out_w = layer.out_shape[:2] if len(layer.out_shape) == 3 else (1, 1)
        (kh, kw), (sh, sw) = layer.kernel_hw, layer.stride_hw
        geometry = (f"{kh}, {sh}, {layer.pad[0]}, {layer.pad[2]}, {out_h}, {out_w}, {kw}, "
                    f"{sw}, {layer.depth_multiplier}")
        # in, out and second-input slots (a chain's: unused), the second zero point
        if chain:
            geometry += f", 0, 0, 0, {layer.zp_in2}"
        else:
            second = slot[layer.inputs[1]] if len(layer.inputs) > 1 else 0
            geometry += (f",\n     {slot[layer.inputs[0]]}, {slot[layer.tensor]}, {second}, "
                         f"{layer.zp_in2}")
        entries.append(f"    /* {layer.name}: {layer.kind} {tuple(layer.in_shape)} -> "
                       f"{tuple(layer.out_shape)} */\n"
                       f"    {{{kind}, {mode}, {lh}, {lw}, {lc}, {c_out}, {layer.zp_in}, "
                       f"{layer.zp_out}, {layer.act_min}, {layer.act_max},\n     {arrays}, "
                       f"{geometry}}},")
    parts.append(f"static const c2f_layer {ident}_layers[{len(entries)}] = {{\n" +
                 "\n".join(entries) + "\n};\n")
    slots = (f",\n    {n_slots}, {slot[net.input_tensor]}, {largest_tensor(net)}"
             if not chain else ", 0, 0, 0")
    parts.append(f"static const c2f_network {ident}_net = {{\n    \"{net.name}\", {h}, {w}, {c}, "
                 f"{len(entries)}, {up}_CLASSES, {up}_BUFFER_BYTES,\n    {ident}_pixel_to_int8, "
                 f"{ident}_layers{slots}\n}};\n")
    parts.append(f"\n#endif /* {up}_WEIGHTS_H */\n")
    return "\n".join(parts)


def samples_header(net: Network, images: np.ndarray, labels: np.ndarray) -> str:
    """A few raw test images (uint8) and their labels, for the example sketch."""
    ident = c_identifier(net.name)
    up = ident.upper()
    images = np.asarray(images, np.uint8).reshape(len(images), -1)
    rows = []
    for img in images:
        vals = [str(int(v)) for v in img]
        rows.append("    {" + ",\n     ".join(", ".join(vals[i:i + 28])
                                             for i in range(0, len(vals), 28)) + "}")
    return (f"/* {net.name}: {len(images)} test images (raw pixels) and their labels, generated "
            f"by\n * cnn2fpga's scripts/export_weights.py. Do not edit. */\n"
            f"#ifndef {up}_SAMPLES_H\n#define {up}_SAMPLES_H\n\n#include <stdint.h>\n\n"
            f"#define {up}_SAMPLES {len(images)}\n\n"
            f"static const uint8_t {ident}_samples[{len(images)}][{images.shape[1]}] = {{\n"
            + ",\n".join(rows) + "\n};\n"
            f"static const uint8_t {ident}_sample_labels[{len(images)}] = {{"
            + ", ".join(str(int(v)) for v in labels) + "};\n\n"
            f"#endif /* {up}_SAMPLES_H */\n")


# --- host build and run (tests, scripts/mcu_report.py) ----------------------------------------

MCU = resources.folder("mcu")
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]


def compile_host(export_dir, model: str, exe, *, sanitize: bool = False, opt: str = "-O2"):
    """Build mcu/host/c2f_host.c + mcu/cnn2fpga.c against ``export_dir``'s weights header."""
    import shutil
    import subprocess

    gcc = shutil.which("gcc")
    if gcc is None:
        raise FileNotFoundError("gcc is not installed (make setup installs it)")
    cmd = [gcc, *CFLAGS, opt, *(SANITIZE if sanitize else []), f"-I{MCU}", f"-I{export_dir}",
           f"-DC2F_MODEL={c_identifier(model)}", str(MCU / "cnn2fpga.c"),
           str(MCU / "host" / "c2f_host.c"), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode or proc.stderr.strip():
        raise RuntimeError(f"gcc failed:\n{' '.join(cmd)}\n{proc.stderr}")
    return exe


def run_host(exe, images: np.ndarray, n_classes: int, work) -> np.ndarray:
    """Classify raw uint8 ``images`` with the host build; returns (N, classes) int8 logits."""
    import subprocess
    from pathlib import Path

    work = Path(work)
    (work / "images.u8").write_bytes(np.ascontiguousarray(images, np.uint8).tobytes())
    proc = subprocess.run([str(exe), str(work / "images.u8"), str(work / "logits.i8")],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{exe} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return np.frombuffer((work / "logits.i8").read_bytes(), np.int8).reshape(-1, n_classes)
