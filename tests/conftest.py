"""Shared fixtures: the datasets and the pretrained networks, loaded once per session."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# `make test` exports the make-variable names the scripts use in their errors (N=0 for --n 0);
# the tests run the scripts as a shell would, and set it themselves where they test it
os.environ.pop("CNN2FPGA_MAKE", None)

# Tests read MNIST from MNIST_DIR; beside a checkout the shared copy is the natural default.
_SHARED = ROOT.parent / "shared" / "data" / "mnist"
if not os.environ.get("MNIST_DIR") and _SHARED.is_dir():
    os.environ["MNIST_DIR"] = str(_SHARED)


@pytest.fixture(autouse=True)
def _group_kept(request):
    """Under ``--dist loadgroup`` a test with an ``xdist_group`` mark must carry its group in
    its node id, or the groups are scattered and every worker builds the shared fixtures
    (pytest 9.2 with pytest-xdist 3.8 does that silently: pyproject pins pytest below 9.2)."""
    node = request.node
    if (getattr(request.config.option, "loadgroup", False)
            and node.get_closest_marker("xdist_group") and "@" not in node.nodeid):
        pytest.fail("--dist loadgroup lost this test's xdist_group: this pytest/pytest-xdist "
                    "pair cannot group tests (see the pin in pyproject.toml)")


@pytest.fixture(scope="session")
def mnist():
    from model import data

    if not os.environ.get("MNIST_DIR"):
        pytest.skip("MNIST_DIR is not set and no network download is possible in tests")
    return data.load_mnist()


@pytest.fixture(scope="session")
def digits_board(tmp_path_factory):
    """name -> the folder of that board's top converted with digits_cnn inside, once per
    worker (tests that share it are in the board's xdist group)."""
    from hdl.board import boards
    from tests.hdl.helpers import build_top

    built = {}

    def get(name):
        if name not in built:
            folder = tmp_path_factory.mktemp(f"board_{name}")
            build_top(folder, boards.get(name), "digits_cnn")
            built[name] = folder
        return built[name]

    return get


@pytest.fixture(scope="session")
def digits():
    from model import data

    return data.load_digits()


@pytest.fixture(scope="session")
def nets():
    from model import presets, qnet

    return {name: qnet.from_tflite(p.tflite, name=name) for name, p in presets.PRESETS.items()}


# Property tests draw the same examples on every run, so a red CI is reproducible.
from hypothesis import settings  # noqa: E402

settings.register_profile("repeatable", derandomize=True, deadline=None)
settings.load_profile("repeatable")
