"""Legal int8 models at the edges of TFLite's quantization, made as a user would make them (Keras,
then TFLiteConverter straight), for the end-to-end edge tests.

``edge_model(seed, path)`` builds a small CNN (conv 6 -> pool -> conv 8 -> flatten -> dense 16
-> dense 5) with random weights, pushes them to an edge chosen by the seed, converts it, and
returns (path, family). The families:

``dead``      a conv channel's weights zeroed and the next one's scaled by 1e-7 beside a real
              bias: the converter raises the weight scale until the int32 bias fits, and writes
              bias 2^30 (issue 41's first model)
``negative``  the first conv's weights all negative: its ReLU outputs are almost all zero, the
              next layer's scales collapse (issue 41's second model)
``scales``    every layer's output channels scaled by random powers of ten (10^-7 .. 10), some
              zeroed, biases up to 10^3 (issue 41's third family)
``narrow``    ReLU6 everywhere, large biases after the first layer, calibrated on a narrow set
              (dim images, one bright pixel each, so the input range stays 0..1 while the
              first layer's range shrinks far below 6 and real images saturate it)
"""
from __future__ import annotations

import numpy as np

FAMILIES = ("dead", "negative", "scales", "narrow")
SHAPE = (12, 12, 1)


def _model(act: str, seed: int):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input(SHAPE), layers.Conv2D(6, 3, activation=act),
                             layers.MaxPooling2D(2), layers.Conv2D(8, 3, activation=act),
                             layers.Flatten(), layers.Dense(16, activation=act),
                             layers.Dense(5)], name=f"edge{seed}")


def edge_model(seed: int, path) -> tuple:
    from tests.usermodels import user_tflite

    family = FAMILIES[seed % len(FAMILIES)]
    rng = np.random.default_rng(seed)
    model = _model("relu6" if family == "narrow" else "relu", seed)
    w = [a.copy() for a in model.get_weights()]  # kernel, bias per layer: 0..7
    calib = rng.random((24,) + SHAPE).astype(np.float32)
    if family == "dead":
        w[0][..., 0] = 0
        w[0][..., 1] *= 1e-7
        w[1][:] = rng.uniform(-0.5, 0.5, w[1].shape)
        w[1][1] = 0.5
    elif family == "negative":
        w[0] = -np.abs(w[0])
        w[1][:] = rng.uniform(-0.01, 0.0, w[1].shape)
    elif family == "scales":
        for k in range(0, len(w), 2):
            outs = w[k].shape[-1]
            w[k] = w[k] * 10.0 ** rng.uniform(-7, 1, outs)
            w[k][..., rng.random(outs) < 0.2] = 0
            w[k + 1][:] = rng.normal(0, 1, outs) * 10.0 ** rng.uniform(-3, 3, outs)
    else:  # narrow
        for k in range(3, len(w), 2):
            w[k][:] = rng.uniform(-30, 30, w[k].shape)
        calib = calib * 0.05
        calib[:, 0, 0, 0] = 1.0
    model.set_weights(w)
    user_tflite(model, path, calib=calib)
    return path, family
