"""Streams: the one handshake every block keeps.

A stream is ``valid`` + ``data`` (+ ``ready`` where the receiver can stall). The rule:

* A beat transfers on a rising clock edge where ``valid`` (and ``ready``, if present) are high.
* The sender never waits for ``ready`` before raising ``valid`` (no combinational path from
  ``ready`` to ``valid``), and once ``valid`` is high it keeps ``valid`` and ``data`` unchanged
  until the beat transfers.
* The receiver may raise and drop ``ready`` on any cycle; ``valid`` may drop on any cycle
  between beats (input gaps).
* A stream without ``ready`` is always accepted: the receiver must take a beat on every cycle
  ``valid`` is high (used inside a block between pipeline stages that cannot stall).

::

    clk    _/~\\_/~\\_/~\\_/~\\_/~\\_/~\\_
    valid  __/~~~~~~~~~~~\\_____/~~~~\\__
    ready  ~~~~~~\\_____/~~~~~~~~~~~~~~~
    data   --<  A      ><B >----<C  >--     A waits one cycle for ready, B follows, C after a gap

MyHDL flattens a stream argument ``s`` into the ports ``s_valid``, ``s_data``, ``s_ready``.
Inputs of a block are named ``s_*``, outputs ``m_*``.

The generators ``source`` and ``sink`` are simulation-only testbench helpers that
drive and take streams with seeded random gaps and stalls.
"""
from __future__ import annotations

import random

from myhdl import ConcatSignal, Signal, always_comb, block, instance, intbv


class Stream:
    """valid/data(/ready) bundle; ``data`` is a signed intbv of ``bits`` bits (or unsigned)."""

    def __init__(self, bits: int, signed: bool = True, ready: bool = True):
        if bits < 1:
            raise ValueError(f"bits={bits} must be at least 1")
        self.bits = bits
        self.signed = signed
        self.valid = Signal(bool(0))
        if signed:
            self.data = Signal(intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1)))
        else:
            self.data = Signal(intbv(0)[bits:])
        if ready:
            self.ready = Signal(bool(0))

    @property
    def has_ready(self) -> bool:
        return hasattr(self, "ready")

    @classmethod
    def over(cls, valid, data, ready=None, signed: bool = True) -> "Stream":
        """A stream of existing signals (a top's ports, ``Axis``)."""
        self = cls.__new__(cls)
        self.bits, self.signed = len(data), signed
        self.valid, self.data = valid, data
        if ready is not None:
            self.ready = ready
        return self


class Axis:
    """AXI4-Stream names for a top's stream ports: ``tdata``, ``tvalid``, ``tready`` (and
    ``tlast`` with ``last``). MyHDL names a top's ports after its argument and these
    attributes (``s_axis_tdata``, ...), the names Vivado's IP integrator and Quartus'
    Platform Designer infer a stream interface from. ``stream`` is the same signals as a
    ``Stream`` (valid/data/ready) for the blocks."""

    def __init__(self, bits: int, last: bool = False):
        self.tdata = Signal(intbv(0)[bits:])
        self.tvalid = Signal(bool(0))
        self.tready = Signal(bool(0))
        if last:
            self.tlast = Signal(bool(0))

    @property
    def stream(self) -> Stream:
        return Stream.over(self.tvalid, self.tdata, self.tready, signed=False)


def check_stream(name: str, stream: Stream, bits: int | None = None, ready: bool | None = None,
                 signed: bool | None = None) -> None:
    """Elaboration check: raise ValueError if ``stream`` does not have the expected shape."""
    if bits is not None and stream.bits != bits:
        raise ValueError(f"{name}: data is {stream.bits} bits, the block needs {bits}")
    if ready is True and not stream.has_ready:
        raise ValueError(f"{name}: the block can stall here, the stream needs a ready signal")
    if signed is not None and stream.signed != signed:
        raise ValueError(f"{name}: data must be {'signed' if signed else 'unsigned'}")


# --- simulation-only helpers ------------------------------------------------------------

def source(clk, stream: Stream, values, gap: float = 0.0, seed: int = 0, rst=None):
    """Drive ``values`` onto ``stream`` keeping the handshake rule, idling with probability
    ``gap`` before each beat; with ``rst``, start only once reset is released."""
    rng = random.Random(seed)
    ready = getattr(stream, "ready", None)  # MyHDL resolves every attribute a generator names

    @instance
    def drive():
        stream.valid.next = 0
        if rst is not None:
            yield clk.posedge
            while rst == rst.active:
                yield clk.posedge
        for v in values:
            while rng.random() < gap:
                stream.valid.next = 0
                yield clk.posedge
            stream.valid.next = 1
            stream.data.next = int(v)
            yield clk.posedge
            while ready is not None and not ready:
                yield clk.posedge
        stream.valid.next = 0

    return drive


def sink(clk, stream: Stream, out: list, stall: float = 0.0, seed: int = 1, cycles: list | None = None):
    """Collect every beat of ``stream`` into ``out``; drop ``ready`` with probability ``stall``.
    ``cycles`` (a list) gets, per beat, the clock count at which it transferred."""
    rng = random.Random(seed)
    when = cycles if cycles is not None else []  # MyHDL resolves every name a generator uses
    ready = getattr(stream, "ready", None)

    @instance
    def take():
        count = 0
        while True:
            if ready is not None:
                ready.next = rng.random() >= stall
            yield clk.posedge
            count += 1
            if stream.valid and (ready is None or ready):
                out.append(int(stream.data))
                when.append(count)

    return take


@block
def wire(a, out):
    """out = a (combinational): a signal, or a ConcatSignal, joined to another signal."""
    @always_comb
    def assign():
        out.next = a

    return assign


@block
def lane_of(word, lane, *, i: int, bits: int = 8):
    """lane = the signed value in bits [bits*(i+1)-1 : bits*i] of ``word`` (lane i of a word of
    int8 lanes, or of wider signed lanes)."""
    @always_comb
    def pick():
        lane.next = word[bits * (i + 1):bits * i].signed()

    return pick


@block
def concat_lanes(lanes, word):
    """word = the int8 ``lanes`` side by side, lane i in bits [8i+7 : 8i] (one lane into a
    signed ``word``: the value itself)."""
    if len(lanes) == 1 and word.min is not None and word.min < 0:
        @always_comb
        def same():
            word.next = lanes[0]

        return same
    if len(lanes) == 1:  # the lane's bit pattern (an int8, or a wider signed value)
        n = len(word)

        @always_comb
        def one():
            word.next = lanes[0][n:]

        return one
    joined = ConcatSignal(*reversed(lanes))

    @always_comb
    def assign():
        word.next = joined

    return assign
