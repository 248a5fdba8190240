"""Shared command-line plumbing: clean errors instead of tracebacks for bad input."""
from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def run(main) -> None:
    """Call ``main()``; turn expected failures into one line on stderr and exit status 2."""
    from model.convert import UnsupportedModelError
    from model.data import DataError
    from model.qnet import UnsupportedTFLiteError

    errors = (DataError, UnsupportedModelError, UnsupportedTFLiteError, FileNotFoundError,
              ValueError)
    try:
        from hdl.synth import SynthError
        from cosim.icarus import ToolMissing
        errors += (SynthError, ToolMissing)
    except ImportError:  # the HDL side is optional for the model-only commands
        pass
    try:
        code = main()
    except errors as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
