"""Keras model check and full-integer int8 TFLite conversion.

Supported layers (what the hardware implements):
  Conv2D 3x3, stride 1, padding 'valid', no dilation, activation 'relu' or none;
  MaxPooling2D 2x2, stride 2, padding 'valid';
  Flatten (once, between the convolutional and the dense part);
  Dense, activation 'relu' or none, or 'softmax' on the last layer (dropped: argmax needs logits);
  Dropout (identity at inference).
Anything else raises ``UnsupportedModelError`` naming the layer and the reason, before any file
is written.
"""
from __future__ import annotations

import numpy as np


class UnsupportedModelError(ValueError):
    """The model uses a layer or option the hardware does not implement."""


def _act(layer) -> str:
    fn = getattr(layer, "activation", None)
    return getattr(fn, "__name__", str(fn))


def check_keras_model(model) -> None:
    """Raise UnsupportedModelError unless every layer of ``model`` is supported."""
    import keras

    if len(model.inputs) != 1:
        raise UnsupportedModelError(
            f"model '{model.name}': {len(model.inputs)} inputs; exactly one image input is supported")
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3 or None in shape:
        raise UnsupportedModelError(
            f"model '{model.name}': input shape {shape}; an image input (H, W, C) of fixed size "
            f"is required")
    if len(model.outputs) != 1:
        raise UnsupportedModelError(
            f"model '{model.name}': {len(model.outputs)} outputs; exactly one is supported")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not layers:
        raise UnsupportedModelError(f"model '{model.name}' has no layers")
    flat = False
    for i, layer in enumerate(layers):
        last = i == len(layers) - 1
        where = f"layer '{layer.name}' ({type(layer).__name__})"

        def bad(reason: str) -> UnsupportedModelError:
            return UnsupportedModelError(f"{where}: {reason}")

        if isinstance(layer, keras.layers.Conv2D) and type(layer) is keras.layers.Conv2D:
            if flat:
                raise bad("Conv2D after Flatten is not supported")
            if tuple(layer.kernel_size) != (3, 3):
                raise bad(f"kernel_size {tuple(layer.kernel_size)}; only 3x3 is supported")
            if tuple(layer.strides) != (1, 1):
                raise bad(f"strides {tuple(layer.strides)}; only stride 1 is supported")
            if layer.padding != "valid":
                raise bad(f"padding='{layer.padding}'; only padding='valid' is supported")
            if tuple(layer.dilation_rate) != (1, 1):
                raise bad(f"dilation_rate {tuple(layer.dilation_rate)}; only 1 is supported")
            if getattr(layer, "groups", 1) != 1:
                raise bad(f"groups={layer.groups}; only 1 is supported")
            if _act(layer) not in ("relu", "linear"):
                raise bad(f"activation '{_act(layer)}'; only 'relu' or none is supported")
        elif type(layer) is keras.layers.MaxPooling2D:
            if flat:
                raise bad("MaxPooling2D after Flatten is not supported")
            if tuple(layer.pool_size) != (2, 2) or tuple(layer.strides) != (2, 2):
                raise bad(f"pool_size {tuple(layer.pool_size)} strides {tuple(layer.strides)}; "
                          f"only 2x2 with stride 2 is supported")
            if layer.padding != "valid":
                raise bad(f"padding='{layer.padding}'; only padding='valid' is supported")
        elif type(layer) is keras.layers.Flatten:
            if flat:
                raise bad("a second Flatten is not supported")
            flat = True
        elif type(layer) is keras.layers.Dense:
            if not flat:
                raise bad("Dense on an image tensor; put a Flatten before the first Dense")
            act = _act(layer)
            if act == "softmax" and not last:
                raise bad("softmax is only supported on the last layer")
            if act not in ("relu", "linear", "softmax"):
                raise bad(f"activation '{act}'; only 'relu', none, or a final 'softmax' is "
                          f"supported")
        elif type(layer) is keras.layers.Dropout:
            pass
        else:
            raise bad("layer type not supported (supported: Conv2D 3x3 valid, MaxPooling2D 2x2, "
                      "Flatten, Dense, Dropout)")
    if not flat and any(type(layer) is keras.layers.Dense for layer in layers):
        raise UnsupportedModelError(f"model '{model.name}': Dense without Flatten")


def to_int8_tflite(model, representative: np.ndarray, samples: int = 500, seed: int = 0) -> bytes:
    """Convert ``model`` to a full-integer int8 TFLite flatbuffer (int8 input and output).

    ``representative`` holds float inputs (N, H, W, C) from the training data; ``samples`` of
    them, drawn with ``seed``, calibrate the activation ranges.
    """
    import tensorflow as tf

    check_keras_model(model)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(representative), size=min(samples, len(representative)), replace=False)
    calib = representative[np.sort(picks)].astype(np.float32)

    def gen():
        for x in calib:
            yield [x[None]]

    # A fixed batch of one keeps Flatten a single static RESHAPE (a dynamic batch would add
    # SHAPE/STRIDED_SLICE/PACK operators in front of it).
    import keras

    fixed_input = keras.Input(batch_shape=(1,) + tuple(model.inputs[0].shape[1:]))
    fixed = keras.models.clone_model(model, input_tensors=fixed_input)
    fixed.set_weights(model.get_weights())
    converter = tf.lite.TFLiteConverter.from_keras_model(fixed)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = gen
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return bytes(converter.convert())
