"""Bring your own model: train a small CNN on MNIST, convert it to full-integer int8 the way the
TFLite tutorials do, and write mine.tflite for cnn2fpga.

Run it from the checkout (it needs nothing of cnn2fpga, only TensorFlow and numpy):

    MNIST_DIR=../shared/data/mnist .venv/bin/python examples/byom.py
    make check   MODEL=mine.tflite
    make verilog MODEL=mine.tflite
    make cosim   MODEL=mine.tflite N=100

MNIST is read from the folder $MNIST_DIR names (the four IDX files, gzipped or not); without it,
the Keras download. ``--images`` and ``--epochs`` make it quick (the tests run it so).
"""
import argparse
import gzip
import os
from pathlib import Path

import numpy as np


def load_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format), gzipped or not."""
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_mnist():
    """(x_train, y_train) from $MNIST_DIR, else keras.datasets.mnist."""
    folder = os.environ.get("MNIST_DIR")
    if not folder:
        import keras

        (x, y), _ = keras.datasets.mnist.load_data()
        return x, y

    def find(stem):
        for name in (stem, stem + ".gz"):
            if (Path(folder) / name).is_file():
                return Path(folder) / name
        raise SystemExit(f"{folder}: no {stem} (MNIST's IDX files are needed)")

    return load_idx(find("train-images-idx3-ubyte")), load_idx(find("train-labels-idx1-ubyte"))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("mine.tflite"))
    ap.add_argument("--images", type=int, default=60000, help="training images (all 60,000)")
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()

    import keras
    import tensorflow as tf
    from keras import layers

    x_train, y_train = load_mnist()
    x_train = (x_train[: args.images, ..., None] / 255.0).astype(np.float32)
    y_train = y_train[: args.images]

    model = keras.Sequential([
        keras.Input((28, 28, 1)),                      # dynamic batch: (None, 28, 28, 1)
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=64, verbose=2)

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in x_train[:500])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    args.out.write_bytes(converter.convert())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
