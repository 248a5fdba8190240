"""MAC engine shared by ``conv3x3`` and ``dense``: a PE x SIMD multiplier array over jobs.

A *job* is one output position's input: ``Cg = C_in / SIMD`` packed words of ``T`` taps each
(conv3x3: the 3x3 window from ``line_buffer``, T = 9; dense: the input vector, T = 1). Input
``s``: one beat per word (T taps of SIMD lanes, tap t in bits [t*B + B-1 : t*B], B = 8*SIMD).
Output ``m``: the job's C_out int8 results, channel order, one per beat.

Dataflow, all in one clock domain::

    s -> job buffer (T RAM banks, 2 slots) -> tap select -> PE x SIMD multipliers
      -> PE accumulators -> drain (PE -> 1, + bias) -> requant -> FIFO -> m

* Job buffer: two slots (ping-pong), so the next job loads while this one computes. ``s.ready``
  is high while the slot being filled is free.
* Schedule (taps folded in time): for each output group g (PE channels), for each tap t, for
  each channel group cg, one clock: lane (p, s) multiplies weight [g*PE+p, t, cg*SIMD+s] by
  input (t, cg*SIMD+s) - zp_in. The weight ROM word of that clock holds all PE x SIMD weights
  (``hdl.cnn.parallel.packed_weights``: address = the clock's index in the job). Multipliers:
  ``PE * SIMD``, each int8 x (int8 - zp), i.e. 8 x 9 bits signed: one DSP or one LUT multiplier.
* Accumulators: ``Layer.acc_bits`` wide (the proven worst case, bias included), not 32.
* Drain: after a group's last clock its PE sums move into a shift register and leave one per
  clock, the channel's int32 bias is added, and ``requant`` (per-channel ROMs, zero point,
  ReLU clamp) turns them into int8. The FIFO after the requantizer has a slot reserved (a
  credit) for every value before it enters the drain, so output stalls never lose a value.
  It is as deep as the drain can keep values in flight with the output always ready
  (``fifo_depth``: 4 for 2 values every 9 clocks, 18 for one every clock).
  If a group finishes while the previous one is still draining, the array waits.

Pipeline from the issue of a word: bank read (1), tap select + weight ROM read (2), products
(3), accumulate (4), drain (5..), bias (+2), requant (+14, ``requant.LATENCY``), FIFO (+1).

Cycle model: a group takes ``max(T * Cg, PE)`` clocks (``group_cycles``), a job ``C_out/PE``
groups, back to back while jobs are waiting; see ``conv3x3.cycles`` and ``dense.cycles``.

All taps in one clock (``taps`` = T > 1, conv3x3): the issue skips the tap loop; the word of
every bank feeds PE x T x SIMD multipliers (weight ROM word: ``parallel.packed_weights`` with
taps, lane (p*T + t)*SIMD + s), each PE's adder tree sums T x SIMD products, and a group takes
``Cg`` clocks. The drain is as wide as the array: a group's PE sums go in one clock to PE bias
ROMs and PE requantizers side by side, and leave as one beat of PE int8 lanes (``m`` is
8 x PE bits, lane p = output channel g*PE + p in bits [8p+7 : 8p]), one clock sooner than
through the shift register. Multipliers: ``PE * T * SIMD``.
"""
from __future__ import annotations

from myhdl import ConcatSignal, Signal, always, always_comb, always_seq, block, intbv

from model import export
from model.qnet import Layer

from ..lib.fifo import fifo
from ..lib.ram import ram
from ..lib.rom import rom
from ..lib.stream import Stream, check_stream, concat_lanes
from . import requant as rq
from .parallel import Parallel, mac_shape

# clocks a credit is away: from the drain's shift through bias (2), requant, the FIFO write
# and the pop until the credit counter has it back
CREDIT_ROUND_TRIP = rq.LATENCY + 4


