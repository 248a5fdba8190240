"""The MLPerf Tiny reference models' shapes, built from their public descriptions.

MLPerf Tiny (v1.x) names four tasks and one int8 reference model each. The data sets (Visual
Wake Words, CIFAR-10, Speech Commands, ToyADMOS) are not here, so the models are built with
random weights and calibrated on random inputs of each task's input range, then converted the
standard way (``TFLiteConverter``, full-integer int8). Their layers, shapes, MACs and weights are
the reference models'; their accuracy is not (it needs the data). Bit-exactness and cycles do
not depend on the weights' values.

    vww  Visual Wake Words: keras.applications.MobileNet(alpha=0.25) on 96x96x3, 2 classes
    ic   Image Classification: ResNet-8 on 32x32x3 CIFAR-10, 10 classes
    kws  Keyword Spotting: DS-CNN on a 49x10x1 MFCC map, 12 classes
    ad   Anomaly Detection: the dense autoencoder on a 640-value input (640 out)

``ANCHORS`` holds the fastest published FPGA latency of each task (MLPerf Tiny results and the
papers ``../shared/REFERENCE.md`` lists), for the tables that compare with them.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Anchor:
    """A published FPGA result: latency per inference in ms, who, on what."""
    latency_ms: float
    system: str
    device: str


@dataclass(frozen=True)
class Task:
    name: str
    title: str
    model: str          # the reference model, in words
    macs: int           # multiply-accumulates per inference (the architecture's count)
    anchor: Anchor      # the fastest published FPGA latency
    targets: tuple      # this project's targets: (latency ms, interval ms or None)


TASKS = {
    "vww": Task("vww", "Visual Wake Words", "MobileNetV1 alpha 0.25, 96x96x3 (keras.applications)",
                7_489_664, Anchor(4.09, "AnDLA I370, 64 MACs", "Kintex-7, 60 MHz"), (2.0, 1.0)),
    "ic": Task("ic", "Image Classification", "ResNet-8, 32x32x3", 12_501_632,
               Anchor(0.411, "fpgaConvNet", "ZedBoard (Zynq 7020), 211 DSP, 143 MHz"),
               (2.0, 1.0)),
    "kws": Task("kws", "Keyword Spotting", "DS-CNN, 49x10x1 MFCC", 2_656_768,
                Anchor(1.4, "AnDLA I370, 64 MACs", "Kintex-7, 60 MHz"), (0.5, None)),
    "ad": Task("ad", "Anomaly Detection", "dense autoencoder, 640 in, 640 out", 264_192,
               Anchor(0.0187, "hls4ml (QKeras 12-bit)", "Pynq-Z2, 100 MHz"), (0.05, None)),
}


def _layers():
    from model.convert import quiet

    with quiet():
        import keras
        from keras import layers
    return keras, layers


def ds_cnn():
    """DS-CNN (keyword spotting): Conv2D 64 10x4 stride 2 'same' + BN + ReLU, four
    [DepthwiseConv2D 3x3 'same' + BN + ReLU, Conv2D 64 1x1 + BN + ReLU], AveragePooling2D over
    the 25x5 map, Dense 12, softmax, on a 49x10x1 MFCC map."""
    keras, layers = _layers()
    x = inp = keras.Input((49, 10, 1))
    x = layers.Conv2D(64, (10, 4), strides=2, padding="same", use_bias=False)(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for _ in range(4):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.Conv2D(64, 1, use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.Flatten()(layers.AveragePooling2D((25, 5))(x))
    return keras.Model(inp, layers.Dense(12, activation="softmax")(x), name="ds_cnn")


def mobilenet_v1_025():
    """MobileNetV1 alpha 0.25 (visual wake words) written out from its description: a 3x3
    stride-2 conv to 8 channels, 13 depthwise-separable blocks (3x3 depthwise, 1x1 pointwise;
    channels 16, 32, 32, 64, 64, 128, 128 x5, 256, 256; stride 2 at the 2nd, 4th, 6th and
    12th, each after a ZeroPadding2D as keras.applications writes it), average pooling, dense
    2, softmax."""
    keras, layers = _layers()

    def bn_relu6(x):
        return layers.ReLU(6.0)(layers.BatchNormalization()(x))

    x = inp = keras.Input((96, 96, 3))
    x = bn_relu6(layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x))
    widths = [16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256]
    for i, width in enumerate(widths, start=1):
        if i in (2, 4, 6, 12):
            x = layers.ZeroPadding2D(((0, 1), (0, 1)))(x)
            x = layers.DepthwiseConv2D(3, strides=2, use_bias=False)(x)
        else:
            x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = bn_relu6(layers.Conv2D(width, 1, use_bias=False)(bn_relu6(x)))
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, layers.Dense(2, activation="softmax")(x), name="vww_mobilenet")


def keras_mobilenet():
    """The VWW reference as keras.applications writes it (the 1x1-convolution top)."""
    keras, _ = _layers()
    return keras.applications.MobileNet(input_shape=(96, 96, 3), alpha=0.25, weights=None,
                                        classes=2)


def resnet8():
    """ResNet-8 (image classification): Conv2D 16 3x3 + BN + ReLU; three stacks of two 3x3
    convolutions with 16, 32 and 64 filters (the 2nd and 3rd start with stride 2 and have a 1x1
    stride-2 projection shortcut, the 1st an identity shortcut), each ending in ADD + ReLU;
    AveragePooling2D 8x8; Dense 10; softmax; on 32x32x3."""
    keras, layers = _layers()

    def stack(x, filters, stride):
        y = layers.Conv2D(filters, 3, strides=stride, padding="same")(x)
        y = layers.ReLU()(layers.BatchNormalization()(y))
        y = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same")(y))
        shortcut = x if stride == 1 else layers.Conv2D(filters, 1, strides=stride)(x)
        return layers.ReLU()(layers.Add()([shortcut, y]))

    inp = keras.Input((32, 32, 3))
    x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(16, 3, padding="same")(inp)))
    x = stack(stack(stack(x, 16, 1), 32, 2), 64, 2)
    x = layers.Flatten()(layers.AveragePooling2D(8)(x))
    return keras.Model(inp, layers.Dense(10, activation="softmax")(x), name="resnet8")


def autoencoder():
    """The anomaly-detection autoencoder: Dense 128 + BN + ReLU four times, Dense 8 + BN +
    ReLU, Dense 128 + BN + ReLU four times, Dense 640, on a 640-value input."""
    keras, layers = _layers()
    x = inp = keras.Input((640,))
    for width in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = layers.ReLU()(layers.BatchNormalization()(layers.Dense(width)(x)))
    return keras.Model(inp, layers.Dense(640)(x), name="autoencoder")


# each task's builder and the float inputs it is calibrated on (its input range: MobileNet's
# pixels in -1..1, CIFAR pixels in 0..1, MFCC and log-mel features roughly normal)
BUILDERS = {"vww": (keras_mobilenet, lambda rng, s: rng.uniform(-1, 1, s)),
            "ic": (resnet8, lambda rng, s: rng.random(s)),
            "kws": (ds_cnn, lambda rng, s: rng.random(s)),
            "ad": (autoencoder, lambda rng, s: rng.normal(0, 1, s))}


def to_tflite(model, calib: np.ndarray) -> bytes:
    """``model`` to a full-integer int8 flatbuffer, calibrated on every one of ``calib``."""
    from model import convert

    return convert.to_int8_tflite(model, calib, samples=len(calib), label=model.name)


def tflite(task: str, folder: Path, seed: int = 0, calib: int = 32) -> Path:
    """``folder``/<task>.tflite: the task's reference-shaped model, weights drawn with ``seed``,
    calibrated on ``calib`` random inputs of its range; built once (kept while it exists)."""
    from model import atomic

    if task not in TASKS:
        raise ValueError(f"MLPerf Tiny task {task!r}: one of {', '.join(TASKS)}")
    path = Path(folder) / f"{task}.tflite"
    if path.is_file():
        return path
    keras, _ = _layers()
    keras.utils.set_random_seed(seed)
    make, draw = BUILDERS[task]
    model = make()
    rng = np.random.default_rng(seed)
    shape = (calib,) + tuple(model.inputs[0].shape[1:])
    atomic.write_bytes(path, to_tflite(model, draw(rng, shape).astype(np.float32)))
    return path
