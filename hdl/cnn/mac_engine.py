"""MAC engine shared by ``conv2d`` and ``dense``: a job buffer feeding a systolic array of PE
rows over jobs (``hdl.cnn.systolic_array``).

A *job* is one output position's input: ``Cg = C_in / SIMD`` packed words of ``T`` taps each
(conv2d: the k x k window from ``line_buffer``, T = k*k; dense: the input vector, T = 1). Input
``s``: one beat per word (T taps of SIMD lanes, tap t in bits [t*B + B-1 : t*B], B = 8*SIMD).
Output ``m``: the job's C_out int8 results, channel order, one per beat.

Dataflow, all in one clock domain::

    s -> job buffer (one RAM per lane, ``slots`` jobs) -> tap select -> systolic array
      (PE rows of L multiply-add stages) -> PE accumulators -> drain (PE -> 1, + bias)
      -> requant -> FIFO -> m

* Schedule (taps folded in time): for each output group g (PE channels), for each tap t, for
  each channel group cg, one word issues: lane s (L = SIMD lanes) of row p multiplies weight
  [g*PE+p, t, cg*SIMD+s] by input (t, cg*SIMD+s) - zp_in. All taps in one clock (``taps`` =
  T > 1, conv2d): a word is (g, cg) and its L = T x SIMD lanes are every tap of SIMD channels
  (lane t*SIMD + s). A kernel row a clock (``taps`` = kw, T/kw steps u): a word is (g, u, cg),
  lane i*SIMD + s takes tap u*kw + i, selected by the step as the folded lanes select theirs.
* The systolic array (``systolic_array``): lane k's operands of a word arrive k clocks after
  lane 0's, and row p's partial sum walks through the L stages, one multiply and one add a
  stage, so no clock holds more than one block-RAM read, one multiply or one add, whatever
  PE x L is. The skew costs no data registers: lane k has its own job-buffer RAM (8 bits wide)
  and its own weight ROM (``hdl.cnn.parallel.stage_weights``: the PE weights of lane k, one
  word per issued word), both read with the word's address delayed k clocks (the ROM one
  clock more, ``SELECT``, matching the input word's select register)::

        issue: address a ->[a]->[a]-> ... ->[a]      (one register a lane)
                   |        |    |           |
                lane 0   lane 1 lane 2 ... lane L-1  RAM and ROM reads
                   v        v    v           v
        row p:  [s0] --> [s1] --> [s2] ... --> [s(L-1)] -> accumulator (one add)

* Accumulators: ``Layer.acc_bits`` wide (the proven worst case, bias included), not 32.
* Drain: after a group's last word its PE sums move into a shift register and leave one per
  clock, the channel's int32 bias is added, and ``requant`` (per-channel ROMs, zero point,
  ReLU clamp) turns them into int8. The FIFO after the requantizer has a slot reserved (a
  credit) for every value before it enters the drain, so output stalls never lose a value.
  It is as deep as the drain can keep values in flight with the output always ready
  (``fifo_depth``: 4 for 2 values every 9 clocks, 18 for one every clock).
* Pacing: when a group has fewer words than the drain has values (PE > T*Cg), a group's first
  word issues ``group_cycles`` clocks after the previous group's, so its sums reach the drain
  just as it frees up; if the output stalls and a group finishes while the previous one is
  still draining, the whole array waits (``en``, the engine's clock enable: a register,
  computed a clock ahead from the values the done flag and the drain's credit take).
* Deep weight ROMs (deeper than a block RAM) read in banks a clock early (``hdl.lib.rom``),
  fed by the issue counter's next address, each bank into a fabric register, the bank
  multiplexer a clock later: the word reaches the array with the job-buffer word.
* Job buffer: ``slots`` jobs (``job_slots``: at least two, computing one while loading the
  next, and more when the last lane still reads a finished job for L-1 clocks longer than a
  job lasts). ``s.ready`` is high while the slot being filled is free; a slot frees when the
  last lane has read the job's last word. ``s.ready`` is a register, computed a clock ahead
  (``stop_n``), and each tap's job-buffer RAMs take their write enable from a copy of it;
  ``full_next`` gives that next value to the block before (``line_buffer``), for its copies.

Pipeline from the issue of a word (lane 0): RAM read (1: the block RAM's own read
register), fetch register in the fabric (2, ``FETCH``: so a block RAM's slow clock-to-out
does not share a clock with what follows), the tap select into the select register (3,
``SELECT``: the selected word then fans out to the rows in a clock of its own); the ROM reads
a clock later (2, its fabric register 3: ``FETCH`` again, so neither the read nor a deep
ROM's bank multiplexer shares a clock with what follows); operand registers: the selected
word - zp, the ROM's word (4), product (5), partial sums (6 .. L+5), accumulate (L+6), drain
(L+7..), bias (+2), requant (+14, ``requant.LATENCY``), FIFO (+1).

Cycle model: a group takes ``max(T * Cg, PE)`` clocks (``group_cycles``), a job ``C_out/PE``
groups, back to back while jobs are waiting; see ``Timing``, ``conv2d.cycles`` and
``dense.cycles``.

All taps in one clock: the drain is as wide as the array: a group's PE sums go in one clock to
PE bias ROMs and PE requantizers side by side, and leave as one beat of PE int8 lanes (``m`` is
8 x PE bits, lane p = output channel g*PE + p in bits [8p+7 : 8p]), one clock sooner than
through the shift register. Multipliers: ``PE * L`` (L = T x SIMD).
"""
from __future__ import annotations

