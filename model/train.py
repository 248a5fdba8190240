"""Train a preset like its seed, save the Keras model and plots, convert to int8 TFLite."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from . import atomic, convert, presets, qnet
from .golden import run_network


def plot_history(history: dict, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
        ax.plot(epochs, history[key], "o-", label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], "s--", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion(labels: np.ndarray, predicted: np.ndarray, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.zeros((10, 10), int)
    np.add.at(cm, (labels.astype(int), predicted.astype(int)), 1)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(np.log1p(cm), cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                    color="white" if i == j else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def train(name: str, out: Path, mnist_dir=None, epochs: int | None = None, seed: int = 1337,
          verbose: int | None = None) -> dict:
    """Train preset ``name`` and write ``out/`` atomically. Returns the metrics written."""
    import keras

    preset = presets.get(name)
    ds = preset.load_data(mnist_dir)
    keras.utils.set_random_seed(seed)
    model = preset.build()
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=preset.from_logits),
                  metrics=["accuracy"])
    x_train = preset.to_float(ds.train.x)
    if ds.val is not None:
        validation = {"validation_data": (preset.to_float(ds.val.x), ds.val.y)}
    else:
        validation = {"validation_split": 0.1}
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    history = model.fit(x_train, ds.train.y, epochs=epochs or preset.epochs,
                        batch_size=preset.batch_size, verbose=verbose, **validation)
    head = {"model": name, "epochs": epochs or preset.epochs, "seed": seed,
            "train_images": len(ds.train)}
    return _quantize_and_save(model, preset, ds.test, x_train, out, history, head,
                              f"{name}: training", f"{name} int8", seed=seed)


def _quantize_and_save(model, preset, test, x_calib, out: Path, history, head: dict,
                       title: str, matrix_title: str, *, seed: int, extra=None) -> dict:
    """The end of ``train`` and ``finetune``: float and int8 accuracy on ``test``, the int8
    conversion calibrated on ``x_calib``, and ``out/`` written atomically (the .keras without
    optimizer state, the .tflite, the two plots, metrics.json). ``extra(net)`` adds metrics
    computed with the new int8 network. Returns the metrics written."""
    import keras
    import tensorflow as tf

    x_test = preset.to_float(test.x)
    float_pred = np.argmax(model.predict(x_test, batch_size=512, verbose=0), axis=1)
    tflite = convert.to_int8_tflite(model, x_calib, seed=seed)
    net = qnet.from_tflite(tflite)
    int8_pred = run_network(net, net.quantize_input(x_test)).prediction
    int8_acc = float(np.mean(int8_pred == test.y))
    metrics = {**head, "test_images": len(test),
               "float_accuracy": float(np.mean(float_pred == test.y)),
               "int8_accuracy": int8_acc, **(extra(net) if extra else {}),
               "tensorflow": tf.__version__}
    # Save without the optimizer state: only the architecture and weights are needed later.
    plain = keras.models.clone_model(model)
    plain.set_weights(model.get_weights())
    with atomic.folder(out) as tmp:
        plain.save(tmp / f"{preset.name}.keras")
        (tmp / f"{preset.name}.tflite").write_bytes(tflite)
        plot_history(history.history, tmp / "training.png", title)
        plot_confusion(test.y, int8_pred, tmp / "confusion.png",
                       f"{matrix_title} on {len(test)} test images ({100 * int8_acc:.2f}%)")
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def finetune(name: str, out: Path, camera_dir, mnist_dir=None, epochs: int = 3,
             seed: int = 1337, base_images: int = 12000, camera_share: float = 0.25,
             hold_out: float = 0.2, verbose: int | None = None) -> dict:
    """Fine-tune the pretrained preset ``name`` on camera recordings (``model.capture``) mixed
    with its own training set, re-quantize, and write ``out/`` atomically like ``train``.

    A seeded ``hold_out`` share of the recordings is kept out of training to measure the
    camera accuracy before and after (int8, the golden model). Each epoch sees up to
    ``base_images`` of the preset's training images and the rest of the recordings repeated
    until they are ``camera_share`` of the mix; the learning rate is a tenth of Adam's default.
    """
    import keras

    from . import capture
    from .data import DataError

    preset = presets.get(name)
    cam = capture.load_dir(camera_dir)
    before = qnet.from_tflite(preset.tflite)
    side = before.input_shape[:2]
    if cam.x.shape[1:] != side:
        raise DataError(f"{camera_dir}: recordings are {cam.x.shape[1]}x{cam.x.shape[2]}; "
                        f"{name} takes {side[0]}x{side[1]}")
    if cam.y.max() > 9 or cam.x.max() > preset.input_max:
        raise DataError(f"{camera_dir}: labels must be 0-9 and pixels 0..{preset.input_max:g} "
                        f"({name}'s input)")
    if not 0 < camera_share < 1 or not 0 <= hold_out < 1:
        raise ValueError(f"camera_share={camera_share} and hold_out={hold_out} must be in (0, 1) and [0, 1)")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(cam.y))
    n_test = int(round(len(order) * hold_out))
    if len(order) - n_test < 1:
        raise DataError(f"{camera_dir}: {len(order)} recordings leave none to train on")
    test_idx, train_idx = order[:n_test], order[n_test:]

    ds = preset.load_data(mnist_dir)
    base = rng.permutation(len(ds.train))[:base_images]
    repeats = max(1, int(round(camera_share * len(base) / (1 - camera_share) / len(train_idx))))
    x_mix = np.concatenate([ds.train.x[base]] + [cam.x[train_idx]] * repeats)
    y_mix = np.concatenate([ds.train.y[base]] + [cam.y[train_idx]] * repeats)

    def int8_accuracy(net, x, y):
        if len(y) == 0:
            return None
        pred = run_network(net, net.quantize_input(preset.to_float(x))).prediction
        return float(np.mean(pred == y))

    keras.utils.set_random_seed(seed)
    model = keras.models.load_model(preset.keras, compile=False)
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=preset.from_logits),
                  metrics=["accuracy"])
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    x_float = preset.to_float(x_mix)
    history = model.fit(x_float, y_mix, epochs=epochs, batch_size=preset.batch_size,
                        shuffle=True, verbose=verbose, validation_split=0.1)
    head = {"model": name, "finetune": str(camera_dir), "epochs": epochs, "seed": seed,
            "camera_frames": int(len(cam.y)), "camera_train": int(len(train_idx)),
            "camera_held_out": int(n_test), "camera_repeats": repeats,
            "base_images": int(len(base))}

    def camera_metrics(net):
        return {"int8_accuracy_before": int8_accuracy(before, ds.test.x, ds.test.y),
                "camera_int8_accuracy_before": int8_accuracy(before, cam.x[test_idx],
                                                             cam.y[test_idx]),
                "camera_int8_accuracy": int8_accuracy(net, cam.x[test_idx], cam.y[test_idx])}

    return _quantize_and_save(model, preset, ds.test, x_float, out, history, head,
                              f"{name}: fine-tuning on the camera", f"{name} fine-tuned, int8",
                              seed=seed, extra=camera_metrics)
