"""`make help` lists every command: each public make target and each script in scripts/."""
import re
import subprocess

from tests.conftest import ROOT

INTERNAL = {"tools", "venv", "vpi", "fpga-tools", "help"}
# scripts reached through a make target of another name
SCRIPT_TARGET = {"check_golden": "check", "export_weights": "export", "make_verilog": "verilog",
                 "mcu_report": "mcu-report"}


def test_help_lists_every_target_and_script():
    text = (ROOT / "Makefile").read_text()
    phony = set(re.search(r"^\.PHONY:(.*)$", text, re.M).group(1).split())
    targets = set(re.findall(r"^([a-z][\w-]*):", text, re.M))
    assert phony == targets, "every target is .PHONY and every .PHONY a target"
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    for target in sorted(targets - INTERNAL):
        assert f"make {target}" in out, f"make help does not list `make {target}`"
    for script in sorted(p.stem for p in (ROOT / "scripts").glob("*.py")
                         if not p.stem.startswith("_")):
        name = SCRIPT_TARGET.get(script, script)
        assert f"make {name}" in out or f"scripts/{script}.py" in out, \
            f"make help reaches no command for scripts/{script}.py"