def fifo_depth(pe: int, group: int) -> int:
    """The output FIFO's depth: the most values the drain shifts out in any
    ``CREDIT_ROUND_TRIP`` clocks when groups of ``pe`` values leave ``group`` clocks apart
    (``group_cycles``). With that many credits the drain never waits for one while the output
    is ready; a deeper FIFO costs memory for nothing."""
    r = CREDIT_ROUND_TRIP
    most = max(sum(max(0, min(a + r, k * group + pe) - max(a, k * group))
                   for k in range((a + r) // group + 1))
               for a in range(group))
    return max(2, most)
PROD_BITS = 17  # int8 x (int8 - zp): |product| <= 128 * 255 < 2^15, 17 bits with margin


def group_cycles(taps: int, cg: int, pe: int, per_clock: int = 1) -> int:
    """Clocks one output group takes: its T*Cg products per lane (T/``per_clock`` * Cg with
    ``per_clock`` taps a clock), or its PE-value drain (one clock when the drain is wide)."""
    if per_clock > 1:
        return taps // per_clock * cg
    return max(taps * cg, pe)


# clocks from a group's last issued word to its first result on ``m`` (operand, product and
# accumulate stages, done flag, drain load and shift, bias, requant, FIFO); checked against
# the RTL, value by value, in tests/hdl/cnn/test_conv3x3.py and test_dense.py. The wide drain
# skips the shift register's clock.
OUT_DELAY = 8 + rq.LATENCY
WIDE_OUT_DELAY = OUT_DELAY - 1


class Timing:
    """Timing model of the engine on one image (downstream always ready): jobs in order, each
    loaded into a free slot, started when loaded and the array is free. A job is ``groups``
    groups of ``words`` issued words; a group's ``pe`` results leave one per clock
    ``out_delay`` clocks after its last word issues, and the next group issues its last word
    ``group_cycles`` later (the drain sets the pace when PE > words). ``out`` collects the
    clock each result leaves. With a ``wide`` drain the ``pe`` results of a group leave
    together, ``WIDE_OUT_DELAY`` clocks after its last word, and a group is ``words``
    clocks."""

    def __init__(self, words: int, groups: int, pe: int, slots: int, wide: bool = False):
        self.words, self.groups, self.pe, self.slots = words, groups, pe, slots
        self.wide = wide
        self.group = words if wide else max(words, pe)
        self.job = groups * self.group
        self.out_delay = WIDE_OUT_DELAY if wide else OUT_DELAY
        self.start: list[int] = []
        self.out: list[int] = []

    def free(self) -> int:
        """The first clock the next job's words can be taken (its slot is empty)."""
        p = len(self.start)
        return self.start[p - self.slots] + self.job if p >= self.slots else 0

    def load(self, loaded: int) -> None:
        """The next job's last word was taken at clock ``loaded``."""
        begin = loaded + 1
        if self.start:
            begin = max(begin, self.start[-1] + self.job)
        self.start.append(begin)
        for g in range(self.groups):
            last = begin + self.words - 1 + g * self.group
            self.out.extend(last + self.out_delay + (0 if self.wide else j)
                            for j in range(self.pe))


def _signed(bits: int) -> Signal:
    return Signal(intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1)))


@block
def wire(a, out):
    @always_comb
    def assign():
        out.next = a

    return assign


@block
def mux2(sel, bit: int, a, b, out):
    """out = b if sel[bit] else a (combinational)."""

    @always_comb
    def pick():
        if sel[bit]:
            out.next = b
        else:
            out.next = a

    return pick


@block
def mux_tree(sel, inputs, out):
    """out = inputs[sel] through a binary tree of ``mux2`` (sel never exceeds the inputs)."""
    if len(inputs) == 1:
        return wire(inputs[0], out)
    bit = (len(inputs) - 1).bit_length() - 1
    half = 1 << bit
    lo, hi = Signal(intbv(0)[len(out):]), Signal(intbv(0)[len(out):])
    return (mux_tree(sel, inputs[:half], lo), mux_tree(sel, inputs[half:], hi),
            mux2(sel, bit, lo, hi, out))


