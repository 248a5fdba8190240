"""Hand-written MyHDL blocks and the tops that wire them.

Importing the package makes MyHDL elaboration fast in a big process. Every ``@block`` call and
every ``@always``/``@instance`` asks ``inspect.stack()`` for its caller's frame and name, and
``inspect.stack()`` also looks up each frame's source file and module (``inspect.getmodule``
walks ``sys.modules``). With TensorFlow imported that walk is long: converting the digits top
took 124 s under pytest against 7 s alone. MyHDL reads only the frame and the function name of
each record, so its two modules get a stack with those and no source lookups.

MyHDL also numbers each block's instances from a counter that only a conversion resets, and
keeps every block name it has handed out for the life of the process, making a repeated one
unique by appending ``_0``, ``_1``...: the fourth conversion of a top in one process named its
signals ``board_core0_0_1_2_3_...``, long enough for Verilator to hash them past the lint
waivers. ``fresh_names()`` starts a new top with the names of a fresh process.

MyHDL's Verilog converter writes an integer constant of magnitude 2^30 or more as a sized
*unsigned* literal (``32'h7f57eb49``), and an unsigned operand makes a whole Verilog expression
unsigned. ``x < -K`` on a signed ``x`` then compared bit patterns, so in the converted requantizer
every positive accumulator above 2^30 saturated (a conv layer whose int32 bias the converter had
set to 2^30 gave wrong logits on every image, while MyHDL's own simulation was right). Constants
are written here as sized *signed* literals (``33'sh...``, one bit more than the magnitude, so
the sign bit is 0): in a signed expression they keep their value, and in an unsigned one they
are zero-extended exactly as before.
"""
import inspect as _inspect
import sys as _sys
import types as _types

from myhdl import _block, _instance, _simulator
from myhdl.conversion import _toVerilog


def fresh_names():
    """Forget the block names MyHDL handed out: call before elaborating a new top."""
    for deco in _simulator._blocks:
        deco.calls = 0
    _block._name_set.clear()
    _block._inst_name_set.clear()


def _stack(context=1):
    """``inspect.stack()``'s records (frame, filename, lineno, function, None, None) without
    reading any source: index 0 is the caller, as in ``inspect.stack``."""
    frame, records = _sys._getframe(1), []
    while frame is not None:
        code = frame.f_code
        records.append((frame, code.co_filename, frame.f_lineno, code.co_name, None, None))
        frame = frame.f_back
    return records


_fast = _types.SimpleNamespace(**{k: getattr(_inspect, k) for k in dir(_inspect)
                                  if not k.startswith("__")})
_fast.stack = _stack
_block.inspect = _fast
_instance.inspect = _fast


def _int_repr(n, radix=""):
    """A Verilog literal for the integer ``n``: decimal (or unsized hex for ``radix="hex"``)
    below 2^30, a sized signed hex literal from 2^30 up (see the module docstring)."""
    if isinstance(n, _toVerilog.EnumItemType):
        return n._toVerilog()
    p = abs(int(n))
    if p >= 1 << 30:
        text = f"{p.bit_length() + 1}'sh{p:x}"
    elif radix == "hex":
        text = f"'h{p:x}"
    else:
        text = str(p)
    return f"(-{text})" if n < 0 else text


_toVerilog._intRepr = _int_repr
