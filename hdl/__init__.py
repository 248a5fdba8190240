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

MyHDL reads, tokenizes and dedents a generator function's source again for every instance it
converts and every generator it simulates; a network top has thousands of instances of a few
hundred functions. The source is read once per function here (``_source``): a third of the
mnist default's conversion time.

MyHDL's Verilog converter writes an integer constant of magnitude 2^30 or more as a sized
*unsigned* literal (``32'h7f57eb49``), and an unsigned operand makes a whole Verilog expression
unsigned. ``x < -K`` on a signed ``x`` then compared bit patterns, so in the converted requantizer
every positive accumulator above 2^30 saturated (a conv layer whose int32 bias the converter had
set to 2^30 gave wrong logits on every image, while MyHDL's own simulation was right). Constants
are written here as sized *signed* literals (``33'sh...``, one bit more than the magnitude, so
the sign bit is 0): in a signed expression they keep their value, and in an unsigned one they
are zero-extended exactly as before.

MyHDL keeps the names a generator reads and writes in Python sets of strings, whose order
follows the process's string hashes (a new random seed in every process). The converted
sensitivity lists and reset blocks followed that order, so two runs of ``make verilog`` wrote
two different files and nextpnr started from two different netlists. Those sets are
insertion-ordered here (``_Names``: the order the names appear in the source), so the Verilog
is the same byte for byte in every process (``hdl.flow.build`` also leaves out MyHDL's date
line).
"""
import __future__ as _future
import ast as _ast
import inspect as _inspect
import sys as _sys
import types as _types

from collections.abc import MutableSet as _MutableSet

from myhdl import _block, _instance, _simulator, _util, _visitors, _Waiter
from myhdl.conversion import _analyze, _toVerilog


def fresh_names():
    """Forget the block names MyHDL handed out: call before elaborating a new top."""
    for deco in _simulator._blocks:
        deco.calls = 0
    _block._name_set.clear()
    _block._inst_name_set.clear()


def _stack(context=1):
    """``inspect.stack()``'s records (frame, filename, lineno, function, None, None) without
    reading any source: index 0 is the caller, as in ``inspect.stack``. Only the innermost
    eight: MyHDL reads records 2 to 5 (under pytest the whole stack is a hundred frames)."""
    frame, records = _sys._getframe(1), []
    while frame is not None and len(records) < 8:
        code = frame.f_code
        records.append((frame, code.co_filename, frame.f_lineno, code.co_name, None, None))
        frame = frame.f_back
    return records


_fast = _types.SimpleNamespace(**{k: getattr(_inspect, k) for k in dir(_inspect)
                                  if not k.startswith("__")})
_fast.stack = _stack
_block.inspect = _fast
_instance.inspect = _fast


_sources = {}   # code object -> (source text, first line, source file)
_dedented = {}  # source text -> the same, dedented
_FUTURE_FLAGS = 0
for _name in _future.all_feature_names:
    _FUTURE_FLAGS |= getattr(_future, _name).compiler_flag


def _source(obj):
    """(source text, first line, file) of a function or a generator's frame, read once per
    code object: MyHDL reads, tokenizes and dedents a generator function's source again for
    every instance it converts (``_makeAST``) and every generator it simulates
    (``_inferWaiter``), thousands in a network top."""
    code = obj.__code__ if hasattr(obj, "__code__") else obj.f_code
    known = _sources.get(code)
    if known is None:
        lines, first = _inspect.getsourcelines(obj)
        known = _sources[code] = ("".join(lines), first, _inspect.getsourcefile(obj))
    return known


def _dedent(text):
    out = _dedented.get(text)
    if out is None:
        out = _dedented[text] = _util._dedent(text)
    return out


def _make_ast(f):
    """``myhdl._util._makeAST`` on the source read once. The tree is still parsed anew each
    time, because MyHDL's analysis writes into it."""
    text, first, sourcefile = _source(f)
    flags = _ast.PyCF_ONLY_AST | (f.__code__.co_flags & _FUTURE_FLAGS)
    tree = compile(_dedent(text), filename="<unknown>", mode="exec", flags=flags,
                   dont_inherit=True)
    tree.sourcefile = sourcefile
    tree.lineoffset = first - 1
    return tree


_instance._makeAST = _make_ast
_waiter_inspect = _types.SimpleNamespace(**vars(_fast))
_waiter_inspect.getsource = lambda frame: _source(frame)[0]
_Waiter.inspect = _waiter_inspect
_Waiter._dedent = _dedent


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


class _Names(_MutableSet):
    """A set that iterates in insertion order (a dict's keys), with the methods of ``set``
    that MyHDL's analysis uses."""

    def __init__(self, items=()):
        self._d = dict.fromkeys(items)

    def __contains__(self, item):
        return item in self._d

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)

    def __repr__(self):
        return f"{{{', '.join(map(repr, self._d))}}}" if self._d else "set()"

    def add(self, item):
        self._d[item] = None

    def discard(self, item):
        self._d.pop(item, None)

    def update(self, *others):
        for other in others:
            for item in other:
                self.add(item)

    def union(self, *others):
        new = _Names(self)
        new.update(*others)
        return new

    def intersection(self, *others):
        return _Names(x for x in self if all(x in o for o in others))

    def difference(self, *others):
        return _Names(x for x in self if not any(x in o for o in others))

    def issubset(self, other):
        return all(x in other for x in self)

    def copy(self):
        return _Names(self)


# the modules whose set() holds names: every set() they make is ordered
_visitors.set = _Names
_analyze.set = _Names
