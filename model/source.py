"""Resolve a model argument (preset name, ``.tflite`` or ``.keras`` path) to what the tools need."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import presets, qnet

# Input shapes the known datasets produce, and the pixel value that maps to 1.0.
DATASETS = {"mnist": ((28, 28, 1), 255.0), "digits": ((8, 8, 1), 16.0)}


@dataclass(frozen=True)
class ModelSource:
    name: str
    tflite: Path
    keras: Path | None
    dataset: str | None        # "mnist", "digits" or None when the input matches neither
    input_max: float | None    # raw pixel value that maps to the float input 1.0

    def load_net(self) -> qnet.Network:
        return qnet.from_tflite(self.tflite, name=self.name)

    def load_data(self, mnist_dir=None):
        from . import data

        if self.dataset is None:
            raise ValueError(f"{self.name}: input shape matches no known dataset; "
                             f"pass --dataset mnist|digits")
        return data.load_mnist(mnist_dir) if self.dataset == "mnist" else data.load_digits()

    def to_float(self, images):
        return presets.to_float(images, self.input_max)

    def float_accuracy(self, split) -> float | None:
        """Test accuracy of the float Keras model on ``split`` (None without a .keras)."""
        if self.keras is None:
            return None
        import keras
        import numpy as np

        model = keras.models.load_model(self.keras, compile=False)
        pred = np.argmax(model.predict(self.to_float(split.x), batch_size=500, verbose=0), axis=1)
        return float(np.mean(pred == split.y))


def _dataset_for(shape: tuple, dataset: str | None) -> tuple[str | None, float | None]:
    if dataset is not None:
        if dataset not in DATASETS:
            raise ValueError(f"--dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
        if DATASETS[dataset][0] != tuple(shape):
            raise ValueError(f"--dataset {dataset}: its images are {DATASETS[dataset][0]}, "
                             f"the model's input is {tuple(shape)}")
        return dataset, DATASETS[dataset][1]
    for name, (ds_shape, input_max) in DATASETS.items():
        if ds_shape == tuple(shape):
            return name, input_max
    return None, None


def resolve(spec: str, dataset: str | None = None, mnist_dir=None,
            build: Path = Path("build")) -> ModelSource:
    """``spec`` is a preset name, a ``.tflite`` file, or a ``.keras`` file (converted to int8
    TFLite into ``build/<stem>/<stem>.tflite`` with the dataset's training images)."""
    if spec in presets.PRESETS:
        p = presets.get(spec)
        if not p.tflite.is_file():
            raise FileNotFoundError(f"pretrained model {p.tflite} is missing; run "
                                    f"`make train MODEL={spec}` and promote it")
        return ModelSource(spec, p.tflite, p.keras if p.keras.is_file() else None,
                           p.dataset, p.input_max)
    path = Path(spec)
    if path.suffix not in (".tflite", ".keras"):
        raise ValueError(f"model {spec!r}: give a preset ({', '.join(presets.PRESETS)}), "
                         f"a .tflite or a .keras file")
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    if path.suffix == ".tflite":
        net = qnet.from_tflite(path)
        ds, input_max = _dataset_for(net.input_shape, dataset)
        keras_path = path.with_suffix(".keras")
        return ModelSource(path.stem, path, keras_path if keras_path.is_file() else None,
                           ds, input_max)
    # .keras: check the layers first (cheap and gives the clearest error), then convert.
    import keras

    from . import atomic, convert

    model = keras.models.load_model(path, compile=False)
    convert.check_keras_model(model)
    ds, input_max = _dataset_for(tuple(model.inputs[0].shape[1:]), dataset)
    src = ModelSource(path.stem, build / path.stem / f"{path.stem}.tflite", path, ds, input_max)
    if not src.tflite.is_file() or src.tflite.stat().st_mtime < path.stat().st_mtime:
        train = src.load_data(mnist_dir).train
        atomic.write_bytes(src.tflite, convert.to_int8_tflite(model, src.to_float(train.x)))
    return src
