"""The arithmetic oracle: LiteRT's interpreter with TFLite's *reference* kernels.

``OpResolverType.BUILTIN_REF`` selects the plain reference implementations (no XNNPACK, no
optimized kernels), and ``experimental_preserve_all_tensors`` keeps every intermediate tensor
readable after ``invoke()``, so each layer's output can be compared with the golden model.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def interpreter(model: str | os.PathLike | bytes, reference: bool = True, preserve: bool = True,
                threads: int | None = None):
    """A LiteRT interpreter, allocated; its start-up line (the XNNPACK delegate's INFO) is
    kept out of the terminal."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from .convert import quiet

    kwargs = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(Path(model))}
    if reference:
        kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_REF
    if threads:
        kwargs["num_threads"] = threads
    kernels = "reference kernels" if reference else "default kernels (XNNPACK)"
    try:
        with quiet():
            interp = Interpreter(experimental_preserve_all_tensors=preserve, **kwargs)
            interp.allocate_tensors()
    except (RuntimeError, ValueError) as exc:
        label = "the model" if isinstance(model, bytes) else str(model)
        raise OracleError(f"{label}: LiteRT's {kernels} cannot load it: "
                          f"{_first_line(exc)}") from None
    return interp


class OracleError(ValueError):
    """LiteRT refuses a model (it cannot be loaded or run)."""


def _first_line(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0][:300] if lines else type(exc).__name__


def without_softmax(model) -> bytes:
    """The model's flatbuffer with a final SOFTMAX removed, its input made the output: the
    logits, which the project compares (the class is their argmax). LiteRT's reference int8
    SOFTMAX aborts the process on some legal models (a logits scale outside what its lookup
    table takes: a random-weight keras.applications MobileNet), and it computes nothing the
    golden model checks. A model without a final SOFTMAX is returned as it is."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    buf = model if isinstance(model, bytes) else Path(model).read_bytes()
    tree = schema.ModelT.InitFromPackedBuf(bytearray(buf), 0)
    sub = tree.subgraphs[0]
    if not sub.operators:
        return buf
    last = sub.operators[-1]
    code = tree.operatorCodes[last.opcodeIndex]
    if max(code.builtinCode, code.deprecatedBuiltinCode) != schema.BuiltinOperator.SOFTMAX \
            or list(sub.outputs) != [last.outputs[0]]:
        return buf
    sub.operators = sub.operators[:-1]
    sub.outputs = [last.inputs[0]]
    builder = flatbuffers.Builder(len(buf) + 1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def run(model, x_int8: np.ndarray, tensors: list[int] | None = None, reference: bool = True,
        progress: bool = False):
    """Run images ``x_int8`` (N, H, W, C) one by one, without a final SOFTMAX
    (``without_softmax``).

    Returns (the logits (N, ...) int8, {tensor index: (N, ...) array}) for the requested
    intermediate ``tensors``.
    """
    interp = interpreter(without_softmax(model), reference=reference, preserve=bool(tensors))
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    if inp["dtype"] != np.int8:
        raise ValueError(f"model input is {inp['dtype'].__name__}, expected int8")
    tensors = list(tensors or [])
    outputs = np.empty((len(x_int8),) + tuple(out["shape"][1:]), np.int8)
    inter = {t: None for t in tensors}
    items = range(len(x_int8))
    if progress:
        from tqdm import tqdm
        items = tqdm(items, desc="LiteRT reference", unit="img", leave=False)
    for i in items:
        interp.set_tensor(inp["index"], x_int8[i:i + 1])
        interp.invoke()
        outputs[i] = interp.get_tensor(out["index"])[0]
        for t in tensors:
            value = interp.get_tensor(t)[0]
            if inter[t] is None:
                inter[t] = np.empty((len(x_int8),) + value.shape, value.dtype)
            inter[t][i] = value
    return outputs, inter


def timed(model, x: np.ndarray, threads: int = 1, progress: bool = False,
          used: dict | None = None):
    """LiteRT with its default, optimized kernels, one image per invoke as the FPGA sees them:
    (mean seconds per image, outputs (N, ...)). ``x`` is cast to the model's input type;
    a few images are run first to warm up.

    When the default kernels refuse a model that the reference kernels run (XNNPACK's delegate
    fails to prepare some legal models), the time is the reference kernels'. ``used`` (a dict)
    is told which: ``kernels`` "default" or "reference", and ``why``."""
    import time

    info = {"kernels": "default", "why": ""}
    try:
        interp = interpreter(model, reference=False, preserve=False, threads=threads)
        inp = interp.get_input_details()[0]
        warm = np.asarray(x[:min(10, len(x))]).astype(inp["dtype"])
        for i in range(len(warm)):
            interp.set_tensor(inp["index"], warm[i:i + 1])
            interp.invoke()
    except (OracleError, RuntimeError) as exc:
        info = {"kernels": "reference", "why": _first_line(exc)}
        interp = interpreter(model, reference=True, preserve=False, threads=threads)
    if used is not None:
        used.update(info)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    x = np.asarray(x).astype(inp["dtype"])
    items = range(len(x))
    if progress:
        from tqdm import tqdm
        items = tqdm(items, desc=f"LiteRT {inp['dtype'].__name__}", unit="img", leave=False)
    outputs = np.empty((len(x),) + tuple(out["shape"][1:]), out["dtype"])
    start = time.perf_counter()
    for i in items:
        interp.set_tensor(inp["index"], x[i:i + 1])
        interp.invoke()
        outputs[i] = interp.get_tensor(out["index"])[0]
    return (time.perf_counter() - start) / max(1, len(x)), outputs
