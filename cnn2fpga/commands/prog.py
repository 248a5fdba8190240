"""Write a board's built image into the board (what `make prog BOARD=...` runs).

The open-flow boards are programmed with openFPGALoader (installed by `make setup`):
  icebreaker  build/icebreaker/synth/board_icebreaker.bin into the iCEBreaker's SPI flash
              (openFPGALoader -b ice40_generic; it boots from it at power-up)
  ulx3s       build/ulx3s/synth/board_ulx3s.bit into the ECP5's SRAM over JTAG
              (openFPGALoader -b ulx3s; --flash writes the SPI flash instead)
Build the image first: `make bitstream BOARD=...`. With no board on USB the command says so.

The DE10-Lite and the Basys3 are built and programmed with their vendors' tools: for them the
command prints what to run.

Examples:
  cnn2fpga prog --board ulx3s
  cnn2fpga prog --board ulx3s --flash
  cnn2fpga prog --board icebreaker --image my.bin
"""
import argparse
import shutil
import subprocess
from pathlib import Path

from cnn2fpga.commands._cli import CommandError, run

LOADER = {"icebreaker": ("ice40_generic", ".bin"), "ulx3s": ("ulx3s", ".bit")}
VENDOR = {
    "de10lite": "cd build/de10lite/verilog && quartus_sh -t quartus_build.tcl && quartus_pgm -c "
                "USB-Blaster -m JTAG -o \"p;output_files/de10lite.sof\"",
    "basys3": "cd build/basys3/verilog && vivado -mode batch -source vivado_build.tcl, then in "
              "Vivado's Tcl console: open_hw_manager; connect_hw_server; open_hw_target; "
              "set_property PROGRAM.FILE board_basys3.bit [current_hw_device]; "
              "program_hw_devices [current_hw_device]",
}
NO_BOARD = ("unable to open ftdi device", "device not found", "Failed to claim cable",
            "No cable", "cable not found")


class ProgError(CommandError):
    """No image, no loader, no board: said in one line."""


def main() -> int:
    from hdl.board import boards

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--board", required=True, help=", ".join(boards.BOARDS))
    ap.add_argument("--image", type=Path, help="the image to write (default: the one "
                                               "`make bitstream BOARD=...` builds)")
    ap.add_argument("--flash", action="store_true",
                    help="ulx3s: write the SPI flash (kept over power cycles) instead of SRAM")
    args = ap.parse_args()
    board = boards.get(args.board)
    if board.name in VENDOR:
        print(f"{board.title} is programmed with its vendor's tool:\n  {VENDOR[board.name]}")
        return 0
    name, suffix = LOADER[board.name]
    image = args.image or Path("build") / board.name / "synth" / f"{board.top}{suffix}"
    if not image.is_file():
        raise ProgError(f"no image at {image}: build it with `make bitstream BOARD={board.name}`")
    loader = shutil.which("openFPGALoader")
    if loader is None:
        raise ProgError("openFPGALoader is not installed: run `make setup`")
    cmd = [loader, "-b", name]
    if args.flash or board.name == "icebreaker":
        cmd.append("-f")
    cmd.append(str(image))
    print(" ".join(cmd), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    text = (proc.stdout + proc.stderr).strip()
    if proc.returncode:
        if any(sign in text for sign in NO_BOARD):
            reason = next(line for line in text.splitlines()
                          if any(sign in line for sign in NO_BOARD))
            raise ProgError(f"no {board.title} found on USB (openFPGALoader: {reason.strip()}); "
                            f"plug the board in (on Linux a udev rule for its FTDI chip lets "
                            f"you use it without root)")
        raise ProgError(f"openFPGALoader failed ({proc.returncode}):\n{text}")
    print(text)
    print(f"wrote {image} into the {board.title}")
    return 0


if __name__ == "__main__":
    run(main)
