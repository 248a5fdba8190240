"""Camera capture packets and the recorded dataset (the host side of ``hdl/camera/host_link.py``).

In capture mode the system top sends, for each recorded frame, the exact image the CNN took
(its input stream: the preprocessed n x n pixels, 0..input_max) with the predicted digit and
the frame number, as one binary packet on the UART. All fields are little-endian::

    offset  bytes  field
    0       2      sync A5 5A
    2       2      length L = 4 + n*n (the payload's bytes)
    4       2      frame number (every frame the camera delivered counts)
    6       1      predicted digit
    7       1      n (the image side: 28 or 8)
    8       n*n    pixels, row by row
    8+n*n   2      CRC-16 of bytes 2 .. 7+n*n (length and payload)

The CRC is CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection, no
final XOR; "123456789" gives 0x29B1), which is ``binascii.crc_hqx(data, 0xFFFF)``.

``Decoder`` finds packets in a byte stream: it skips bytes until the sync word, checks the
length against n, checks the CRC, and after a bad header or CRC it resumes one byte after the
rejected sync word, so garbage (or a packet cut by a reset) costs only itself.

The dataset is a folder of ``.npz`` files (``append`` writes ``camera.npz`` by default) with
the arrays ``x`` (N, n, n) uint8, ``y`` (N,) uint8 the label the user gave, ``predicted``
(N,) uint8 the board's digit, ``frame`` (N,) int64 the frame number. ``append`` rewrites the
file through a temporary file and a rename, so an interrupted recording leaves the previous
file whole. ``load_dir`` reads every ``.npz`` of a folder as one ``Split``.
"""
from __future__ import annotations

import binascii
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import atomic
from .data import DataError, Split

SYNC = b"\xa5\x5a"
HEAD = 8            # sync, length, frame, digit, n
CRC_BYTES = 2
MAX_SIDE = 64
DATASET_FILE = "camera.npz"
KEYS = ("x", "y", "predicted", "frame")


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of ``data``."""
    return binascii.crc_hqx(bytes(data), 0xFFFF)


def packet_bytes(n: int) -> int:
    """The bytes of one packet for an n x n image."""
    return HEAD + n * n + CRC_BYTES


@dataclass(frozen=True)
class Capture:
    frame: int
    digit: int
    image: np.ndarray   # (n, n) uint8


def encode(frame: int, digit: int, image: np.ndarray) -> bytes:
    """The packet the hardware sends for ``image`` (the reference for the RTL)."""
    image = np.asarray(image)
    n = image.shape[0]
    if image.shape != (n, n) or not 1 <= n <= MAX_SIDE:
        raise ValueError(f"capture packet: the image must be square, 1..{MAX_SIDE} a side, "
                         f"not {image.shape}")
    if not (0 <= frame < 1 << 16 and 0 <= digit < 256):
        raise ValueError(f"capture packet: frame={frame} must fit 16 bits, digit={digit} 8")
    body = (4 + n * n).to_bytes(2, "little") + frame.to_bytes(2, "little") + bytes([digit, n])
    body += image.astype(np.uint8).tobytes()
    return SYNC + body + crc16(body).to_bytes(2, "little")


@dataclass
class Decoder:
    """Packets out of a byte stream; ``feed`` returns the complete ones so far."""

    packets: int = 0
    crc_errors: int = 0
    bad_headers: int = 0
    skipped: int = 0          # bytes dropped outside packets (garbage, rejected packets)
    _buf: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Capture]:
        buf = self._buf
        buf += data
        out = []
        while True:
            at = buf.find(SYNC)
            if at < 0:  # keep a trailing first sync byte: the second may be in the next read
                keep = 1 if buf[-1:] == SYNC[:1] else 0
                self.skipped += len(buf) - keep
                del buf[:len(buf) - keep]
                return out
            self.skipped += at
            del buf[:at]
            if len(buf) < HEAD:
                return out
            length = int.from_bytes(buf[2:4], "little")
            n = buf[7]
            if not 1 <= n <= MAX_SIDE or length != 4 + n * n:
                self.bad_headers += 1
                self._reject()
                continue
            end = 4 + length
            if len(buf) < end + CRC_BYTES:
                return out
            if crc16(buf[2:end]) != int.from_bytes(buf[end:end + CRC_BYTES], "little"):
                self.crc_errors += 1
                self._reject()
                continue
            image = np.frombuffer(bytes(buf[HEAD:end]), np.uint8).reshape(n, n)
            out.append(Capture(int.from_bytes(buf[4:6], "little"), buf[6], image))
            self.packets += 1
            del buf[:end + CRC_BYTES]

    def _reject(self) -> None:
        self.skipped += 1
        del self._buf[:1]

    @property
    def pending(self) -> int:
        """Bytes held back, waiting for the rest of a packet."""
        return len(self._buf)


def _read(path: Path) -> dict:
    try:
        with np.load(path) as z:
            arrays = {k: z[k] for k in KEYS}
    except KeyError as exc:
        raise DataError(f"{path}: not a camera dataset (missing array {exc})") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read as .npz ({exc})") from None
    x = arrays["x"]
    if x.ndim != 3 or x.shape[1] != x.shape[2] or any(len(a) != len(x) for a in arrays.values()):
        raise DataError(f"{path}: x is {x.shape}; expected (N, n, n) with N labels, "
                        f"predictions and frame numbers")
    return arrays


def append(folder: str | Path, captures: list[Capture], label: int,
           name: str = DATASET_FILE) -> Path:
    """Add ``captures`` with ``label`` to ``folder/name``, atomically; returns the path."""
    path = Path(folder) / name
    if not 0 <= label <= 255:
        raise ValueError(f"label {label} must be 0..255")
    new = {"x": np.stack([c.image for c in captures]).astype(np.uint8),
           "y": np.full(len(captures), label, np.uint8),
           "predicted": np.array([c.digit for c in captures], np.uint8),
           "frame": np.array([c.frame for c in captures], np.int64)}
    if path.exists():
        old = _read(path)
        if old["x"].shape[1:] != new["x"].shape[1:]:
            raise DataError(f"{path} holds {old['x'].shape[1]}x{old['x'].shape[2]} images; "
                            f"these are {new['x'].shape[1]}x{new['x'].shape[2]} (another model's "
                            f"camera?): record into another folder")
        new = {k: np.concatenate([old[k], new[k]]) for k in KEYS}
    blob = io.BytesIO()
    np.savez(blob, **new)
    atomic.write_bytes(path, blob.getvalue())
    return path


def counts(folder: str | Path, name: str = DATASET_FILE) -> dict[int, int]:
    """Images per label in ``folder/name`` (empty when there is no file yet)."""
    path = Path(folder) / name
    if not path.exists():
        return {}
    labels, n = np.unique(_read(path)["y"], return_counts=True)
    return {int(k): int(v) for k, v in zip(labels, n)}


def load_dir(folder: str | Path) -> Split:
    """Every ``.npz`` dataset in ``folder`` as one split (images uint8 (N, n, n), labels)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder of camera recordings")
    files = sorted(folder.glob("*.npz"))
    if not files:
        raise DataError(f"{folder}: no .npz recordings (scripts/capture_dataset.py writes them)")
    parts = [_read(f) for f in files]
    shapes = {p["x"].shape[1:] for p in parts}
    if len(shapes) > 1:
        raise DataError(f"{folder}: recordings of different sizes {sorted(shapes)}")
    return Split(np.concatenate([p["x"] for p in parts]), np.concatenate([p["y"] for p in parts]))
