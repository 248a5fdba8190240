"""Resolve a model argument (preset name, ``.tflite`` or ``.keras`` path) to what the tools need.

Every command that takes ``--model`` resolves it here, so a file is treated the same way
everywhere:

* a preset (``mnist_cnn``, ``digits_cnn``) knows its ``.tflite``, its ``.keras``, its dataset
  and its pixel scale;
* a ``.tflite`` file is judged as it is (``qnet.from_tflite``);
* a ``.keras`` file is first converted to full-integer int8 TFLite, with the dataset's
  training images for calibration, into ``build/<stem>/<stem>.tflite``, and that file is
  judged: one judge for both paths, so both accept and refuse the same models (what the
  converter folds, BatchNormalization into the convolution and Rescaling into the input
  quantization, is accepted on both).

Input scaling (``pixel_max``, ``pixel_offset``): the model's float input is
``pixel / pixel_max + pixel_offset`` (255 and 0 for a model trained on pixel/255, 16 for the 8x8
digits, 1 for a model that takes raw pixels, e.g. one with ``Rescaling(1/255)`` in front,
127.5 and -1 for the [-1, 1] input of keras.applications' MobileNet ``preprocess_input``).
``--pixel-max`` and ``--pixel-offset`` set them; otherwise a preset knows its own, a ``.keras``
file starting with a Rescaling layer takes raw pixels, and a ``.tflite`` file is read: its int8
input holds floats from ``lo`` to ``hi``, so pixels up to the dataset's largest value ``dmax``
(255 for 8-bit images) were scaled into 0..1 (lo about 0, hi about 1), into -1..1 (lo about
-1, hi about 1), or not at all (hi about dmax). Any other range is refused with the flags that
say it; the mapping read from a file is printed (``describe_input``).

Datasets (``dataset``): ``mnist``, ``digits``, ``random[:SEED]``, a folder of IDX files in
MNIST's layout, of any image size, or a folder of numpy arrays (``x_test.npy``, optionally
``y_test.npy``, ``x_train.npy``, ``y_train.npy``: ``data.load_npy_dir``); by default the
built-in dataset whose images have the model's input shape.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import presets, qnet
from .convert import UnsupportedModelError

# Input shapes the built-in datasets produce, and their largest pixel value.
DATASETS = {"mnist": ((28, 28, 1), 255.0), "digits": ((8, 8, 1), 16.0)}
IDX_PIXEL_MAX = 255.0


@dataclass(frozen=True)
class ModelSource:
    name: str
    tflite: Path
    keras: Path | None
    dataset: str | None        # "mnist", "digits", an IDX folder, or None when none is known
    input_max: float | None    # the float input is pixel / input_max + input_offset
    label: str = ""            # the model as the user named it (a path or a preset), for messages
    input_shape: tuple = ()    # (H, W, C) of one image
    input_offset: float = 0.0
    input_from: str = ""       # where the input mapping came from, when it was read from a file

    def load_net(self, hardware: bool = True) -> qnet.Network:
        """The network; with ``hardware``, refused unless the hardware blocks implement every
        layer (``qnet.check_hardware``)."""
        net = qnet.from_tflite(self.tflite, name=self.name, label=self.label or None)
        return qnet.check_hardware(net, self.label or None) if hardware else net

    def load_data(self, mnist_dir=None):
        from . import data

        if self.dataset is None:
            shape = "x".join(str(d) for d in self.input_shape)
            raise data.DataError(
                f"{self.label or self.name}: its input {shape} matches no built-in dataset "
                f"(mnist 28x28x1, digits 8x8x1); pass --dataset DIR, a folder with the IDX "
                f"files {', '.join(data.MNIST_FILES.values())} of {shape} images or with "
                f"x_test.npy (and y_test.npy) of {shape} inputs, or --dataset random to judge "
                f"it on random inputs")
        if self.dataset.startswith("random"):
            return data.random_dataset(self.dataset, self.input_shape)
        if self.dataset == "mnist":
            ds = data.load_mnist(mnist_dir)
        elif self.dataset == "digits":
            ds = data.load_digits()
        elif data.is_npy_dir(self.dataset):
            return self._npy_data(data.load_npy_dir(self.dataset))
        else:
            ds = data.load_idx_dir(self.dataset)
        shape = tuple(self.input_shape)
        got = ds.test.x.shape[1:] + ((1,) if ds.test.x.ndim == 3 else ())
        if got != shape:
            raise data.DataError(f"{self.label or self.name}: the model takes {shape} images, "
                                 f"dataset {self.dataset} has {got}")
        return ds

    def _npy_data(self, ds):
        """A .npy dataset's inputs as the codes the hardware and the C library take: uint8 as
        stored; floats (a vector model's float inputs) quantized as TFLite quantizes its input,
        code = int8 + 128 (the vector mapping: ``pixel / P + B`` spreads the 256 codes over the
        int8 input's 256 values)."""
        from dataclasses import replace

        from . import data

        shape, where = tuple(self.input_shape), f"--dataset {self.dataset}"
        net = None
        splits = {}
        for part in ("test", "train"):
            split = getattr(ds, part)
            if part == "train" and split is ds.test:  # no x_train.npy: the test split's
                splits[part] = splits["test"]
                continue
            x = split.x
            got = x.shape[1:] + ((1,) if x.ndim == 3 and len(shape) == 3 else ())
            if got != shape:
                raise data.DataError(f"{where}: x_{part}.npy holds inputs of shape {got}; the "
                                     f"model {self.label or self.name} takes {shape}")
            if x.dtype != np.uint8:
                if len(shape) != 1 or self.input_from == "":
                    raise data.DataError(
                        f"{where}: x_{part}.npy is {x.dtype}; float inputs are taken for a "
                        f"vector model whose input mapping is read from the file; images must "
                        f"be uint8 pixels")
                net = net or qnet.from_tflite(self.tflite, name=self.name)
                q = np.clip(np.round(x / net.input_scale) + net.input_zp, -128, 127)
                x = (q + 128).astype(np.uint8)
            splits[part] = replace(split, x=x.reshape((len(x),) + shape))
        return replace(ds, **splits)

    def to_float(self, images):
        if self.input_max is None:
            raise ValueError(f"{self.label or self.name}: the pixel scale is unknown; pass "
                             f"--pixel-max P (the model's float input is pixel / P)")
        return presets.to_float(images, self.input_max, self.input_offset)

    def describe_input(self) -> str:
        """The input mapping in words: "pixel / 127.5 - 1"."""
        return presets.pixel_map(self.input_max, self.input_offset)

    def float_accuracy(self, split) -> float | None:
        """Test accuracy of the float Keras model on ``split`` (None without a .keras)."""
        if self.keras is None:
            return None
        import keras

        model = keras.models.load_model(self.keras, compile=False)
        pred = np.argmax(model.predict(self.to_float(split.x), batch_size=500, verbose=0), axis=1)
        return float(np.mean(pred == split.y))

    def float_tflite(self, build: Path = Path("build")) -> Path | None:
        """The Keras model converted to TFLite without quantization (float32, as the seed
        article reports it beside the int8 model), cached in build/<name>/; None without a
        .keras."""
        if self.keras is None:
            return None
        from . import atomic, convert

        path = build / self.name / f"{self.name}.float.tflite"
        if not path.is_file() or path.stat().st_mtime < self.keras.stat().st_mtime:
            atomic.write_bytes(path, convert.to_float_tflite(load_keras(self.keras)))
        return path


def dataset_name(dataset: str | None) -> str | None:
    """``mnist``, ``digits``, or an IDX folder (checked to exist)."""
    if dataset is None or dataset in DATASETS:
        return dataset
    from .data import DataError

    if dataset == "random" or dataset.startswith("random:"):
        return dataset

    if not Path(dataset).is_dir():
        raise DataError(f"--dataset {dataset}: not mnist or digits, and no such folder (a "
                        f"folder of IDX files in MNIST's layout, or of x_test.npy and "
                        f"optionally y_test.npy, x_train.npy, y_train.npy, is expected)")
    return str(dataset)


def _default_dataset(shape: tuple, dataset: str | None) -> str | None:
    if dataset is not None:
        if dataset in DATASETS and DATASETS[dataset][0] != tuple(shape):
            raise ValueError(f"--dataset {dataset}: its images are {DATASETS[dataset][0]}, "
                             f"the model's input is {tuple(shape)}")
        return dataset
    for name, (ds_shape, _) in DATASETS.items():
        if ds_shape == tuple(shape):
            return name
    return None


def _data_max(dataset: str | None) -> float:
    return DATASETS[dataset][1] if dataset in DATASETS else IDX_PIXEL_MAX


def pixel_max_from_input(net: qnet.Network, dmax: float, label: str) -> tuple[float, float]:
    """(pixel_max, pixel_offset) a .tflite's int8 input implies (see the module docstring)."""
    hi = net.input_scale * (127 - net.input_zp)
    lo = net.input_scale * (-128 - net.input_zp)
    # (pixel_max, offset): 0..1, -1..1, raw pixels
    for pixel_max, offset in ((dmax, 0.0), (dmax / 2, -1.0), (1.0, 0.0)):
        top, bottom = dmax / pixel_max + offset, offset
        span = top - bottom
        if abs(hi - top) <= 0.05 * span and abs(lo - bottom) <= 0.05 * span:
            return pixel_max, offset
    raise ValueError(
        f"{label}: its int8 input holds floats {lo:.4g} .. {hi:.4g}, which is none of "
        f"pixel/{dmax:g} (0 .. 1), pixel/{dmax / 2:g} - 1 (-1 .. 1) or raw pixels "
        f"(0 .. {dmax:g}); pass --pixel-max P and --pixel-offset B (the model's float input "
        f"is pixel / P + B)")


def _check_pixel_max(pixel_max: float | None, pixel_offset: float | None = None) -> None:
    if pixel_max is not None and not (pixel_max > 0 and np.isfinite(pixel_max)):
        raise ValueError(f"--pixel-max {pixel_max}: must be a positive number (the model's "
                         f"float input is pixel / P + B)")
    if pixel_offset is not None and not np.isfinite(pixel_offset):
        raise ValueError(f"--pixel-offset {pixel_offset}: must be a number (the model's float "
                         f"input is pixel / P + B)")


def load_keras(path: Path):
    """A .keras file as a Keras model, or UnsupportedModelError saying why it cannot be read."""
    import zipfile

    from . import convert

    if not zipfile.is_zipfile(path):
        raise UnsupportedModelError(
            f"{path}: not a Keras model file (a .keras file is a zip archive; this one is not, "
            f"or it is truncated); save the model again with model.save('name.keras')")
    with convert.quiet():
        import keras

        try:
            return keras.models.load_model(path, compile=False)
        except Exception as exc:  # a zip that is not a Keras model, custom layers, ...
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UnsupportedModelError(
                f"{path}: Keras cannot load it ({type(exc).__name__}: {reason[:300]}); save "
                f"the model again with model.save('name.keras'), without custom layers") \
                from None


def _keras_pixel_max(model) -> float | None:
    """1.0 when the model starts with a Rescaling layer (it takes raw pixels), else None."""
    import keras

    first = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if first and isinstance(first[0], keras.layers.Rescaling):
        return 1.0
    return None


def did_you_mean(spec: str) -> str:
    """"; did you mean X?" for a model name close to a preset or to a model file beside it."""
    import difflib

    path = Path(spec)
    folder = path.parent if str(path.parent) not in ("", ".") else Path(".")
    files = [str(folder / p.name) if folder != Path(".") else p.name
             for p in (folder.glob("*") if folder.is_dir() else [])
             if p.suffix in (".tflite", ".keras")]
    close = difflib.get_close_matches(spec, list(presets.PRESETS) + files, n=1, cutoff=0.75)
    return f"; did you mean {close[0]}?" if close else ""


def resolve(spec: str, dataset: str | None = None, mnist_dir=None,
            build: Path = Path("build"), pixel_max: float | None = None,
            hardware: bool = True, pixel_offset: float | None = None) -> ModelSource:
    """``spec`` is a preset name, a ``.tflite`` file, or a ``.keras`` file (converted to int8
    TFLite into ``build/<stem>/<stem>.tflite`` with the dataset's training images). With
    ``hardware`` (the commands that build hardware), a layer the hardware does not implement
    is refused here, before any data is asked for."""
    judge = qnet.check_hardware if hardware else (lambda net, label=None: net)
    _check_pixel_max(pixel_max, pixel_offset)
    dataset = dataset_name(dataset)
    if spec in presets.PRESETS:
        p = presets.get(spec)
        if not p.tflite.is_file():
            raise FileNotFoundError(f"pretrained model {p.tflite} is missing; run "
                                    f"`make train MODEL={spec}` and promote it")
        if dataset is not None and dataset in DATASETS and dataset != p.dataset:
            raise ValueError(f"--dataset {dataset}: {spec} is trained on {p.dataset}")
        return ModelSource(spec, p.tflite, p.keras if p.keras.is_file() else None,
                           dataset or p.dataset, pixel_max or p.input_max, spec,
                           qnet.from_tflite(p.tflite).input_shape, pixel_offset or 0.0)
    path = Path(spec)
    if path.suffix not in (".tflite", ".keras"):
        raise ValueError(f"model {spec!r}: give a preset ({', '.join(presets.PRESETS)}), "
                         f"a .tflite or a .keras file{did_you_mean(spec)}")
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist{did_you_mean(spec)}")
    if path.suffix == ".tflite":
        net = judge(qnet.from_tflite(path, label=str(path)), str(path))
        ds = _default_dataset(net.input_shape, dataset)
        offset, told = pixel_offset, ""
        if pixel_max is None and len(net.input_shape) == 1:
            # a vector: its 8-bit codes 0..255 spread over the int8 input's float range
            lo = net.input_scale * (-128 - net.input_zp)
            hi = net.input_scale * (127 - net.input_zp)
            pmax, read = 255.0 / (hi - lo), lo
            offset = read if offset is None else offset
            told = "a vector input: 8-bit codes over its int8 input's range"
        elif pixel_max is None:
            pmax, read = pixel_max_from_input(net, _data_max(ds), str(path))
            offset = read if offset is None else offset
            told = "read from its int8 input quantization"
        else:
            pmax = pixel_max
        keras_path = path.with_suffix(".keras")
        return ModelSource(path.stem, path, keras_path if keras_path.is_file() else None,
                           ds, pmax, str(path), net.input_shape, offset or 0.0, told)
    return _resolve_keras(path, dataset, mnist_dir, build, pixel_max, judge, pixel_offset)


def _resolve_keras(path: Path, dataset, mnist_dir, build: Path, pixel_max, judge,
                   pixel_offset=None) -> ModelSource:
    from . import atomic, convert
    from .data import DataError

    model = load_keras(path)
    if len(model.inputs) != 1:
        raise UnsupportedModelError(f"{path}: {len(model.inputs)} inputs; one image input "
                                    f"(H, W, C) is supported")
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3 or None in shape:
        raise UnsupportedModelError(f"{path}: input shape {shape}; an image input (H, W, C) of "
                                    f"fixed size is required")
    ds = _default_dataset(shape, dataset)
    pmax = pixel_max or _keras_pixel_max(model) or _data_max(ds)
    src = ModelSource(path.stem, build / path.stem / f"{path.stem}.tflite", path, ds, pmax,
                      str(path), shape, pixel_offset or 0.0)
    if src.tflite.is_file() and src.tflite.stat().st_mtime >= path.stat().st_mtime:
        judge(src.load_net(hardware=False), str(path))
        return src
    if ds is None:
        # no calibration images: judge the model's structure first (random calibration), so an
        # unsupported model is refused as such before data is asked for
        rng = np.random.default_rng(0)
        probe = convert.to_int8_tflite(model, rng.random((8,) + shape, np.float32), label=path)
        judge(qnet.from_tflite(probe, name=path.stem, label=str(path)), str(path))
        src.load_data(mnist_dir)  # raises the DataError that says which data is needed
        raise DataError(f"{path}: no dataset")  # not reached
    train = src.load_data(mnist_dir).train
    tfl = convert.to_int8_tflite(model, src.to_float(train.x), label=path)
    # judged before anything is written
    judge(qnet.from_tflite(tfl, name=path.stem, label=str(path)), str(path))
    atomic.write_bytes(src.tflite, tfl)
    return src