@block
def add2(a, b, out):
    @always_comb
    def add():
        out.next = a + b

    return add


def sum_bits(inputs) -> int:
    return max(len(i) for i in inputs) + (len(inputs) - 1).bit_length()


@block
def adder_tree(inputs, out):
    """out = the sum of ``inputs`` (signed) through a balanced tree of ``add2``."""
    if len(inputs) == 1:
        return wire(inputs[0], out)
    half = len(inputs) // 2
    lo, hi = _signed(sum_bits(inputs[:half])), _signed(sum_bits(inputs[half:]))
    return adder_tree(inputs[:half], lo), adder_tree(inputs[half:], hi), add2(lo, hi, out)


@block
def mul_lane(clk, en, w, x, prod, *, zp_in: int):
    """prod <= int8(w) * (int8(x) - zp_in), registered: one multiplier."""

    @always(clk.posedge)
    def mul():
        if en:
            prod.next = w.signed() * (x.signed() - zp_in)

    return mul


@block
def acc_lane(clk, rst, en, valid, first, total, acc):
    """acc <= total (first word of a group) or acc + total."""

    @always_seq(clk.posedge, reset=rst)
    def accumulate():
        if en and valid:
            if first:
                acc.next = total
            else:
                acc.next = acc + total

    return accumulate


@block
def drain_lane(clk, load, shift, acc, nxt, d):
    """One place of the drain shift register: d <= acc on load, d <= nxt on shift."""

    @always(clk.posedge)
    def hold():
        if load:
            d.next = acc
        elif shift:
            d.next = nxt

    return hold