from myhdl import ConcatSignal, Signal, always, always_comb, always_seq, block, intbv

from model import export
from model.qnet import Layer

from ..lib.counters import credit_counter, raster
from ..lib.fifo import fifo
from ..lib.ram import ram
from ..lib.rom import bank_words, rom
from ..lib.stream import Stream, check_stream, concat_lanes, wire
from . import requant as rq
from . import systolic_array as sa
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


def group_cycles(taps: int, cg: int, pe: int, per_clock: int = 1) -> int:
    """Clocks one output group takes: its T*Cg products per lane (T/``per_clock`` * Cg with
    ``per_clock`` taps a clock), or its PE-value drain (one clock when the drain is wide)."""
    if per_clock > 1:
        return taps // per_clock * cg
    return max(taps * cg, pe)


def job_slots(slots: int, words: int, groups: int, group: int, lanes: int, cg: int) -> int:
    """Job-buffer slots: at least ``slots``, and enough that back-to-back jobs never wait for
    one. A slot frees ``lanes - 1`` clocks after its job's last word issued (the last lane reads
    it then) and the next job then takes ``cg`` clocks to load, so a slot is busy for
    (groups - 1) * group + words + lanes - 1 + cg clocks of every ``groups * group``."""
    job = groups * group
    busy = (groups - 1) * group + words + lanes - 1 + cg
    return max(slots, -(-busy // job))


# clocks the operands spend in fabric registers between their memories (the job-buffer RAMs,
# the weight ROMs: block RAMs whose read register is the RAM's own, with a slow clock-to-out)
# and the tap select or the array's operand registers
FETCH = 1
# clocks from the tap select to the array's operand registers: the selected input word is
# registered once before it fans out to the rows' copies (spread over the DSP rows), so the
# select's multiplexers and the long route to a far row are in different clocks; the weight
# ROMs read one clock later to match (their address delayed one clock more)
SELECT = 1

# clocks from a group's last issued word to its first result on ``m`` with a one-lane array
# (fetch, select, operand, product, partial sum and accumulate stages, done flag, drain load
# and shift, bias, requant, FIFO); each more lane adds a clock. Checked against the RTL, value
# by value, in tests/hdl/cnn/test_conv2d.py and test_dense.py. The wide drain skips the shift
# register's clock.
OUT_DELAY = 8 + FETCH + SELECT + rq.LATENCY + 1
WIDE_OUT_DELAY = OUT_DELAY - 1


class Timing:
    """Timing model of the engine on one image (downstream always ready): jobs in order, each
    loaded into a free slot, started when loaded and the array is free. A job is ``groups``
    groups of ``words`` issued words on ``lanes`` lanes (``cg`` words loaded); a group's ``pe``
    results leave one per clock ``out_delay`` clocks after its last word issues, and the next
    group starts ``group_cycles`` after it started (the drain sets the pace when PE > words).
    ``out`` collects the clock each result leaves. With a ``wide`` drain the ``pe`` results of
    a group leave together, ``WIDE_OUT_DELAY`` clocks after its last word, and a group is
    ``words`` clocks. A slot frees the clock after the last lane read its job's last word."""

    def __init__(self, words: int, groups: int, pe: int, slots: int, wide: bool = False,
                 lanes: int = 1, cg: int = 1):
        self.words, self.groups, self.pe = words, groups, pe
        self.wide, self.lanes = wide, lanes
        self.group = words if wide else max(words, pe)
        self.job = groups * self.group
        self.slots = job_slots(slots, words, groups, self.group, lanes, cg)
        self.out_delay = (WIDE_OUT_DELAY if wide else OUT_DELAY) + lanes - 1
        self.start: list[int] = []
        self.out: list[int] = []
        self.record = True  # collect ``out`` (a steady-state model needs only ``start``)

    def free(self) -> int:
        """The first clock the next job's words can be taken (its slot is empty)."""
        p = len(self.start)
        if p < self.slots:
            return 0
        return (self.start[p - self.slots] + (self.groups - 1) * self.group + self.words
                + self.lanes - 1)

    def load(self, loaded: int) -> None:
        """The next job's last word was taken at clock ``loaded``."""
        begin = loaded + 1
        if self.start:
            begin = max(begin, self.start[-1] + self.job)
        self.start.append(begin)
        if not self.record:
            return
        for g in range(self.groups):
            first = begin + self.words - 1 + g * self.group + self.out_delay
            # a wide drain's PE results leave together, a serial drain's one a clock
            self.out.extend([first] * self.pe if self.wide else range(first, first + self.pe))


def _signed(bits: int) -> Signal:
    return Signal(intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1)))


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


