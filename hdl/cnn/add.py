"""ADD of two int8 tensors of one shape (a residual join), bit-exact with ``golden.add``.

    a (lanes_a int8 a beat) -> pack to one value a beat -> FIFO (depth_a) --+
                                                                            +-> join -> sum ->
    b (lanes_b int8 a beat) -> pack to one value a beat -> FIFO (depth_b) --+
        requant (the output multiplier, + zp_out, the fused ReLU's clamp) -> output FIFO -> m

TFLite's int8 ADD scales each input, ``(x - zp) << 20``, by its own multiplier below one, adds
the two in int32, and requantizes the sum with the output multiplier. The first step depends
on the int8 value alone, so each input's scaled value comes from a 256-word ROM read by the
value's bit pattern (``tables``: no multiplier); the sum of the two words is a register, and
the output multiplier is the ``requant`` block in gemmlowp mode (one channel).

The two inputs come from a fork: one straight from it (the shortcut), the other through the
branch's layers. Each waits in a block-RAM FIFO until the other's value of the same index is
there; ``fifo_depths`` sizes them from the cycle model (the most values an input can be ahead
of the join), so the fork never waits on a full FIFO. The join takes a pair a clock when both
are there and an output credit is left (a register, as in ``depthwise``). A packer that cuts
wide beats into values queues the beats that come faster than a value a clock; ``pack_hold``
sizes that queue from the cycle model too (a few words: the queue is flip-flops, and a whole
tensor's words there took half the ECP5-85F's flip-flops in ResNet-8).

Cycle model: ``trace`` gives each output's clock from the two inputs' clocks (the values of a
wide beat share one): value i reaches the join ``ARRIVE`` clocks after it leaves its pack, a
value a clock, and the join takes pair i at the later of the two, a clock after pair i-1;
the result leaves ``OUT_DELAY`` clocks after its join. Checked clock for clock in
tests/hdl/cnn/test_add.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from myhdl import Signal, always, always_comb, always_seq, block, intbv

from model import export, golden
from model.qnet import ADD_LEFT_SHIFT, Layer, signed_bits

from ..lib.bram_fifo import bram_fifo
from ..lib.counters import credit_counter
from ..lib.fifo import fifo
from ..lib.rom import rom
from ..lib.stream import Stream, check_stream
from . import requant as rq
from .pack import delay as pack_delay
from .pack import pack

FIFO_DELAY = 3   # bram_fifo: from a value's write to its read on the other side
ARRIVE = FIFO_DELAY
OUT_DELAY = 2 + rq.LATENCY + 1  # the ROM words, their sum, requant, the output FIFO
MARGIN = 8       # FIFO words beyond the cycle model's most


def tables(layer: Layer) -> tuple[np.ndarray, np.ndarray]:
    """Each input's scaled value for the 256 int8 bit patterns 0..255 (the value -128..127
    as its byte): MultiplyByQuantizedMultiplier((x - zp) << 20, M, shift)."""
    x = np.arange(256, dtype=np.int64)
    x = np.where(x > 127, x - 256, x)
    m, e = layer.multiplier, layer.shift
    return tuple(golden.multiply_by_quantized_multiplier((x - zp) << ADD_LEFT_SHIFT, m[i], e[i])
                 for i, zp in ((0, layer.zp_in), (1, layer.zp_in2)))


def sum_bits(layer: Layer) -> int:
    """Signed bits of the two scaled values' sum (never beyond int32: each is below 2^28)."""
    a, b = tables(layer)
    return signed_bits(int(np.abs(a).max() + np.abs(b).max()))