@block
def mac_engine(clk, rst, s, m, *, layer: Layer, pe: int, simd: int, paths: dict, slots: int = 2,
               requant_dsp_bits: int = 0, taps: int = 1):
    outs, n_taps, ins = mac_shape(layer)
    Parallel(pe, simd, taps).check(layer)
    wide = taps > 1  # all taps in one clock, and a drain as wide as the array
    steps = n_taps // taps  # clocks per channel group (the taps folded in time)
    groups, cg_n, b = outs // pe, ins // simd, 8 * simd
    words = groups * steps * cg_n
    check_stream("s", s, bits=n_taps * b, ready=True, signed=False)
    # a wide drain's beat: PE int8 lanes (one lane is an int8 stream)
    check_stream("m", m, bits=8 * pe if wide else 8, ready=True, signed=not wide or pe == 1)
    acc_bits = layer.acc_bits
    if acc_bits > 32:
        raise ValueError(f"layer {layer.name}: accumulator needs {acc_bits} bits, TFLite has 32")
    if slots < 2:
        raise ValueError(f"slots={slots} must be at least 2 (one computing, one loading)")

    # --- job buffer: T banks x `slots` slots x Cg words --------------------------------------
    wslot = Signal(intbv(0, min=0, max=slots))
    rslot = Signal(intbv(0, min=0, max=slots))
    full = Signal(intbv(0)[slots:])
    wcg = Signal(intbv(0, min=0, max=max(2, cg_n)))
    waddr = Signal(intbv(0, min=0, max=slots * cg_n))
    raddr = Signal(intbv(0, min=0, max=slots * cg_n))
    wtake = Signal(bool(0))
    go = Signal(bool(0))
    en = Signal(bool(0))
    tap_in = [s.data((t + 1) * b, t * b) for t in range(n_taps)]
    bank_q = [Signal(intbv(0)[b:]) for _ in range(n_taps)]
    banks = [ram(clk, wtake, waddr, tap_in[t], go, raddr, bank_q[t], depth=slots * cg_n)
             for t in range(n_taps)]

    # --- issue counters (the next word to issue) and the pipeline flags ----------------------
    g = Signal(intbv(0, min=0, max=max(2, groups)))
    t = Signal(intbv(0, min=0, max=max(2, steps)))
    cg = Signal(intbv(0, min=0, max=max(2, cg_n)))
    wa = Signal(intbv(0, min=0, max=max(2, words)))
    v1, v2, v3 = (Signal(bool(0)) for _ in range(3))
    first1, first2, first3 = (Signal(bool(0)) for _ in range(3))
    last1, last2, last3 = (Signal(bool(0)) for _ in range(3))
    t1 = Signal(intbv(0, min=0, max=max(2, steps)))
    g1, g2, g3, g4 = (Signal(intbv(0, min=0, max=max(2, groups))) for _ in range(4))
    wa1 = Signal(intbv(0, min=0, max=max(2, words)))
    done4 = Signal(bool(0))

    # --- operands: tap select (or every tap), weight ROM --------------------------------------
    xb = taps * b  # operand bits a clock
    x_sel = Signal(intbv(0)[xb:])
    sel_insts = concat_lanes(bank_q, x_sel) if wide else mux_tree(t1, bank_q, x_sel)
    xw2 = Signal(intbv(0)[xb:])
    wword = Signal(intbv(0)[8 * pe * taps * simd:])
    wrom = rom(clk, wa1, wword, path=paths["weights"], signed=False, en=en)
    x_lane = [xw2((i + 1) * 8, i * 8) for i in range(taps * simd)]

    # --- PE x T x SIMD multipliers, adder trees, accumulators, drain -------------------------
    lanes, accs = [], []
    for p in range(pe):
        prods = []
        for i in range(taps * simd):
            lane = p * taps * simd + i
            prod = _signed(PROD_BITS)
            lanes.append(mul_lane(clk, en, wword((lane + 1) * 8, lane * 8), x_lane[i], prod,
                                  zp_in=layer.zp_in))
            prods.append(prod)
        total = _signed(sum_bits(prods))
        acc = _signed(acc_bits)
        lanes += [adder_tree(prods, total), acc_lane(clk, rst, en, v3, first3, total, acc)]
        accs.append(acc)

    load = Signal(bool(0))
    drain_free = Signal(bool(0))
    depth = fifo_depth(1 if wide else pe, group_cycles(n_taps, cg_n, pe, taps))
    credit = Signal(intbv(depth, min=0, max=depth + 1))
    pop = Signal(bool(0))
    if wide:
        drain_insts = wide_drain(clk, rst, load, accs, g4, credit, pop, m, layer=layer, pe=pe,
                                 paths=paths, depth=depth, requant_dsp_bits=requant_dsp_bits)

        @always_comb
        def drain_state():
            drain_free.next = credit != 0
            pop.next = m.valid and m.ready
    else:
        drain_insts = serial_drain(clk, rst, load, accs, g4, credit, drain_free, pop, m,
                                   layer=layer, pe=pe, paths=paths, depth=depth,
                                   requant_dsp_bits=requant_dsp_bits)
        drain_state = []

    @always_comb
    def buffer_ports():
        s.ready.next = not full[wslot]
        wtake.next = s.valid and not full[wslot]
        waddr.next = wslot * cg_n + wcg
        raddr.next = rslot * cg_n + cg

    finish = Signal(bool(0))

    @always_comb
    def control():
        en.next = not done4 or drain_free
        load.next = done4 and drain_free
        go.next = (not done4 or drain_free) and full[rslot]

    @always_comb
    def last_word():
        finish.next = go and g == groups - 1 and t == steps - 1 and cg == cg_n - 1

    @always_seq(clk.posedge, reset=rst)
    def job_buffer():
        if wtake and wcg == cg_n - 1:
            if finish:
                full.next = (full | (1 << wslot)) & ~(1 << rslot)
            else:
                full.next = full | (1 << wslot)
        elif finish:
            full.next = full & ~(1 << rslot)
        if wtake:
            if wcg == cg_n - 1:
                wcg.next = 0
                if wslot == slots - 1:
                    wslot.next = 0
                else:
                    wslot.next = wslot + 1
            else:
                wcg.next = wcg + 1
        if finish:
            if rslot == slots - 1:
                rslot.next = 0
            else:
                rslot.next = rslot + 1

    @always_seq(clk.posedge, reset=rst)
    def issue():
        if en:
            v1.next = go
            if go:
                g1.next = g
                wa1.next = wa
                first1.next = t == 0 and cg == 0
                last1.next = t == steps - 1 and cg == cg_n - 1
                if cg == cg_n - 1:
                    cg.next = 0
                    if t == steps - 1:
                        t.next = 0
                        if g == groups - 1:
                            g.next = 0
                            wa.next = 0
                        else:
                            g.next = g + 1
                            wa.next = wa + 1
                    else:
                        t.next = t + 1
                        wa.next = wa + 1
                else:
                    cg.next = cg + 1
                    wa.next = wa + 1

    stages = [issue]
    if steps > 1:  # with one step there is nothing to select (and t1 would be unused)
        @always_seq(clk.posedge, reset=rst)
        def tap_stage():
            if en and go:
                t1.next = t

        stages.append(tap_stage)

    @always_seq(clk.posedge, reset=rst)
    def pipeline():
        if en:
            xw2.next = x_sel
            v2.next = v1
            first2.next = first1
            last2.next = last1
            g2.next = g1
            v3.next = v2
            first3.next = first2
            last3.next = last2
            g3.next = g2
            done4.next = v3 and last3
            g4.next = g3

    return (banks, sel_insts, wrom, lanes, drain_insts, buffer_ports, drain_state, control,
            last_word, job_buffer, stages, pipeline)


