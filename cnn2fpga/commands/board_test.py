"""Test images over the UART, bit-exact on the board: every output value against golden.

The board top (`make verilog BOARD=B`, then its bitstream) has a host mode beside the camera:
the host sends framed images (sync, length, sequence number, pixels, CRC-16; model/hostlink.py)
and the board classifies each one, bypassing the camera, and answers with the class index,
the whole int8 output tensor and its own count of the accelerator's clocks for the image.
This command sends --n test images of the board's model, compares every value with golden,
and prints bit-exact images, accuracy, images/s over the link, and the cycles counted on the
chip against the cycle model. A frame the board refuses (bad CRC or length, or cut short) or
a reply that does not come back whole is sent again; nothing is lost. At the end the board is
asked to leave host mode (back to the camera).

  --port DEV   the board's serial port (/dev/ttyUSB0, COM3, or a pyserial URL)
  --sim        no board: the same host code against the board top in Verilator, with the
               serial line at the top's pins (simulated time: timeouts and images/s are the
               board's own)

The design is the board's build folder (build/<board>/verilog, or --verilog DIR); --sim builds
it first when it is missing (with --model, or the board's model). --fault KIND:FRAME:BYTE
breaks the link on purpose (flip: a bit of a request's byte; drop: the byte; stall:...:SECONDS
a pause before the byte; reply-flip: a bit of the reply), to watch the retries.

Examples:
  cnn2fpga board-test --board icebreaker --port /dev/ttyUSB1 --n 100
  cnn2fpga board-test --board icebreaker --sim --n 5 --json
  cnn2fpga board-test --board ulx3s --sim --model digits_cnn --n 5 --fault flip:1:30
"""
import argparse
import json
import sys
import time
from pathlib import Path

from cnn2fpga.commands._cli import CommandError

BOOT_S = 0.001     # the host waits this long before the first request
MARGIN_S = 0.05    # a serial port's own delays (USB frames, the OS) on top of the line's time


def design_folder(args, log) -> Path:
    """The board top the test runs against: --verilog, or build/<board>/verilog (built for
    --sim when missing or built for another model)."""
    if args.verilog:
        if not (args.verilog / "config.json").is_file():
            raise CommandError(f"--verilog {args.verilog}: no config.json there (a folder "
                               f"`cnn2fpga verilog --board {args.board}` wrote)")
        return args.verilog
    folder = Path(args.out or "build") / args.board / "verilog"
    doc = folder / "config.json"
    if doc.is_file():
        built = json.loads(doc.read_text())
        if built.get("board") == args.board and args.model in (None, built.get("model")):
            return folder
    if not args.sim:
        raise CommandError(f"{folder}: no {args.board} build to test against; run `cnn2fpga "
                           f"verilog --board {args.board}` (and its bitstream) first")
    import subprocess

    print(f"building the {args.board} top into {folder} ...", file=log, flush=True)
    extra = ["--model", args.model] if args.model else []
    if args.mnist_dir:
        extra += ["--mnist-dir", args.mnist_dir]
    proc = subprocess.run([sys.executable, "-m", "cnn2fpga", "verilog", "--board", args.board,
                           "--out", str(folder), *extra], capture_output=True, text=True)
    if proc.returncode:
        raise CommandError(f"building the {args.board} top: "
                           f"{(proc.stderr or proc.stdout).strip().splitlines()[-1]}")
    return folder