def write_mems(layer: Layer, folder) -> dict:
    """The two input tables and the output multiplier and shift, into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    a, b = tables(layer)
    paths = {"table_a": folder / f"{layer.name}_table_a.mem",
             "table_b": folder / f"{layer.name}_table_b.mem",
             "multiplier": folder / f"{layer.name}_multiplier.mem",
             "shift": folder / f"{layer.name}_shift.mem"}
    export.write_mem(paths["table_a"], a, 32)
    export.write_mem(paths["table_b"], b, 32)
    export.write_mem(paths["multiplier"], layer.multiplier[2:], 32)
    export.write_mem(paths["shift"], layer.shift[2:], 8)
    return paths


def cycles(layer: Layer) -> int:
    """Clocks per image: one value a clock."""
    return int(np.prod(layer.in_shape))


def arrivals(t_in, lanes: int) -> list[int]:
    """The clock each value of an input reaches the join (a value a clock from its pack)."""
    out, prev = [], -1
    delay = pack_delay(lanes, 1)
    for t in t_in:
        prev = max(int(t) + delay, prev + 1)
        out.append(prev)
    return [t + ARRIVE for t in out]


def joins(ta, tb, lanes_a: int = 1, lanes_b: int = 1) -> list[int]:
    """The clock the join takes each pair."""
    out, prev = [], -1
    for a, b in zip(arrivals(ta, lanes_a), arrivals(tb, lanes_b)):
        prev = max(a, b, prev + 1)
        out.append(prev)
    return out


def trace(ta, tb, lanes_a: int = 1, lanes_b: int = 1) -> list[int]:
    """The clock each output value leaves (downstream always ready)."""
    return [t + OUT_DELAY for t in joins(ta, tb, lanes_a, lanes_b)]


def pack_hold(t_in, lanes: int) -> int:
    """Words the packer of an input of ``lanes`` values a beat must queue (besides the one it
    cuts) so it never stalls its sender in the cycle model: the most words that have come and
    not yet moved into the cutter, counted at each word's arrival, and 2 more. A word moves
    in two clocks before its first value leaves (``pack.split``); values leave a clock apart,
    so a burst of wide beats waits here."""
    if lanes == 1:
        return 1
    first = [t - ARRIVE for t in arrivals(t_in, lanes)][::lanes]  # each word's first value
    came = [int(t) for t in t_in][::lanes]
    most, j = 0, 0
    for k, t in enumerate(came):  # words before k not yet in the cutter when k comes
        while j < k and first[j] - 2 < t:
            j += 1
        most = max(most, k - j)
    return most + 2


def fifo_depths(ta, tb, lanes_a: int = 1, lanes_b: int = 1) -> tuple[int, int]:
    """Words each input's FIFO needs: the most values of it that have left their pack and
    not yet been joined, at any clock of the cycle model, and ``MARGIN`` more."""
    taken = joins(ta, tb, lanes_a, lanes_b)
    out = []
    for t, lanes in ((ta, lanes_a), (tb, lanes_b)):
        came = [x - ARRIVE for x in arrivals(t, lanes)]  # into the FIFO
        most, j = 0, 0
        for i, at in enumerate(taken):  # at the clock pair i is joined
            while j < len(came) and came[j] <= at:
                j += 1
            most = max(most, j - i)
        out.append(max(2, most + MARGIN))
    return out[0], out[1]


@block
def add(clk, rst, a, b, m, *, layer: Layer, paths: dict, lanes_a: int = 1, lanes_b: int = 1,
        depth_a: int = 2, depth_b: int = 2, hold_a: int = 1, hold_b: int = 1):
    if layer.kind != "add":
        raise ValueError(f"layer {layer.name} is a {layer.kind}, not add")
    check_stream("a", a, bits=8 * lanes_a, ready=True, signed=lanes_a == 1)
    check_stream("b", b, bits=8 * lanes_b, ready=True, signed=lanes_b == 1)
    check_stream("m", m, bits=8, ready=True, signed=True)
    insts = []
    heads = []
    for s, lanes, depth, hold in ((a, lanes_a, depth_a, hold_a), (b, lanes_b, depth_b, hold_b)):
        one = Stream(8, signed=False)
        queued = Stream(8, signed=False)
        insts.append(pack(clk, rst, s, one, simd=1, lanes=lanes, hold=hold))
        insts.append(bram_fifo(clk, rst, one, queued, depth=depth))
        heads.append(queued)
    qa, qb = heads
    bits = sum_bits(layer)
    wa, wb = Signal(intbv(0, min=-(1 << 31), max=1 << 31)), Signal(
        intbv(0, min=-(1 << 31), max=1 << 31))
    insts += [rom(clk, qa.data, wa, path=paths["table_a"], signed=True),
              rom(clk, qb.data, wb, path=paths["table_b"], signed=True)]
    take = Signal(bool(0))
    room = Signal(bool(1))
    v1 = Signal(bool(0))
    acc_s = Stream(bits, ready=False)
    chan = Signal(intbv(0, min=0, max=2))
    q_s = Stream(8, ready=False)
    insts.append(rq.requant(clk, rst, acc_s, chan, q_s, mode="gemmlowp", acc_bits=bits,
                            mult_bits=32, mult_path=paths["multiplier"],
                            shift_path=paths["shift"], zp_out=layer.zp_out,
                            act_min=layer.act_min, act_max=layer.act_max))
    depth = OUT_DELAY + 4
    insts.append(fifo(clk, rst, q_s, m, depth=depth))
    pop = Signal(bool(0))
    credit = Signal(intbv(depth, min=0, max=depth + 1))
    credit_n = Signal(intbv(depth, min=-1, max=depth + 2))
    insts.append(credit_counter(clk, rst, take, pop, credit, credit_n))

    @always_comb
    def handshake():
        take.next = qa.valid and qb.valid and room
        pop.next = m.valid and m.ready

    @always_comb
    def readies():
        qa.ready.next = take
        qb.ready.next = take
        chan.next = 0  # the requantizer's one channel

    @always_seq(clk.posedge, reset=rst)
    def stages():
        room.next = credit_n != 0
        v1.next = take
        acc_s.valid.next = v1
        if v1:
            acc_s.data.next = wa + wb

    return insts, handshake, readies, stages


@block
def fork(clk, rst, s, m1, m2):
    """One stream to two consumers, each with its own ready: a beat leaves ``s`` when both
    have taken it (``taken1``/``taken2`` remember which has, while the other has not)."""
    check_stream("m1", m1, bits=s.bits, ready=True, signed=s.signed)
    check_stream("m2", m2, bits=s.bits, ready=True, signed=s.signed)
    taken1, taken2 = Signal(bool(0)), Signal(bool(0))
    go1, go2 = Signal(bool(0)), Signal(bool(0))

    @always_comb
    def outputs():
        m1.valid.next = s.valid and not taken1
        m2.valid.next = s.valid and not taken2
        m1.data.next = s.data
        m2.data.next = s.data

    @always_comb
    def moves():
        go1.next = taken1 or m1.ready
        go2.next = taken2 or m2.ready

    @always_comb
    def ready():
        s.ready.next = go1 and go2

    @always_seq(clk.posedge, reset=rst)
    def flags():
        if s.valid and go1 and go2:
            taken1.next = 0
            taken2.next = 0
        else:
            if s.valid and m1.ready:
                taken1.next = 1
            if s.valid and m2.ready:
                taken2.next = 1

    return outputs, moves, ready, flags