def line_of(d, n: int) -> list:
    """[d, and ``n`` new signals like it]: the taps of a delay line (``delay_line``)."""
    return [d] + [Signal(d.val) for _ in range(n)]


@block
def flag(clk, rst, en, d, q):
    """q <= d while ``en``, cleared by reset: one clock of a flag line."""

    @always_seq(clk.posedge, reset=rst)
    def hold():
        if en:
            q.next = d

    return hold


@block
def delay_line(clk, en, taps, rst=None):
    """taps[i+1] <= taps[i] while ``en``: taps[i] is taps[0] delayed i clocks (with ``rst``:
    flags a reset clears; without: addresses and data, whose flags say when they count).
    ``en`` may be a list, one enable a register (copies of one enable: ``lane_enables``)."""
    ens = en if isinstance(en, list) else [en] * (len(taps) - 1)
    if rst is None:
        return [sa.delay(clk, e, a, b) for e, a, b in zip(ens, taps, taps[1:])]
    return [flag(clk, rst, e, a, b) for e, a, b in zip(ens, taps, taps[1:])]


@block
def enable_copy(clk, rst, done_n, free_next, en_dup):
    """en_dup <= not done_n or free_next: one lane's copy of the engine's clock enable ``en``
    (the same register, the same value every clock). Named ``_dup``: synthesis keeps the
    copies apart (hdl/flow/synth.py), so each drives one lane's registers, not the whole
    array's."""

    @always_seq(clk.posedge, reset=rst)
    def copy():
        en_dup.next = not done_n or free_next

    return copy


def lane_enables(ens: list, first: int, n: int) -> list:
    """The enables of ``n`` registers in a line whose register i belongs to lane
    ``first + i`` (clipped to the lanes there are)."""
    return [ens[min(max(first + i, 0), len(ens) - 1)] for i in range(n)]


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
def write_enable(clk, rst, s_valid, stop_n, we):
    """we = s.valid and not stop, from this group's own register copy of ``stop`` (set from
    ``stop_n``, its next value): the job-buffer RAMs of one tap. Named ``full_dup``: synthesis
    keeps such copies apart (hdl/flow/synth.py)."""
    full_dup = Signal(bool(0))

    @always_seq(clk.posedge, reset=rst)
    def copy():
        full_dup.next = stop_n

    @always_comb
    def enable():
        we.next = s_valid and not full_dup

    return copy, enable


