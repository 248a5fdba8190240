"""The two model presets and how each is trained (following the seeds).

``mnist_cnn`` is the classic Keras MNIST CNN; ``digits_cnn`` the TinyML article's CNN on
scikit-learn's 8x8 digits. Each preset knows its dataset and how raw pixels become the float
input the Keras model was trained on (``pixels / input_max``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import data

PRETRAINED = Path(__file__).resolve().parent / "pretrained"


def hw_config(name: str, variant: str | None = None) -> Path:
    """A preset's hardware config: ``<name>.hw.json`` (the default) or, for a board or part,
    ``<name>.<variant>.hw.json`` (e.g. "up5k"). The path may not exist."""
    return PRETRAINED / (f"{name}.{variant}.hw.json" if variant else f"{name}.hw.json")


@dataclass(frozen=True)
class Preset:
    name: str
    dataset: str            # "mnist" or "digits"
    input_max: float        # raw pixel value that maps to 1.0
    epochs: int
    batch_size: int
    from_logits: bool       # the last Dense has no softmax
    build: Callable[[], "object"]

    @property
    def tflite(self) -> Path:
        return PRETRAINED / f"{self.name}.tflite"

    @property
    def keras(self) -> Path:
        return PRETRAINED / f"{self.name}.keras"

    def load_data(self, mnist_dir=None) -> data.Dataset:
        return data.load_mnist(mnist_dir) if self.dataset == "mnist" else data.load_digits()

    def to_float(self, images: np.ndarray) -> np.ndarray:
        return to_float(images, self.input_max)


def pixel_map(input_max: float, input_offset: float = 0.0) -> str:
    """The float input a pixel becomes, as people write it: "pixel / 127.5 - 1"."""
    text = f"pixel / {input_max:g}"
    if input_offset:
        text += f" {'-' if input_offset < 0 else '+'} {abs(input_offset):g}"
    return text


def to_float(images: np.ndarray, input_max: float, input_offset: float = 0.0) -> np.ndarray:
    """Raw pixels (N, H, W) or (N, H, W, C) -> the model's float input (N, H, W, C):
    pixels / input_max + input_offset (in float32, as a Keras preprocessing computes it)."""
    x = images.astype(np.float32) / np.float32(input_max)
    if input_offset:
        x = x + np.float32(input_offset)
    return x[..., None] if x.ndim == 3 else x


def _mnist_cnn():
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((28, 28, 1), name="image"),
        layers.Conv2D(32, 3, activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(64, 3, activation="relu", name="conv2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Conv2D(64, 3, activation="relu", name="conv3"),
        layers.Flatten(name="flatten"),
        layers.Dense(64, activation="relu", name="dense1"),
        layers.Dense(10, activation="softmax", name="dense2"),
    ], name="mnist_cnn")


def _digits_cnn():
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((8, 8, 1), name="image"),
        layers.Conv2D(8, 3, activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Flatten(name="flatten"),
        layers.Dense(10, name="dense1"),
    ], name="digits_cnn")


PRESETS = {
    "mnist_cnn": Preset("mnist_cnn", "mnist", 255.0, epochs=5, batch_size=64,
                        from_logits=False, build=_mnist_cnn),
    "digits_cnn": Preset("digits_cnn", "digits", 16.0, epochs=50, batch_size=16,
                         from_logits=True, build=_digits_cnn),
}


def get(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown model preset {name!r}; presets: {', '.join(PRESETS)}") from None
