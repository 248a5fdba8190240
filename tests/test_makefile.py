"""`make help` lists every command: each public make target and each `cnn2fpga` command."""
import re
import subprocess

from tests.conftest import ROOT

INTERNAL = {"tools", "venv", "vpi", "fpga-tools", "help"}


def test_help_lists_every_target_and_script():
    text = (ROOT / "Makefile").read_text()
    phony = set(re.search(r"^\.PHONY:(.*)$", text, re.M).group(1).split())
    targets = set(re.findall(r"^([a-z][\w-]*):", text, re.M))
    assert phony == targets, "every target is .PHONY and every .PHONY a target"
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    for target in sorted(targets - INTERNAL):
        assert f"make {target}" in out, f"make help does not list `make {target}`"
    from cnn2fpga.cli import COMMANDS

    for name in COMMANDS:
        assert f"make {name}" in out or f"cnn2fpga {name} " in out, \
            f"make help reaches no command for cnn2fpga {name}"
    shims = {p.stem for p in (ROOT / "scripts").glob("*.py") if not p.stem.startswith("_")}
    assert shims == {module for module, _, _ in COMMANDS.values()}, \
        "every command has a scripts/ shim and every shim a command"
