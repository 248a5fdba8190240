"""Camera frame -> CNN input: the integer arithmetic ``hdl/camera/preprocess.py`` computes, in numpy.

A frame is an (H, W) array of RGB565 words (the OV7670's output). Each step is integer and
exact, so the RTL's CNN input stream must equal ``preprocess(frame, geometry)`` bit for bit:

1. Grayscale (``gray``): each channel widened to 8 bits by repeating its top bits
   (R8 = R5 << 3 | R5 >> 2, G8 = G6 << 2 | G6 >> 4, B8 likewise), then
   Y = (77 R8 + 150 G8 + 29 B8) >> 8, ITU-R BT.601 luma (0.299, 0.587, 0.114) in 1/256ths.
   The weights sum to 256, so white stays 255.
2. Centre crop and box downscale (``downscale``): the largest square of ``n * f`` pixels
   (f = the whole factor min(H, W) // n) in the middle of the frame; each n x n cell is the
   sum of its f x f pixels shifted right by ``shift`` = ceil(log2(f * f)) (the mean when
   f * f is a power of two, slightly below it otherwise, never above 255).
3. Inversion and contrast normalisation (``normalise``): paper is bright, ink dark. The
   paper's brightness at each cell is estimated as the brightest cell within ``radius``
   cells (a max filter: under uneven lighting the nearby paper is what counts); ink =
   background - cell >= 0. Ink is then stretched so the darkest stroke maps to ``out_max``:
   out = (ink * recip) >> 8, recip = (out_max << 8) // max(ink) (0 for an empty frame).
   mnist_cnn takes 0..255 (white digit on black, as MNIST), digits_cnn 0..16.
4. An optional threshold: out = out_max where out >= threshold, else 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRAY_WEIGHTS = (77, 150, 29)   # R, G, B in 1/256ths: BT.601 luma 0.299, 0.587, 0.114
RECIP_SHIFT = 8
# the OV7670 output sizes a board top can be built for (``make verilog BOARD=... CAMERA=...``)
CAMERAS = {"qqvga": (160, 120), "qvga": (320, 240), "vga": (640, 480)}
DEFAULT_CAMERA = "qqvga"


def camera_size(camera: str) -> tuple[int, int]:
    """(width, height) of an OV7670 output size by name (qqvga, qvga, vga)."""
    try:
        return CAMERAS[camera.lower()]
    except KeyError:
        raise ValueError(f"camera {camera!r}: choose one of {', '.join(CAMERAS)}") from None


@dataclass(frozen=True)
class Geometry:
    """Where the CNN's n x n input comes from in a W x H frame, and how it is normalised."""
    width: int
    height: int
    n: int                 # the CNN input side (28 or 8)
    out_max: int           # the CNN's raw pixel maximum (255 for mnist_cnn, 16 for digits_cnn)
    radius: int            # background max filter radius in cells
    threshold: int | None = None

    def __post_init__(self):
        if self.n < 1 or min(self.width, self.height) < self.n:
            raise ValueError(f"preprocess: a {self.width}x{self.height} frame cannot give a "
                             f"{self.n}x{self.n} CNN input")
        if not 1 <= self.out_max <= 255:
            raise ValueError(f"preprocess: out_max={self.out_max} must be 1..255")
        if self.radius < 0:
            raise ValueError(f"preprocess: radius={self.radius} must be >= 0")
        if self.threshold is not None and not 1 <= self.threshold <= self.out_max:
            raise ValueError(f"preprocess: threshold={self.threshold} must be 1..out_max "
                             f"({self.out_max})")

    @property
    def factor(self) -> int:
        return min(self.width, self.height) // self.n

    @property
    def side(self) -> int:
        return self.factor * self.n

    @property
    def x0(self) -> int:
        return (self.width - self.side) // 2

    @property
    def y0(self) -> int:
        return (self.height - self.side) // 2

    @property
    def shift(self) -> int:
        return (self.factor * self.factor - 1).bit_length()


def for_model(name: str, width: int = 160, height: int = 120,
              threshold: int | None = None, camera: str | None = None) -> Geometry:
    """The geometry a preset uses: mnist_cnn 28x28 0..255 with a 7x7-cell background
    window; digits_cnn 8x8 0..16, whose digits fill the frame, so the background is the
    brightest cell of the whole image. ``camera`` (qqvga, qvga, vga) sets the frame size
    instead of ``width`` and ``height``."""
    if camera is not None:
        width, height = camera_size(camera)
    if name == "mnist_cnn":
        return Geometry(width, height, 28, 255, radius=3, threshold=threshold)
    if name == "digits_cnn":
        return Geometry(width, height, 8, 16, radius=7, threshold=threshold)
    raise ValueError(f"preprocess: no camera geometry for model {name!r} "
                     f"(mnist_cnn, digits_cnn)")


def rgb565(r8, g8, b8) -> np.ndarray:
    """8-bit channels -> RGB565 words (truncating, as a sensor's output stage does)."""
    r8, g8, b8 = (np.asarray(c, np.int64) for c in (r8, g8, b8))
    return ((r8 >> 3) << 11 | (g8 >> 2) << 5 | (b8 >> 3)).astype(np.uint16)


def gray(frame) -> np.ndarray:
    """RGB565 (any shape) -> 8-bit luma, as the RTL computes it."""
    p = np.asarray(frame, np.int64)
    r5, g6, b5 = p >> 11 & 31, p >> 5 & 63, p & 31
    r8, g8, b8 = r5 << 3 | r5 >> 2, g6 << 2 | g6 >> 4, b5 << 3 | b5 >> 2
    wr, wg, wb = GRAY_WEIGHTS
    return ((wr * r8 + wg * g8 + wb * b8) >> 8).astype(np.int64)


def downscale(y: np.ndarray, geo: Geometry) -> np.ndarray:
    """Luma (H, W) -> (n, n) cells: centre crop, f x f box sums >> shift."""
    if y.shape != (geo.height, geo.width):
        raise ValueError(f"preprocess: frame is {y.shape[1]}x{y.shape[0]}, "
                         f"the geometry expects {geo.width}x{geo.height}")
    f, n = geo.factor, geo.n
    crop = y[geo.y0:geo.y0 + geo.side, geo.x0:geo.x0 + geo.side]
    return crop.reshape(n, f, n, f).sum(axis=(1, 3)) >> geo.shift


def background(cells: np.ndarray, radius: int) -> np.ndarray:
    """The brightest cell within ``radius`` (clipped at the borders) of each cell."""
    n = cells.shape[0]
    out = np.zeros_like(cells)
    for y in range(n):
        for x in range(n):
            out[y, x] = cells[max(0, y - radius):y + radius + 1,
                              max(0, x - radius):x + radius + 1].max()
    return out


def reciprocal(max_ink: int, out_max: int) -> int:
    return (out_max << RECIP_SHIFT) // max_ink if max_ink else 0


def normalise(cells: np.ndarray, geo: Geometry) -> np.ndarray:
    ink = background(cells, geo.radius) - cells
    recip = reciprocal(int(ink.max()), geo.out_max)
    out = (ink * recip) >> RECIP_SHIFT
    if geo.threshold is not None:
        out = np.where(out >= geo.threshold, geo.out_max, 0)
    return out.astype(np.uint8)


def preprocess(frame, geo: Geometry) -> np.ndarray:
    """One RGB565 frame (H, W) -> the CNN's (n, n) raw pixel input, uint8."""
    return normalise(downscale(gray(frame), geo), geo)
