"""Shared command-line plumbing: one way to name a model and its data, and clean errors
instead of tracebacks for bad input."""
from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

MODEL_HELP = ("preset (mnist_cnn, digits_cnn), an int8 .tflite file, or a .keras file "
              "(converted to int8 with the dataset's training images)")


def add_model_args(ap, required: bool = True, model_help: str = MODEL_HELP) -> None:
    """--model, --dataset, --pixel-max and --mnist-dir, the same on every command."""
    ap.add_argument("--model", required=required, help=model_help)
    ap.add_argument("--dataset", metavar="mnist|digits|DIR|random[:SEED]",
                    help="the images for a model file: mnist, digits, a folder of IDX files "
                         "in MNIST's layout (train-images-idx3-ubyte, ...) of any image size, "
                         "a folder of numpy arrays (x_test.npy, optionally y_test.npy, "
                         "x_train.npy, y_train.npy: uint8 codes, or a vector model's float "
                         "inputs, quantized as TFLite quantizes its input), "
                         "or random[:SEED]: seeded random pixels over the whole input range, to "
                         "judge any model bit-exact without its data (accuracy reads n/a) "
                         "(default: the built-in dataset with the model's input shape)")
    ap.add_argument("--pixel-max", type=float, metavar="P",
                    help="the model's float input is pixel / P: 255 for pixel/255 training, 16 "
                         "for the 8x8 digits, 1 for raw pixels (e.g. Rescaling(1/255) inside). "
                         "Default: the preset's; for a file, read from its input quantization")
    ap.add_argument("--pixel-offset", type=float, metavar="B",
                    help="with --pixel-max: the model's float input is pixel / P + B (-1 with P "
                         "127.5 for keras.applications' [-1, 1] preprocess_input). Default 0; "
                         "for a file, read from its input quantization with P")
    ap.add_argument("--mnist-dir", help="folder with the MNIST IDX files (default $MNIST_DIR, "
                                        "else the Keras download)")
    add_verbose(ap)


def add_verbose(ap) -> None:
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="show the tools' whole output (TensorFlow's converter, MyHDL's "
                         "warnings, Yosys, nextpnr); their logs are in the build folder anyway")


def resolve_model(args, spec: str | None = None, hardware: bool = True):
    """The ``ModelSource`` the arguments name (``spec`` overrides ``args.model``); with
    ``hardware``, a model with a layer the hardware blocks lack is refused."""
    from model import source

    if getattr(args, "verbose", False):
        os.environ["CNN2FPGA_VERBOSE"] = "1"
    src = source.resolve(spec or args.model, dataset=getattr(args, "dataset", None),
                         mnist_dir=getattr(args, "mnist_dir", None),
                         pixel_max=getattr(args, "pixel_max", None), hardware=hardware,
                         pixel_offset=getattr(args, "pixel_offset", None))
    if src.input_from and src.input_offset:
        # never a silent guess: a mapping other than pixel / P, read from the file, is said
        print(f"{src.label}: input {src.describe_input()} ({src.input_from}; --pixel-max and "
              f"--pixel-offset set it)", file=sys.stderr, flush=True)
    return src


class CommandError(RuntimeError):
    """An expected failure of a command (a missing file, tool or board): ``run`` prints its
    message as one line and exits with status 2."""


class UsageError(ValueError):
    """A command line argparse refuses: said as one line, with the --help that explains."""


def _usage_error(self, message):
    raise UsageError(f"{message} (see {self.prog} --help)")


def speak_make(message: str) -> str:
    """``message`` in the words of the make command that ran the script: a flag that came from
    a make variable is named as that variable (``--n 0 must be ...`` -> ``N=0 must be ...``).
    The Makefile says which flags come from which variables in $CNN2FPGA_MAKE
    ("--n:N --sim:SIM ...")."""
    import re

    pairs = [item.split(":", 1) for item in os.environ.get("CNN2FPGA_MAKE", "").split()
             if ":" in item]
    for flag, var in pairs:
        # argparse: "argument --n: invalid int value: 'abc'"
        message = re.sub(rf"argument {re.escape(flag)}(?:/\S+)?: (.*?): '([^']*)'",
                         rf"{var}=\2: \1", message)
        message = re.sub(rf"argument {re.escape(flag)}(?:/\S+)?: ", f"{var}: ", message)
        # ours: "--n 0 must be at least 1"
        message = re.sub(rf"(^|[\s(]){re.escape(flag)} (\S+)", rf"\1{var}=\2", message)
    if pairs:
        message = re.sub(r"\(see \S+ --help\)", "(see make help)", message)
    return message


def run(main) -> None:
    """Call ``main()``; turn expected failures into one line on stderr and exit status 2
    (argparse's too: one line and the --help to read, not the whole usage)."""
    import argparse

    from model.convert import UnsupportedModelError
    from model.data import DataError
    from model.qnet import UnsupportedTFLiteError

    argparse.ArgumentParser.error = _usage_error
    errors = (DataError, UnsupportedModelError, UnsupportedTFLiteError, FileNotFoundError,
              ValueError, CommandError)
    try:
        from cosim.icarus import ToolMissing
        from hdl.flow.jobs import SchedulerError
        from hdl.flow.synth import SynthError
        errors += (SynthError, ToolMissing, SchedulerError)
    except ImportError:  # the HDL side is optional for the model-only commands
        pass
    try:
        code = main()
    except errors as exc:
        text = " ".join(str(exc).split("\n"))
        print(f"error: {speak_make(text)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
