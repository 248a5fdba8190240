"""The `cnn2fpga` command: one entry point with a subcommand for each task.

    cnn2fpga check --model mnist_cnn --n 500
    cnn2fpga verilog --model digits_cnn --out dv
    cnn2fpga cosim --model digits_cnn --n 50
    cnn2fpga <command> --help

Each subcommand is the module of the same task in ``cnn2fpga.commands`` (what ``make`` and the
``scripts/`` shims in a checkout run), with the same options and errors: a bad argument or
input is one line and exit status 2. Outputs go under ./build of the current folder (or
``--out``).
"""
from __future__ import annotations

import importlib
import sys

# subcommand: (module in cnn2fpga.commands, fixed arguments, what it does)
COMMANDS = {
    "train": ("train", [], "train a preset (or fine-tune it on camera recordings)"),
    "check": ("check_golden", [], "golden model against LiteRT's reference kernels, every "
                                  "tensor; accuracies"),
    "export": ("export_weights", [], "ROM .mem files, network.json and the C headers"),
    "verilog": ("make_verilog", [], "the accelerator (or a board top) as Verilog"),
    "cosim": ("cosim", [], "test images through the Verilog, every value against golden"),
    "sweep": ("sweep", [], "configs from the smallest to the fastest, measured (+ fmax)"),
    "synth": ("synth", [], "Yosys (and nextpnr): resources, fmax, critical path"),
    "bitstream": ("synth", ["--bitstream"], "synth, then the packer: a .bin or .bit"),
    "prog": ("prog", [], "write a built image into a board (openFPGALoader)"),
    "bench": ("bench", [], "every performance figure of the presets"),
    "mlperf": ("mlperf", [], "the MLPerf Tiny reference shapes, bit-exact, cycles (+ fmax)"),
    "mcu-report": ("mcu_report", [], "the C library's flash, RAM and instructions"),
    "capture": ("capture_dataset", [], "record a board's camera frames into a dataset"),
    "board-test": ("board_test", [], "test images over the UART, bit-exact on the board "
                                     "(or --sim)"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:{width}s}  {what}" for name, (_, _, what) in COMMANDS.items())
    return (f"usage: cnn2fpga <command> [options]   (cnn2fpga <command> --help)\n\n"
            f"commands:\n{rows}\n")


def main(argv: list[str] | None = None) -> None:
    from cnn2fpga.commands._cli import run

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage(), end="")
        sys.exit(0)
    if argv[0] in ("-V", "--version"):
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"cnn2fpga {version('cnn2fpga')}")
        except PackageNotFoundError:
            print("cnn2fpga (not installed: a checkout)")
        sys.exit(0)
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        import difflib

        near = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        print(f"error: cnn2fpga {name}: no such command{hint} (cnn2fpga --help lists them)",
              file=sys.stderr)
        sys.exit(2)
    module, fixed, _ = COMMANDS[name]
    mod = importlib.import_module(f"cnn2fpga.commands.{module}")
    sys.argv = [f"cnn2fpga {name}", *fixed, *rest]
    run(mod.main)


if __name__ == "__main__":
    main()