@block
def serial_drain(clk, rst, load, accs, g4, credit, drain_free, pop, m, *, layer: Layer, pe: int,
                 paths: dict, depth: int, requant_dsp_bits: int):
    """The PE sums of a group (taken on ``load``) leave one per clock through a shift register,
    the bias ROM, one requantizer and the output FIFO; one credit per value. ``drain_free``:
    the drain takes a group on this clock."""
    outs, acc_bits = layer.c_out, layer.acc_bits
    shift = Signal(bool(0))
    cnt = Signal(intbv(0, min=0, max=pe + 1))
    o = Signal(intbv(0, min=0, max=max(2, outs)))
    d = [_signed(acc_bits) for _ in range(pe)]
    d0 = d[0]
    lanes = [drain_lane(clk, load, shift, accs[p], d[p + 1] if p + 1 < pe else d[p], d[p])
             for p in range(pe)]
    q1 = _signed(acc_bits)
    o1 = Signal(intbv(0, min=0, max=max(2, outs)))
    vq1 = Signal(bool(0))
    bias_q = _signed(32)
    brom = rom(clk, o, bias_q, path=paths["bias"], signed=True)
    acc_s = Stream(acc_bits, ready=False)
    acc_chan = Signal(intbv(0, min=0, max=max(2, outs)))
    q_s = Stream(8, ready=False)
    requantizer = requantizer_for(clk, rst, acc_s, acc_chan, q_s, layer=layer, paths=paths,
                                  requant_dsp_bits=requant_dsp_bits)
    out_fifo = fifo(clk, rst, q_s, m, depth=depth)

    @always_comb
    def drain_state():
        drain_free.next = cnt == 0 or (cnt == 1 and credit != 0)
        shift.next = cnt != 0 and credit != 0
        pop.next = m.valid and m.ready

    @always_seq(clk.posedge, reset=rst)
    def drain():
        if load:
            cnt.next = pe
            o.next = g4 * pe
        elif shift:
            cnt.next = cnt - 1
            if o == outs - 1:
                o.next = 0
            else:
                o.next = o + 1
        if shift and not pop:
            credit.next = credit - 1
        elif pop and not shift:
            credit.next = credit + 1
        vq1.next = shift
        if shift:
            q1.next = d0
            o1.next = o
        acc_s.valid.next = vq1
        if vq1:
            acc_s.data.next = q1 + bias_q
            acc_chan.next = o1

    return lanes, brom, requantizer, out_fifo, drain_state, drain