@block
def mac_engine(clk, rst, s, m, *, layer: Layer, pe: int, simd: int, paths: dict, slots: int = 2,
               requant_dsp_bits: int = 0, taps: int = 1, full_next=None):
    outs, n_taps, ins = mac_shape(layer)
    Parallel(pe, simd, taps).check(layer)
    wide = taps > 1  # a row or all taps in one clock, and a drain as wide as the array
    steps = n_taps // taps  # clocks per channel group (the taps folded in time)
    groups, cg_n, b = outs // pe, ins // simd, 8 * simd
    words = groups * steps * cg_n  # weight ROM words
    n_lanes = taps * simd  # systolic stages a row
    per_group = steps * cg_n  # words a group issues
    group = group_cycles(n_taps, cg_n, pe, taps)
    check_stream("s", s, bits=n_taps * b, ready=True, signed=False)
    # a wide drain's beat: PE int8 lanes (one lane is an int8 stream)
    check_stream("m", m, bits=8 * pe if wide else 8, ready=True, signed=not wide or pe == 1)
    acc_bits = layer.acc_bits
    if acc_bits > 32:
        raise ValueError(f"layer {layer.name}: accumulator needs {acc_bits} bits, TFLite has 32")
    if slots < 2:
        raise ValueError(f"slots={slots} must be at least 2 (one computing, one loading)")
    if len(paths["weights"]) != n_lanes:
        raise ValueError(f"layer {layer.name}: {len(paths['weights'])} weight ROM files for "
                         f"{n_lanes} lanes (hdl.cnn.parallel.write_block_mems)")
    slots = job_slots(slots, per_group, groups, group, n_lanes, cg_n)

    # --- job buffer: one RAM per (tap, SIMD lane), `slots` slots x Cg words each -------------
    wslot = Signal(intbv(0, min=0, max=slots))
    rslot = Signal(intbv(0, min=0, max=slots))
    full = Signal(intbv(0)[slots:])
    wcg = Signal(intbv(0, min=0, max=max(2, cg_n)))
    # the slots lie end to end in every lane's RAM: the write address counts up and wraps,
    # the read address walks a job's words from its slot's base (registers, no multiply)
    waddr = Signal(intbv(0, min=0, max=slots * cg_n))
    raddr = Signal(intbv(0, min=0, max=slots * cg_n))
    rbase = Signal(intbv(0, min=0, max=slots * cg_n))
    wtake = Signal(bool(0))
    # ``s.ready`` is a register: ``stop`` (the slot being filled is full), set from ``stop_n``,
    # its value after this clock; ``full_next`` (when given) is ``stop_n``, for the block
    # before to keep copies of ``s.ready`` (``line_buffer``)
    stop = Signal(bool(0))
    stop_n = full_next if full_next is not None else Signal(bool(0))
    full_n = Signal(intbv(0)[slots:])
    wslot_n = Signal(intbv(0, min=0, max=slots))
    go = Signal(bool(0))
    waiting = Signal(bool(0))  # a job's word is ready to issue (``go`` is this and ``en``)
    en = Signal(bool(1))  # the clock enable (a register: ``enable`` below)
    # its copies, one a lane: lane k's memories, fetch, select and operand registers, and
    # stage k of every row (a 4 x 32 array holds over 5,000 enabled flip-flops)
    en_lane = [Signal(bool(1)) for _ in range(n_lanes)]
    done_n = Signal(bool(0))  # ``done`` after this clock
    free_next = Signal(bool(0))  # the drain free after this clock

    # --- issue counters (the next word to issue) and the pipeline flags ----------------------
    g = Signal(intbv(0, min=0, max=max(2, groups)))
    t = Signal(intbv(0, min=0, max=max(2, steps)))
    cg = Signal(intbv(0, min=0, max=max(2, cg_n)))
    wa = Signal(intbv(0, min=0, max=max(2, words)))
    v1, first1, last1 = (Signal(bool(0)) for _ in range(3))
    t1 = Signal(intbv(0, min=0, max=max(2, steps)))
    g1 = Signal(intbv(0, min=0, max=max(2, groups)))
    done = Signal(bool(0))
    g_done = Signal(intbv(0, min=0, max=max(2, groups)))

    # the enable copies, first: MyHDL names a signal after the first block that has it as a
    # port, so these are ``..._en_dup`` in the Verilog, as synthesis needs to keep them apart
    insts = [enable_copy(clk, rst, done_n, free_next, e) for e in en_lane]
    # and one per accumulator (its enable, ``en and valid``, reaches acc_bits flip-flops: one
    # net from ``en`` through one gate would reach them all, across the lanes' spread)
    en_acc = [Signal(bool(1)) for _ in range(pe)]
    insts += [enable_copy(clk, rst, done_n, free_next, e) for e in en_acc]

    # --- the skew: lane k reads with the word's RAM address (and tap) delayed k clocks, its
    # ROM address SELECT more (the select register is on the RAM's side only) ---------------
    # (a deep ROM reads its banks from ``ahead`` alone: its last lane needs no address more)
    deep = words > bank_words(8 * pe)
    raddrs = line_of(raddr, n_lanes - 1)
    was = line_of(wa, n_lanes - 1 + (0 if deep else SELECT))
    # register i of a line feeds lane i (the ROM addresses: lane i - SELECT)
    insts += [delay_line(clk, lane_enables(en_lane, 1, n_lanes - 1), raddrs),
              delay_line(clk, lane_enables(en_lane, 1 - SELECT, len(was) - 1), was)]
    # what each lane's ROM address holds after the next enabled clock (a deep ROM reads its
    # banks a clock early: hdl.lib.rom): the address a clock before it on the line
    wa_next = Signal(wa.val)
    aheads = ([wa_next] + was)[SELECT:SELECT + n_lanes]
    x_ops, w_ops = [], []
    # the job buffer's write enables: a tap's RAMs share one, from a register copy of ``stop``
    # (a 3x3 window of 16 channels writes 144 RAMs: one enable net would reach them all)
    if n_taps > 1:
        wtakes = [Signal(bool(0)) for _ in range(n_taps)]
        insts += [write_enable(clk, rst, s.valid, stop_n, we) for we in wtakes]
    else:
        wtakes = [wtake]
    for k in range(n_lanes):
        # the taps lane k reads, one a step: tap u*taps + k // simd at step u
        lane_t = [u * taps + k // simd for u in range(steps)]
        s_k = k % simd
        qs = []
        for tap in lane_t:
            byte = tap * simd + s_k
            q, q_f = Signal(intbv(0)[8:]), Signal(intbv(0)[8:])
            insts.append(ram(clk, wtakes[tap], waddr, s.data(8 * byte + 8, 8 * byte),
                             en_lane[k], raddrs[k], q, depth=slots * cg_n))
            insts.append(sa.delay(clk, en_lane[k], q, q_f))  # the fetch register
            qs.append(q_f)
        x_ops.append(qs)
        wk = Signal(intbv(0)[8 * pe:])
        addr = was[k + SELECT] if k + SELECT < len(was) else aheads[k]  # (deep: not read)
        insts.append(rom(clk, addr, wk, path=paths["weights"][k], signed=False, en=en_lane[k],
                         ahead=aheads[k], latency=1 + FETCH))
        w_ops.append(wk)
    x_sel = []
    if steps > 1:  # the tap each lane's RAM word is for: t1 delayed k (+ FETCH) more clocks
        tsel = line_of(t1, n_lanes - 1 + FETCH)
        insts.append(delay_line(clk, lane_enables(en_lane, 1 - FETCH, len(tsel) - 1), tsel))
        for k in range(n_lanes):
            xk = Signal(intbv(0)[8:])
            insts.append(mux_tree(tsel[k + FETCH], x_ops[k], xk))
            x_sel.append(xk)
    else:
        x_sel = [qs[0] for qs in x_ops]
    x_lane = [Signal(intbv(0)[8:]) for _ in range(n_lanes)]  # the select register
    insts += [sa.delay(clk, e, a, b) for e, a, b in zip(en_lane, x_sel, x_lane)]

    # --- the systolic array, then the accumulators ------------------------------------------
    sums = [_signed(sa.sum_bits(n_lanes - 1)) for _ in range(pe)]
    insts.append(sa.systolic_array(clk, en_lane, x_lane, w_ops, sums, pe=pe,
                                   zp_in=layer.zp_in))
    # the flags of the word whose sums are on `sums`: v1 (lane 0's operands) + the array
    depth_f = FETCH + SELECT + sa.latency(n_lanes)
    lines = [line_of(sig, depth_f) for sig in (v1, first1, last1, g1)]
    insts += [delay_line(clk, en, line, rst) for line in lines[:3]]
    insts.append(delay_line(clk, en, lines[3]))
    v_a, first_a, last_a, g_a = (line[-1] for line in lines)
    accs = []
    for p in range(pe):
        acc = _signed(acc_bits)
        insts.append(acc_lane(clk, rst, en_acc[p], v_a, first_a, sums[p], acc))
        accs.append(acc)

    load = Signal(bool(0))
    depth = fifo_depth(1 if wide else pe, group)
    credit = Signal(intbv(depth, min=0, max=depth + 1))
    pop = Signal(bool(0))
    if wide:
        drain_insts = wide_drain(clk, rst, load, done, accs, g_done, credit, free_next, pop, m,
                                 layer=layer, pe=pe, paths=paths, depth=depth,
                                 requant_dsp_bits=requant_dsp_bits)

        @always_comb
        def drain_state():
            pop.next = m.valid and m.ready
    else:
        drain_insts = serial_drain(clk, rst, load, accs, g_done, credit, free_next,
                                   pop, m, layer=layer, pe=pe, paths=paths, depth=depth,
                                   requant_dsp_bits=requant_dsp_bits)
        drain_state = []

    # --- slot release: the last lane reads a job's last word n_lanes - 1 clocks after it issued
    finish = Signal(bool(0))
    if n_lanes > 1:
        fins, rel_slots = line_of(finish, n_lanes - 1), line_of(rslot, n_lanes - 1)
        insts += [delay_line(clk, en, fins, rst), delay_line(clk, en, rel_slots)]
        release = Signal(bool(0))
        rel_slot = rel_slots[-1]
        last_fin = fins[-1]

        @always_comb
        def releasing():
            release.next = last_fin and en

        insts.append(releasing)
    else:
        release, rel_slot = finish, rslot

    @always_comb
    def buffer_ports():
        s.ready.next = not stop
        wtake.next = s.valid and s.ready

    # the job buffer's state after this clock: the slot being filled and which slots are full
    @always_comb
    def slot_ahead():
        if wtake and wcg == cg_n - 1:
            if wslot == slots - 1:
                wslot_n.next = 0
            else:
                wslot_n.next = wslot + 1
        else:
            wslot_n.next = wslot

    @always_comb
    def full_ahead():
        if wtake and wcg == cg_n - 1:
            if release:
                full_n.next = (full | (1 << wslot)) & ~(1 << rel_slot)
            else:
                full_n.next = full | (1 << wslot)
        elif release:
            full_n.next = full & ~(1 << rel_slot)
        else:
            full_n.next = full

    @always_comb
    def stop_ahead():
        stop_n.next = full_n[wslot_n]

    insts += [slot_ahead, full_ahead, stop_ahead]

    # --- pacing: a group's first word waits until `group` clocks after the previous group's
    paced = group > per_group
    ready_g = Signal(bool(1))
    if paced:
        pace = Signal(intbv(0, min=0, max=group))

        @always_comb
        def pace_gate():
            ready_g.next = pace == 0 or t != 0 or cg != 0

        @always_seq(clk.posedge, reset=rst)
        def pacing():
            if en:
                if go and t == 0 and cg == 0:
                    pace.next = group - 1
                elif pace != 0:
                    pace.next = pace - 1

        insts += [pace_gate, pacing]

        @always_comb
        def control():
            waiting.next = full[rslot] and ready_g
            go.next = en and full[rslot] and ready_g
    else:
        @always_comb
        def control():
            waiting.next = full[rslot]
            go.next = en and full[rslot]

    # the clock enable, ``not done or`` the drain free, is a register: computed a clock ahead from
    # the values ``done`` and the drain's registers take, so that the array's many enable pins
    # hang off a flip-flop, not off the drain's credit logic (which then also decided ``go``)

    @always_comb
    def done_ahead():
        if en:
            done_n.next = v_a and last_a
        else:
            done_n.next = done

    @always_seq(clk.posedge, reset=rst)
    def enable():
        en.next = not done_n or free_next

    # and so is ``load``, ``done and`` the drain free: it reaches every drain register, so its net
    # spreads over the lanes, and a gate on it put the drain's count logic a long route away
    @always_seq(clk.posedge, reset=rst)
    def load_ahead():
        load.next = done_n and free_next

    insts += [done_ahead, enable, load_ahead]

    @always_comb
    def last_word():
        finish.next = go and g == groups - 1 and t == steps - 1 and cg == cg_n - 1

    @always_seq(clk.posedge, reset=rst)
    def job_buffer():
        full.next = full_n
        wslot.next = wslot_n
        stop.next = stop_n
        if wtake:
            if waddr == slots * cg_n - 1:
                waddr.next = 0
            else:
                waddr.next = waddr + 1
            if wcg == cg_n - 1:
                wcg.next = 0
            else:
                wcg.next = wcg + 1
        if finish:
            if rslot == slots - 1:
                rslot.next = 0
                rbase.next = 0
                raddr.next = 0
            else:
                rslot.next = rslot + 1
                rbase.next = rbase + cg_n
                raddr.next = rbase + cg_n
        elif go:
            if cg == cg_n - 1:
                raddr.next = rbase
            else:
                raddr.next = raddr + 1

    # the next address leaves ``en`` out: it is used only on enabled clocks (``issue``; with
    # ``SELECT`` 0 also a deep ROM's early read, whose address pins ``en`` then reached through
    # the increment, 12.5 ns), and ``en`` drives every register of the engine: a long route
    @always_comb
    def next_word():  # (the last word's own test, not ``finish``: a glitch must stay in range)
        if waiting and g == groups - 1 and t == steps - 1 and cg == cg_n - 1:
            wa_next.next = 0
        elif waiting:
            wa_next.next = wa + 1
        else:
            wa_next.next = wa

    @always_seq(clk.posedge, reset=rst)
    def issue():
        if en:
            v1.next = go
            wa.next = wa_next
            if go:
                g1.next = g
                first1.next = t == 0 and cg == 0
                last1.next = t == steps - 1 and cg == cg_n - 1

    # the issue position: channel word fastest, then step, then output group (go has en in it)
    stages = [next_word, issue, raster(clk, rst, go, cg, t, g, groups=cg_n, w=steps, h=groups)]
    if steps > 1:  # with one step there is nothing to select (and t1 would be unused)
        @always_seq(clk.posedge, reset=rst)
        def tap_stage():
            if en and go:
                t1.next = t

        stages.append(tap_stage)

    @always_seq(clk.posedge, reset=rst)
    def done_flag():
        if en:
            done.next = v_a and last_a
            g_done.next = g_a

    return (insts, drain_insts, buffer_ports, drain_state, control, last_word, job_buffer,
            stages, done_flag)


@block
def serial_drain(clk, rst, load, accs, g_done, credit, free_next, pop, m, *,
                 layer: Layer, pe: int, paths: dict, depth: int, requant_dsp_bits: int):
    """The PE sums of a group (taken on ``load``) leave one per clock through a shift register,
    the bias ROM, one requantizer and the output FIFO; one credit per value. The drain takes
    a group on a clock when ``cnt == 0 or (cnt == 1 and credit != 0)``; ``free_next`` says it
    will on the next clock (from the values its registers take on this one)."""
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

    credits = credit_counter(clk, rst, shift, pop, credit)

    @always_comb
    def drain_state():
        pop.next = m.valid and m.ready

    # ``shift`` is ``cnt != 0 and credit != 0``, kept in a register from the values cnt and
    # credit take (as ``free_ahead`` below): the shift enables every drain lane's register, so
    # its fan-out hangs off one flip-flop, not off the credit's comparison
    counted, credited = Signal(bool(0)), Signal(bool(0))  # after this clock: cnt, credit != 0

    @always_comb
    def shift_next():
        if load:
            counted.next = True
        elif shift:
            counted.next = cnt != 1
        else:
            counted.next = cnt != 0
        if pop and not shift:
            credited.next = True
        elif shift and not pop:
            credited.next = credit != 1
        else:
            credited.next = credit != 0

    @always_seq(clk.posedge, reset=rst)
    def shift_ahead():
        shift.next = counted and credited

    # the drain free after this clock, ``cnt == 0 or (cnt == 1 and credit != 0)`` of the
    # values cnt (pe on load, one less on a shift) and credit (one less on a shift, one more
    # on a pop) take, from the registers and flags themselves: no subtraction and comparison
    # of a carry chain in the clock that sets the engine's enable and its copies (a credit
    # cannot fall to 0 from 0: a shift needs one)
    @always_comb
    def free_ahead():
        if load:
            free_next.next = pe == 1 and not (credit == 1 and shift and not pop) and not (
                credit == 0 and not pop)
        elif shift:
            free_next.next = cnt == 1 or (cnt == 2 and not (credit == 1 and not pop))
        else:
            free_next.next = cnt == 0 or (cnt == 1 and not (credit == 0 and not pop))

    # g * pe: a shift for a power of two, else by table (see wide_lane); a table where a
    # shift does costs the load clock a level of logic (the iCE40 build missed its clock)
    o_base = Signal(intbv(0, min=0, max=max(2, outs)))
    if pe & (pe - 1) == 0:
        @always_comb
        def base_of():
            o_base.next = g_done * pe
    else:
        table = group_bases(g_done, pe)

        @always_comb
        def base_of():
            o_base.next = table[int(g_done)]

    @always_seq(clk.posedge, reset=rst)
    def drain():
        if load:
            cnt.next = pe
            o.next = o_base
        elif shift:
            cnt.next = cnt - 1
            if o == outs - 1:
                o.next = 0
            else:
                o.next = o + 1
        vq1.next = shift
        if shift:
            q1.next = d0
            o1.next = o
        acc_s.valid.next = vq1
        if vq1:
            acc_s.data.next = q1 + bias_q
            acc_chan.next = o1

    return (lanes, brom, requantizer, out_fifo, credits, drain_state, shift_next, shift_ahead,
            free_ahead, base_of, drain)


@block
def requantizer_for(clk, rst, acc_s, acc_chan, q_s, *, layer: Layer, paths: dict,
                    requant_dsp_bits: int):
    """``requant`` with the layer's mode, widths, ROM files, zero point and clamp."""
    return rq.requant(clk, rst, acc_s, acc_chan, q_s, mode=layer.requant,
                      acc_bits=layer.acc_bits, mult_bits=export.mult_bits(layer),
                      mult_path=paths["multiplier"], shift_path=paths["shift"],
                      zp_out=layer.zp_out, act_min=layer.act_min, act_max=layer.act_max,
                      dsp_bits=requant_dsp_bits)


def group_bases(group, pe: int) -> tuple:
    """(g * pe for every value of ``group``): an output group's first channel, as a table the
    converter writes as a case statement, so a PE that is not a power of two costs LUTs, not
    a DSP multiplier beside the MAC lanes (Yosys maps a constant multiply to one)."""
    return tuple(g * pe for g in range(group.max))


@block
def wide_lane(clk, rst, load, acc, g_done, acc_s, acc_chan, *, pe: int, p: int, outs: int,
              bias_path):
    """Drain lane p of a wide drain: on ``load`` it takes its PE's sum; a clock later the sum
    plus the bias of channel g*PE + p goes to its requantizer with that channel."""
    chan = Signal(intbv(0, min=0, max=max(2, outs)))
    chan1 = Signal(intbv(0, min=0, max=max(2, outs)))
    vq1 = Signal(bool(0))
    q1 = _signed(len(acc))
    bias_q = _signed(32)
    brom = rom(clk, chan, bias_q, path=bias_path, signed=True)

    if pe & (pe - 1) == 0:  # a power of two: the product is a shift
        @always_comb
        def channel():
            chan.next = g_done * pe + p

        looked = []
    else:  # a table, not a constant multiply Yosys would give a DSP multiplier
        table = group_bases(g_done, pe)
        first = Signal(intbv(0, min=0, max=max(2, outs)))

        @always_comb
        def lookup():
            first.next = table[int(g_done)]

        @always_comb
        def channel():
            chan.next = first + p

        looked = [lookup]

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

    return brom, channel, stage, looked


@block
def lane_words(clk, rst, load, sums, group, m, *, layer: Layer, lanes: int, outs: int,
               paths: dict, depth: int, requant_dsp_bits: int):
    """``lanes`` sums taken on ``load`` (output group ``group`` of ``outs`` channels) go side
    by side through a bias ROM and a requantizer a lane into one FIFO word of ``lanes`` int8
    lanes (``m``, ``depth`` words deep): the drain of the wide MAC engines (``wide_drain``)
    and of the depthwise engines (``depthwise``)."""
    insts, q_lanes, q_valids = [], [], []
    for p in range(lanes):
        acc_s = Stream(layer.acc_bits, ready=False)
        acc_chan = Signal(intbv(0, min=0, max=max(2, outs)))
        q_s = Stream(8, ready=False)
        insts.append(wide_lane(clk, rst, load, sums[p], group, acc_s, acc_chan, pe=lanes, p=p,
                               outs=outs, bias_path=paths["bias"]))
        insts.append(requantizer_for(clk, rst, acc_s, acc_chan, q_s, layer=layer, paths=paths,
                                     requant_dsp_bits=requant_dsp_bits))
        q_lanes.append(q_s.data)
        q_valids.append(q_s.valid)
    word = Stream(8 * lanes, signed=lanes == 1, ready=False)
    insts.append(concat_lanes(q_lanes, word.data))
    insts.append(fifo(clk, rst, word, m, depth=depth))

    # the lanes keep step; the word is valid when all are (every requantizer's valid is read)
    valids = ConcatSignal(*q_valids) if lanes > 1 else q_valids[0]
    every = (1 << lanes) - 1

    @always_comb
    def word_valid():
        word.valid.next = valids == every

    return insts, word_valid


@block
def wide_drain(clk, rst, load, done, accs, g_done, credit, free_next, pop, m, *, layer: Layer,
               pe: int, paths: dict, depth: int, requant_dsp_bits: int):
    """The PE sums of a group (taken on ``load``) go side by side through PE bias ROMs and PE
    requantizers into one FIFO word of PE int8 lanes (``lane_words``); one credit per word.
    ``free_next``: a credit is left on the next clock."""
    words = lane_words(clk, rst, load, accs, g_done, m, layer=layer, lanes=pe,
                       outs=layer.c_out, paths=paths, depth=depth,
                       requant_dsp_bits=requant_dsp_bits)
    credits = credit_counter(clk, rst, load, pop, credit)
    # ``credit_n != 0`` for credit_n = credit - load + pop, with load = done and credit != 0,
    # written out so that no adder and no ``load`` (whose net reaches every lane's drain
    # register) lies between the credit register and the enable copies: a pop leaves a
    # credit; without one, credit 1 keeps its credit unless the group is done

    @always_comb
    def free_ahead():
        free_next.next = pop or (credit != 0 and not (credit == 1 and done))

    return words, credits, free_ahead
