"""Test scenes for the camera path: a digit on paper as the OV7670 would see it.

``paper_frame`` renders a grayscale digit image (MNIST's white-on-black 0..255, or the 8x8
digits' 0..16) as dark ink on light paper into a W x H RGB565 frame:

* the digit is scaled (nearest neighbour) to fill the preprocess crop (``Geometry.side``
  pixels) and moved by an offset of a few pixels;
* reflectance is 1 for paper and ``1 - ink_depth`` for full ink, in between for grey
  strokes;
* the light falls off linearly across the frame in a random direction (``gradient``: the
  fraction of brightness lost from the bright edge to the dark one);
* sensor noise is Gaussian (``noise``, in 8-bit grey levels), and paper is slightly warm
  (R > G > B), then every channel is truncated to RGB565.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.preprocess import Geometry, rgb565


@dataclass(frozen=True)
class Lighting:
    level: float = 210.0       # paper brightness at the bright edge, 8-bit grey
    gradient: float = 0.35     # fraction lost across the frame
    noise: float = 4.0         # sensor noise, grey levels (standard deviation)
    ink_depth: float = 0.8     # full ink reflects 1 - ink_depth of the light
    max_offset: int = 4        # pixels, each axis


def paper_frame(digit: np.ndarray, geo: Geometry, rng: np.random.Generator,
                light: Lighting = Lighting(), digit_max: float = 255.0) -> np.ndarray:
    h, w = geo.height, geo.width
    d = np.asarray(digit, np.float64) / digit_max
    reps = geo.side // d.shape[0]
    big = np.kron(d, np.ones((reps, reps)))
    ink = np.zeros((h, w))
    dx, dy = rng.integers(-light.max_offset, light.max_offset + 1, size=2)
    x0 = int(np.clip(geo.x0 + dx, 0, w - big.shape[1]))
    y0 = int(np.clip(geo.y0 + dy, 0, h - big.shape[0]))
    ink[y0:y0 + big.shape[0], x0:x0 + big.shape[1]] = big
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w]
    t = (xx - w / 2) * np.cos(angle) + (yy - h / 2) * np.sin(angle)
    t = (t - t.min()) / (t.max() - t.min())            # 0 at the bright edge, 1 at the dark
    light_map = light.level * (1 - light.gradient * t)
    v = light_map * (1 - light.ink_depth * ink)
    channels = []
    for tint in (1.0, 0.95, 0.85):
        c = v * tint + rng.normal(0, light.noise, size=v.shape)
        channels.append(np.clip(np.round(c), 0, 255))
    return rgb565(*channels)
