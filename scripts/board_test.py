#!/usr/bin/env python3
"""A checkout's shim for ``cnn2fpga board_test`` (the module: cnn2fpga/commands/board_test.py; --help)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnn2fpga.commands.board_test import *  # noqa: E402,F401,F403
from cnn2fpga.commands.board_test import __doc__, main  # noqa: E402,F401

if __name__ == "__main__":
    from cnn2fpga.commands._cli import run

    run(main)