def main() -> int:
    import numpy as np

    from hdl.board import boards
    from model import golden, hostlink, source

    ap = argparse.ArgumentParser(prog="cnn2fpga board-test", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--board", required=True, help=", ".join(boards.BOARDS))
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="the board's serial port or a pyserial URL")
    where.add_argument("--sim", action="store_true",
                       help="the board top in Verilator instead of a board")
    ap.add_argument("--n", type=int, default=100, help="test images (default 100)")
    ap.add_argument("--model", help="with --sim: the model to build into the board top when "
                                    "it is built (default the board's)")
    ap.add_argument("--verilog", type=Path, help="the board's build folder (default "
                                                 "build/<board>/verilog)")
    ap.add_argument("--out", type=Path, help="the build folder's root (default ./build)")
    ap.add_argument("--mnist-dir", help="MNIST's IDX files (default $MNIST_DIR or Keras')")
    ap.add_argument("--baud", type=int, help="the UART's rate (default the board's)")
    ap.add_argument("--tries", type=int, default=10,
                    help="sends of one image before giving up (default 10)")
    ap.add_argument("--fault", action="append", default=[], metavar="KIND:FRAME:BYTE[:S]",
                    help="inject a link fault (repeatable): flip, drop, stall, reply-flip")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    if args.n < 1:
        raise ValueError(f"--n {args.n} must be at least 1")
    if args.tries < 1:
        raise ValueError(f"--tries {args.tries} must be at least 1")
    faults = [hostlink.Fault.parse(spec) for spec in args.fault]
    board = boards.get(args.board)
    log = sys.stderr if args.json else sys.stdout

    folder = design_folder(args, log)
    doc = json.loads((folder / "config.json").read_text())
    if doc.get("board") != args.board:
        raise CommandError(f"{folder}: a design for {doc.get('board') or 'no board'}, not "
                           f"{args.board}")
    src = source.resolve(doc["model"], mnist_dir=args.mnist_dir)
    net = src.load_net()
    ds = src.load_data(args.mnist_dir)
    images = np.asarray(ds.test.x[: args.n]).astype(np.uint8)
    labels = np.asarray(ds.test.y[: len(images)]) if ds.labelled else None
    want = golden.run_network(net, net.quantize_input(src.to_float(images)))
    baud = args.baud or doc["baud"]
    latency_s = doc["cnn_latency"] / doc["clk_hz"]
    n_out = want.logits.shape[1]
    line_s = (len(hostlink.request(0, images[0])) + 14 + n_out) * 10 / baud
    wait_s = 2 * (line_s + latency_s + hostlink.SILENCE_S) + (0 if args.sim else MARGIN_S)

    if args.sim:
        from cosim import board_link

        run_dir = folder.parent / "board_test_sim"
        print(f"verilator: the {board.top} top with {doc['model']} ...", file=log, flush=True)
        board_link.prepare(run_dir, folder, args.board)
        port = board_link.SimPort(board_link.build(run_dir, args.board), run_dir.resolve(),
                                  board)
        where = "Verilator, serial line at the pins"
    else:
        import serial

        try:
            port = hostlink.SerialPort(args.port, baud)
        except (serial.SerialException, ValueError) as exc:
            raise CommandError(f"--port {args.port}: {exc}") from None
        where = args.port
    link = hostlink.FaultyPort(port, faults)
    decoder, stats = hostlink.Decoder(), hostlink.LinkStats()
    got, cycles = [], []
    wall = time.monotonic()
    try:
        link.pause(BOOT_S)  # a board (or its simulation) just out of reset
        start = link.now()
        for i, image in enumerate(images):
            r = hostlink.classify(link, i % 256, image, wait_s=wait_s, decoder=decoder,
                                  stats=stats, tries=args.tries)
            got.append((r.index, r.outputs))
            cycles.append(r.cycles)
            if not args.json and (i + 1) % max(1, len(images) // 10) == 0:
                print(f"  {i + 1} / {len(images)} images", file=log, flush=True)
        link_s = link.now() - start
        said_bye = hostlink.bye(link, len(images) % 256, wait_s=wait_s, decoder=decoder)
    except hostlink.LinkError as exc:
        raise CommandError(f"{args.board} on {where}: {exc}") from None
    finally:
        if hasattr(port, "close"):
            port.close()
    wall = time.monotonic() - wall

    outputs = np.stack([o if len(o) == n_out else np.zeros(n_out, np.int8) for _, o in got])
    indices = np.array([i for i, _ in got])
    exact = int(np.sum(np.all(outputs == want.logits, axis=1) & (indices == want.prediction)))
    predicted = doc["cnn_latency"]
    report = {
        "board": args.board, "model": doc["model"], "sim": bool(args.sim), "port": where,
        "images": len(images), "bit_exact_images": exact, "all_bit_exact": exact == len(images),
        "accuracy_hw": None if labels is None else float(np.mean(indices == labels)),
        "accuracy_golden": None if labels is None
        else float(np.mean(want.prediction == labels)),
        "latency_cycles": int(cycles[0]), "latency_cycles_min": int(min(cycles)),
        "latency_cycles_max": int(max(cycles)), "predicted_latency": predicted,
        "cycles_match": all(c == predicted for c in cycles),
        "images_per_s": len(images) / link_s if link_s > 0 else None,
        "link_seconds": round(link_s, 6), "wall_seconds": round(wall, 2), "baud": baud,
        "frames_sent": stats.frames, "refused": stats.refused, "timeouts": stats.timeouts,
        "bad_replies": decoder.rejected, "faults_injected": link.injected,
        "left_host_mode": said_bye}
    if args.json:
        print(json.dumps(report))
    else:
        clock = "simulated" if args.sim else "measured"
        print(f"{board.title}, {where}: {doc['model']}")
        print(f"  bit-exact images   {exact} / {len(images)}  "
              f"({'every output value equal to golden' if exact == len(images) else 'MISMATCH'})")
        if labels is None:
            print("  accuracy           n/a (no labels)")
        else:
            print(f"  accuracy           board {report['accuracy_hw']:.4f}, golden "
                  f"{report['accuracy_golden']:.4f}")
        span = (f"{min(cycles):,}" if min(cycles) == max(cycles)
                else f"{min(cycles):,} to {max(cycles):,}")
        print(f"  cycles on chip     {span} a image, cycle model {predicted:,} "
              f"({'equal' if report['cycles_match'] else 'DIFFERENT'})")
        print(f"  over the link      {report['images_per_s']:.1f} images/s at {baud:,} baud "
              f"({clock} time {link_s:.3f} s)")
        print(f"  frames             {stats.frames} sent for {len(images)} images, "
              f"{stats.refused} refused, {stats.timeouts} timed out, {decoder.rejected} bad "
              f"replies" + (f", {link.injected} faults injected" if faults else ""))
    return 0 if report["all_bit_exact"] and report["cycles_match"] else 1


if __name__ == "__main__":
    from cnn2fpga.commands._cli import run

    run(main)