@block
def requantizer_for(clk, rst, acc_s, acc_chan, q_s, *, layer: Layer, paths: dict,
                    requant_dsp_bits: int):
    """``requant`` with the layer's mode, widths, ROM files, zero point and clamp."""
    return rq.requant(clk, rst, acc_s, acc_chan, q_s, mode=layer.requant,
                      acc_bits=layer.acc_bits, mult_bits=export.mult_bits(layer),
                      mult_path=paths["multiplier"], shift_path=paths["shift"],
                      zp_out=layer.zp_out, act_min=layer.act_min, act_max=layer.act_max,
                      dsp_bits=requant_dsp_bits)


@block
def wide_lane(clk, rst, load, acc, g4, acc_s, acc_chan, *, pe: int, p: int, outs: int,
              bias_path):
    """Drain lane p of a wide drain: on ``load`` it takes its PE's sum; a clock later the sum
    plus the bias of channel g*PE + p goes to its requantizer with that channel."""
    chan = Signal(intbv(0, min=0, max=max(2, outs)))
    chan1 = Signal(intbv(0, min=0, max=max(2, outs)))
    vq1 = Signal(bool(0))
    q1 = _signed(len(acc))
    bias_q = _signed(32)
    brom = rom(clk, chan, bias_q, path=bias_path, signed=True)

    @always_comb
    def channel():
        chan.next = g4 * pe + p

    @always_seq(clk.posedge, reset=rst)
    def stage():
        vq1.next = load
        if load:
            q1.next = acc
            chan1.next = chan
        acc_s.valid.next = vq1
        if vq1:
            acc_s.data.next = q1 + bias_q
            acc_chan.next = chan1

    return brom, channel, stage


@block
def wide_drain(clk, rst, load, accs, g4, credit, pop, m, *, layer: Layer, pe: int, paths: dict,
               depth: int, requant_dsp_bits: int):
    """The PE sums of a group (taken on ``load``) go side by side through PE bias ROMs and PE
    requantizers into one FIFO word of PE int8 lanes; one credit per word."""
    outs, acc_bits = layer.c_out, layer.acc_bits
    insts, q_lanes, q_valids = [], [], []
    for p in range(pe):
        acc_s = Stream(acc_bits, ready=False)
        acc_chan = Signal(intbv(0, min=0, max=max(2, outs)))
        q_s = Stream(8, ready=False)
        insts.append(wide_lane(clk, rst, load, accs[p], g4, acc_s, acc_chan, pe=pe, p=p,
                               outs=outs, bias_path=paths["bias"]))
        insts.append(requantizer_for(clk, rst, acc_s, acc_chan, q_s, layer=layer, paths=paths,
                                     requant_dsp_bits=requant_dsp_bits))
        q_lanes.append(q_s.data)
        q_valids.append(q_s.valid)
    word = Stream(8 * pe, signed=pe == 1, ready=False)
    insts.append(concat_lanes(q_lanes, word.data))
    insts.append(fifo(clk, rst, word, m, depth=depth))

    # the lanes keep step; the word is valid when all are (every requantizer's valid is read)
    valids = ConcatSignal(*q_valids) if pe > 1 else q_valids[0]
    every = (1 << pe) - 1

    @always_comb
    def word_valid():
        word.valid.next = valids == every

    @always_seq(clk.posedge, reset=rst)
    def credits():
        if load and not pop:
            credit.next = credit - 1
        elif pop and not load:
            credit.next = credit + 1

    return insts, word_valid, credits
