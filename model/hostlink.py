"""The board test's serial protocol: framed images to the board, framed results back (the host
side of ``hdl/camera/host_link.py``).

A board top in host mode classifies images the host sends instead of the camera's. Every
field is little-endian, and the CRC is ``model.capture.crc16`` (CRC-16/CCITT-FALSE) over the
bytes from the length to the end of the body::

    request (host -> board)               reply (board -> host)
    offset  bytes  field                  offset  bytes  field
    0       2      sync A5 5A             0       2      sync 5A A5
    2       2      length L (pixels)      2       2      length L = 2 + body
    4       1      sequence number        4       1      kind: R result, N refused, K bye
    5       L      pixels, row by row     5       1      the request's sequence number
    5+L     2      CRC                    6       L-2    body
                                          4+L     2      CRC

A request's length is the image's pixel count (``n * n``); length 0 is "bye": the board leaves
host mode and answers K. A result's body is the class index, the number of outputs, the int8
output tensor, and the accelerator's own cycle count for the image (4 bytes: from its first
pixel into the CNN to its class index out, ``hdl.cnn.config.latency``'s measure). The board
answers N to a request whose CRC or length is wrong, or that stopped mid-frame for
``SILENCE_S``, and ignores bytes outside a frame while in host mode (a request whose sync was
corrupted gets no answer: the host's wait runs out and it sends again).

``Decoder`` finds replies in a byte stream the way ``model.capture.Decoder`` finds capture
packets: garbage before a sync word, a bad length or a bad CRC cost only themselves.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .capture import crc16

REQUEST_SYNC = b"\xa5\x5a"
REPLY_SYNC = b"\x5a\xa5"
RESULT, REFUSED, BYE = b"R"[0], b"N"[0], b"K"[0]
SILENCE_S = 0.005       # a request that stops this long mid-frame is refused
MAX_PIXELS = 4096
MAX_OUTPUTS = 255


def request(seq: int, image: np.ndarray | None) -> bytes:
    """The frame that asks the board to classify ``image`` (uint8 pixels as the CNN takes
    them); ``image=None``: bye (leave host mode)."""
    pixels = b"" if image is None else np.asarray(image, dtype=np.uint8).tobytes()
    if len(pixels) > MAX_PIXELS or not 0 <= seq < 256:
        raise ValueError(f"host request: {len(pixels)} pixels (at most {MAX_PIXELS}), "
                         f"sequence {seq} (0..255)")
    body = len(pixels).to_bytes(2, "little") + bytes([seq]) + pixels
    return REQUEST_SYNC + body + crc16(body).to_bytes(2, "little")


@dataclass(frozen=True)
class Reply:
    kind: int            # RESULT, REFUSED or BYE
    seq: int
    index: int = 0       # the class index (RESULT)
    outputs: np.ndarray = None   # the int8 output tensor (RESULT)
    cycles: int = 0      # the accelerator's cycles for the image (RESULT)


def reply(kind: int, seq: int, index: int = 0, outputs=(), cycles: int = 0) -> bytes:
    """A reply frame as the board sends it (the reference for the RTL)."""
    body = bytes([kind, seq])
    if kind == RESULT:
        out = np.asarray(outputs, dtype=np.int8)
        body += bytes([index, len(out)]) + out.tobytes() + int(cycles).to_bytes(4, "little")
    length = len(body).to_bytes(2, "little")
    return REPLY_SYNC + length + body + crc16(length + body).to_bytes(2, "little")


class Decoder:
    """Replies from a byte stream: ``feed(bytes)`` returns the complete, checked replies."""

    def __init__(self):
        self.buf = bytearray()
        self.rejected = 0      # sync words whose frame failed its length or CRC

    def feed(self, data: bytes) -> list[Reply]:
        self.buf += data
        out = []
        while True:
            at = self.buf.find(REPLY_SYNC)
            if at < 0:
                del self.buf[:max(0, len(self.buf) - 1)]
                return out
            del self.buf[:at]
            if len(self.buf) < 4:
                return out
            length = int.from_bytes(self.buf[2:4], "little")
            if not 2 <= length <= 8 + MAX_OUTPUTS:
                self._reject()
                continue
            if len(self.buf) < 4 + length + 2:
                return out
            body = bytes(self.buf[4:4 + length])
            crc = int.from_bytes(self.buf[4 + length:6 + length], "little")
            parsed = _parse(body) if crc == crc16(bytes(self.buf[2:4]) + body) else None
            if parsed is None:
                self._reject()
                continue
            del self.buf[:6 + length]
            out.append(parsed)

    def _reject(self):
        self.rejected += 1
        del self.buf[:1]


def _parse(body: bytes) -> Reply | None:
    kind, seq = body[0], body[1]
    if kind in (REFUSED, BYE):
        return Reply(kind, seq) if len(body) == 2 else None
    if kind != RESULT or len(body) < 8 or len(body) != 8 + body[3]:
        return None
    outputs = np.frombuffer(body[4:4 + body[3]], dtype=np.int8).copy()
    return Reply(RESULT, seq, body[2], outputs, int.from_bytes(body[-4:], "little"))


class LinkError(RuntimeError):
    """The board gave no good reply to a request after every try."""


@dataclass
class LinkStats:
    frames: int = 0      # request frames written (first tries and retries)
    refused: int = 0     # N replies
    timeouts: int = 0    # tries with no reply in time


def classify(port, seq: int, image, *, wait_s: float, decoder: Decoder, stats: LinkStats,
             tries: int = 10) -> Reply:
    """Send ``image`` as request ``seq`` on ``port`` (``write``, ``read(seconds)``, ``now()``:
    a serial port wrapper or ``cosim.board_link.SimPort``) until its result comes back: a
    refusal (N) or ``wait_s`` without the result sends it again, up to ``tries`` times."""
    frame = request(seq, image)
    for _ in range(tries):
        port.write(frame)
        stats.frames += 1
        end = port.now() + wait_s
        refused = False
        while not refused:
            left = end - port.now()
            if left <= 0:
                stats.timeouts += 1
                break
            for r in decoder.feed(port.read(left)):
                if r.kind == RESULT and r.seq == seq:
                    return r
                if r.kind == REFUSED:
                    stats.refused += 1
                    refused = True
    raise LinkError(f"image {seq}: no result after {tries} tries ({stats.refused} refused, "
                    f"{stats.timeouts} timed out): is the board programmed with this design, "
                    f"at this baud rate, and the port the board's?")


def bye(port, seq: int, *, wait_s: float, decoder: Decoder) -> bool:
    """Ask the board to leave host mode (back to the camera); True when it said so."""
    port.write(request(seq, None))
    end = port.now() + wait_s
    while port.now() < end:
        if any(r.kind == BYE for r in decoder.feed(port.read(end - port.now()))):
            return True
    return False


FAULTS = ("flip", "drop", "stall", "reply-flip")


@dataclass(frozen=True)
class Fault:
    """One injected fault: ``kind`` at byte ``at`` of the ``frame``-th request written (from
    0, retries count), or of the bytes read after it (``reply-flip``); ``seconds``: a stall's
    length."""
    kind: str
    frame: int
    at: int
    seconds: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> "Fault":
        """``KIND:FRAME:BYTE[:SECONDS]``, e.g. ``flip:0:40``, ``stall:2:10:0.02``."""
        parts = spec.split(":")
        try:
            if parts[0] not in FAULTS or len(parts) not in (3, 4):
                raise ValueError
            fault = cls(parts[0], int(parts[1]), int(parts[2]),
                        float(parts[3]) if len(parts) == 4 else 0.02)
            if fault.frame < 0 or fault.at < 0 or fault.seconds <= 0:
                raise ValueError
            return fault
        except ValueError:
            raise ValueError(f"--fault {spec!r}: KIND:FRAME:BYTE[:SECONDS] with KIND one of "
                             f"{', '.join(FAULTS)}, FRAME and BYTE counted from 0 (e.g. "
                             f"flip:0:40, drop:1:3, stall:2:10:0.02)") from None


class FaultyPort:
    """A port that breaks the link on purpose, as ``faults`` say: a bit flipped or a byte
    dropped on the way to the board, a stall inside a request, a bit flipped in a reply."""

    def __init__(self, port, faults):
        self.port, self.faults = port, list(faults)
        self.frame = -1
        self.read_at = 0
        self.injected = 0

    def _mine(self, kind):
        return [f for f in self.faults if f.kind == kind and f.frame == self.frame]

    def write(self, data: bytes) -> None:
        self.frame += 1
        self.read_at = 0
        data = bytearray(data)
        for f in self._mine("flip"):
            if f.at < len(data):
                data[f.at] ^= 0x10
                self.injected += 1
        stalls = [f for f in self._mine("stall") if f.at < len(data)]
        for f in sorted(self._mine("drop"), key=lambda f: -f.at):
            if f.at < len(data):
                del data[f.at]
                self.injected += 1
        at = 0
        for f in sorted(stalls, key=lambda f: f.at):
            self.port.write(bytes(data[at:f.at]))
            self.port.pause(f.seconds)
            self.injected += 1
            at = f.at
        self.port.write(bytes(data[at:]))

    def read(self, seconds: float) -> bytes:
        data = bytearray(self.port.read(seconds))
        for f in self._mine("reply-flip"):
            if self.read_at <= f.at < self.read_at + len(data):
                data[f.at - self.read_at] ^= 0x10
                self.injected += 1
        self.read_at += len(data)
        return bytes(data)

    def pause(self, seconds: float) -> None:
        self.port.pause(seconds)

    def now(self) -> float:
        return self.port.now()


class SerialPort:
    """A pyserial port (a device, or a URL such as ``socket://host:port``) with the calls
    ``classify`` uses; time is the host's clock."""

    def __init__(self, url: str, baud: int):
        import serial

        self.port = serial.serial_for_url(url, baudrate=baud, timeout=0.01)

    def write(self, data: bytes) -> None:
        self.port.write(data)
        self.port.flush()

    def read(self, seconds: float) -> bytes:
        import time

        end = time.monotonic() + seconds
        while True:
            data = self.port.read(max(1, self.port.in_waiting))
            if data or time.monotonic() >= end:
                return data

    def pause(self, seconds: float) -> None:
        import time

        time.sleep(seconds)

    def now(self) -> float:
        import time

        return time.monotonic()

    def close(self) -> None:
        self.port.close()
