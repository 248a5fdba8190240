"""Record the board's camera frames as a labeled dataset.

Put the board in capture mode (the capture switch, BTN1 on the iCEBreaker, or this script's
--command), hold a digit in front of the camera and run, for example:

    scripts/capture_dataset.py --port /dev/ttyUSB1 --label 7 --out data/camera/

Each packet the board sends (model/capture.py: the exact 28x28 or 8x8 image the CNN took, its
predicted digit, the frame number, a CRC-16) is checked and appended to OUT/camera.npz with
the label given here. Damaged packets and stray bytes are skipped (counted on the status
line). The file is rewritten through a temporary file and a rename after every --flush-every
frames and at the end, so Ctrl-C, an unplugged cable or a crash never corrupts what was
recorded before. The status line shows the frames per label in the file; --preview prints
each frame as a small grey-level picture.

--port takes a device (/dev/ttyUSB1, COM3) or any pyserial URL (loop://, socket://host:port).
"""
import argparse
import signal
import sys
import time
from pathlib import Path

from cnn2fpga.commands._cli import run

SHADES = " .:-=+*#%@"


def preview(image, digit: int, frame: int) -> str:
    """The image as text, two characters a pixel, darkest ink as '@'."""
    top = max(int(image.max()), 1)
    rows = ["".join(SHADES[int(v) * (len(SHADES) - 1) // top] * 2 for v in row) for row in image]
    return f"frame {frame}: board says {digit}\n" + "\n".join(rows)


def status(counts: dict, label: int, new: int, dec, wrong: int) -> str:
    per = " ".join(f"{k}:{v}" for k, v in sorted(counts.items())) or "-"
    return (f"label {label}: +{new} this run ({wrong} predicted otherwise) | file: {per} | "
            f"crc errors {dec.crc_errors}, bad headers {dec.bad_headers}, "
            f"skipped {dec.skipped} B")


def main() -> int:
    import serial

    from model import capture

    # Ctrl-C (SIGINT) ends a recording and keeps every frame, even when the command was
    # started from something that ignores SIGINT and so passed that on (a background job of a
    # script, a test runner's worker process): Python installs its handler only if SIGINT is
    # not ignored when it starts.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", required=True, help="serial device or pyserial URL")
    ap.add_argument("--label", type=int, required=True, help="the digit being shown, 0-9")
    ap.add_argument("--out", type=Path, default=Path("data/camera"),
                    help="dataset folder (default data/camera/)")
    ap.add_argument("--baud", type=int, default=460800,
                    help="460800 for the DE10-Lite and Basys3 tops, 115200 for the iCEBreaker "
                         "(default 460800)")
    ap.add_argument("--count", type=int, help="stop after this many frames (default: Ctrl-C)")
    ap.add_argument("--seconds", type=float, help="stop after this long")
    ap.add_argument("--flush-every", type=int, default=1,
                    help="write the file after this many new frames (default 1)")
    ap.add_argument("--command", action="store_true",
                    help="send 'c' first (capture mode on) and 't' at the end (text mode)")
    ap.add_argument("--preview", action="store_true", help="print each frame as text")
    args = ap.parse_args()
    if not 0 <= args.label <= 9:
        raise ValueError(f"--label {args.label} must be a digit 0-9")
    for name in ("count", "flush_every", "baud"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} {value} must be at least 1")

    counts = capture.counts(args.out)     # also checks an existing file before recording
    try:
        port = serial.serial_for_url(args.port, baudrate=args.baud, timeout=0.1)
    except (serial.SerialException, ValueError) as exc:
        raise ValueError(f"--port {args.port}: {exc}") from None
    dec, pending, new, wrong = capture.Decoder(), [], 0, 0
    path = Path(args.out) / capture.DATASET_FILE
    tty = sys.stderr.isatty()

    def flush():
        nonlocal pending
        if pending:
            capture.append(args.out, pending, args.label)
            counts[args.label] = counts.get(args.label, 0) + len(pending)
            pending = []

    def show():
        line = status(counts, args.label, new, dec, wrong)
        print(("\r" + line + "\x1b[K") if tty else line, end="" if tty else "\n",
              file=sys.stderr, flush=True)

    start, code = time.monotonic(), 0
    try:
        if args.command:
            port.write(b"c")
        show()
        while args.count is None or new < args.count:
            if args.seconds is not None and time.monotonic() - start >= args.seconds:
                break
            data = port.read(4096)
            if not data:
                continue
            for c in dec.feed(data):
                if args.count is not None and new >= args.count:
                    break
                pending.append(c)
                new += 1
                wrong += c.digit != args.label
                if args.preview:
                    print(("\n" if tty else "") + preview(c.image, c.digit, c.frame),
                          file=sys.stderr)
            if len(pending) >= args.flush_every:
                flush()
            show()
    except KeyboardInterrupt:
        code = 130
    except serial.SerialException as exc:   # unplugged: keep what arrived, say so
        print(f"\nerror: --port {args.port}: {exc}", file=sys.stderr)
        code = 1
    finally:
        flush()
        if args.command and code != 1:
            try:
                port.write(b"t")
            except serial.SerialException:
                pass
        port.close()
    show()
    print(("\n" if tty else "") + f"{new} frames of label {args.label} -> {path}",
          file=sys.stderr)
    return code


if __name__ == "__main__":
    run(main)
