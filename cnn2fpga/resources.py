"""Where the project's data folders are: a checkout's (beside pyproject.toml), or the copies
``pip install`` puts in the package (``cnn2fpga/constraints``, ``cnn2fpga/mcu``; see
pyproject.toml's package-dir)."""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def folder(name: str) -> Path:
    """``constraints`` or ``mcu``: the checkout's folder, else the installed copy."""
    if (HERE.parent / "pyproject.toml").is_file():
        return HERE.parent / name
    return HERE / name
