"""A checkout's shim: the commands' shared plumbing is cnn2fpga/commands/_cli.py."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnn2fpga.commands._cli import *  # noqa: E402,F401,F403
from cnn2fpga.commands._cli import run  # noqa: E402,F401
