"""`make prog`: the open-flow boards through openFPGALoader, with one clear line when there
is no image or no board; the vendor boards get their command printed."""
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def prog(*args, cwd=ROOT):
    return subprocess.run([sys.executable, str(ROOT / "scripts/prog.py"), *args], cwd=cwd,
                          capture_output=True, text=True)


@pytest.mark.parametrize("board,suffix", [("ulx3s", ".bit"), ("icebreaker", ".bin")])
def test_no_board_on_usb_is_said_plainly(tmp_path, board, suffix):
    """No board is attached here (nor in CI): openFPGALoader finds no FTDI device."""
    if shutil.which("openFPGALoader") is None:
        pytest.skip("openFPGALoader is not installed (make setup installs it)")
    image = tmp_path / f"image{suffix}"
    image.write_bytes(b"\xff" * 64)
    proc = prog("--board", board, "--image", str(image))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: no ") and "found on USB (openFPGALoader: " in proc.stderr
    assert "plug the board in" in proc.stderr


def test_missing_image_names_the_build_command(tmp_path):
    proc = prog("--board", "ulx3s", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == ("error: no image at build/ulx3s/synth/board_ulx3s.bit: build it with "
                           "`make bitstream BOARD=ulx3s`\n")


@pytest.mark.parametrize("board,tool", [("de10lite", "quartus_pgm"), ("basys3", "vivado")])
def test_vendor_boards_print_their_command(board, tool):
    proc = prog("--board", board)
    assert proc.returncode == 0 and tool in proc.stdout


def test_unknown_board():
    proc = prog("--board", "nexys")
    assert proc.returncode == 2 and "unknown board 'nexys'" in proc.stderr
