"""Keras model -> TFLite: full-integer int8 (what the hardware runs) and float32 (for reference).

There is no Keras-side layer check: a ``.keras`` model is converted the way TFLite tutorials
do it (``TFLiteConverter.from_keras_model``, a representative dataset, int8 operators only,
int8 input and output) and the resulting ``.tflite`` is judged by ``qnet.from_tflite``, the one
judge for both paths (see ``model.source``).

The converter talks a lot (TensorFlow's C++ log lines, the SavedModel export's summary,
Python warnings); ``quiet`` keeps all of it out of the terminal and hands it back when the
conversion fails, so the error can quote the converter's own reason.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings

import numpy as np


class UnsupportedModelError(ValueError):
    """The model cannot be read or converted (the message names the file and the reason)."""


@contextlib.contextmanager
def quiet(log: list | None = None):
    """Silence file descriptors 1 and 2 (C++ logging included) and Python warnings; the text
    that would have been printed is appended to ``log``. ``CNN2FPGA_VERBOSE=1`` disables it."""
    if os.environ.get("CNN2FPGA_VERBOSE"):
        yield
        return
    import io

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    text = io.StringIO()  # Python-level prints (sys.stdout may not be fd 1, e.g. under pytest)
    with tempfile.TemporaryFile(mode="w+b") as sink, warnings.catch_warnings(), \
            contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
        warnings.simplefilter("ignore")
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            if log is not None:
                sink.seek(0)
                log.append(sink.read().decode(errors="replace") + text.getvalue())


def _reason(exc: Exception, log: list) -> str:
    text = (str(exc).strip() or type(exc).__name__).splitlines()
    for line in reversed(text + "".join(log).splitlines()):
        if "error" in line.lower():
            return line.strip()[:400]
    return text[0][:400]


def _convert(converter, label) -> bytes:
    log: list[str] = []
    try:
        with quiet(log):
            return bytes(converter.convert())
    except Exception as exc:  # the converter raises many types (ConverterError, ValueError, ...)
        raise UnsupportedModelError(
            f"{label}: the TFLite converter failed: {_reason(exc, log)}") from None


def to_int8_tflite(model, representative: np.ndarray, samples: int = 500, seed: int = 0,
                   label="model") -> bytes:
    """Convert ``model`` to a full-integer int8 TFLite flatbuffer (int8 input and output).

    ``representative`` holds float inputs (N, H, W, C) from the training data; ``samples`` of
    them, drawn with ``seed``, calibrate the activation ranges. The model is converted as it
    is (a dynamic batch included: its Flatten's shape computation is folded by qnet).
    """
    with quiet():
        import tensorflow as tf

    rng = np.random.default_rng(seed)
    picks = rng.choice(len(representative), size=min(samples, len(representative)), replace=False)
    calib = representative[np.sort(picks)].astype(np.float32)

    def gen():
        for x in calib:
            yield [x[None]]

    with quiet():
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = gen
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return _convert(converter, label)


def to_float_tflite(model, label="model") -> bytes:
    """The converter's float32 output (no quantization): the reference the seed article
    reports beside the int8 model."""
    with quiet():
        import tensorflow as tf

        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    return _convert(converter, label)
