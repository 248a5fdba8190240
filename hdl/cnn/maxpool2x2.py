"""2x2 max-pool, stride 2, streaming, on int8 values in NHWC raster order.

Input ``s``: one int8 value per beat, channel fastest, then column, then row (H x W x C).
Output ``m``: the pooled (H//2) x (W//2) x C tensor in the same order. An odd last row or
column is read and dropped, as TFLite's VALID pooling does (26 -> 13, 11 -> 5).

With ``lanes`` > 1 (after a convolution whose drain is as wide as its PE array) every beat
carries that many consecutive channels of one pixel, lane i in bits [8i+7 : 8i], in and out;
the maxima are taken lane by lane and an image takes ``H * W * C / lanes`` beats.

Memories: ``hbuf`` (C values: the even column's value per channel until its odd partner
arrives; read a beat ahead into a register, ``hold``) and one row buffer of (W//2) x C values
(the horizontal maxima of an even row until the odd row below arrives), written and read once
per beat. The row buffer is read two beats ahead: the address of the beat after next (``col2``,
kept in registers that step with the beats, so no counter arithmetic sits before the RAM) into
the block RAM's own read register (``pre``), then into a fabric register (``above``) a beat
later, so neither the RAM read nor the comparisons share a clock with the other (on the ECP5 a
DP16KD read without its output register takes 5.8 ns). A value is read R = W x C words (one
row) after it was written, so two beats ahead is safe when R >= 3; the one geometry with R < 3
(W = 2 and one channel word) reads one beat ahead, straight into ``above``.

The vertical maximum (three comparisons and a choice, on every lane) is taken a clock after
the beat: the beat's value and its ``hold`` and ``above`` partners are registered where the pool
is placed (``d1``, ``h1``, ``a1``), so neither the route from the block before (a convolution's
drain FIFO) nor the comparisons share a clock with the other (the mnist_cnn default's seed-3
limit at 2d15e59: conv1's drain FIFO into pool1's comparisons, 3.4 ns of logic and 7.2 of
routing). The horizontal maximum that an even row writes to the row buffer is taken from the
same registers, and written a clock after its beat (``we1`` at ``col1``; the digits_cnn
default's seed-3 limit at dba2089: conv1's drain FIFO through the comparison into the LUT RAM's
write data). The late write is read two beats ahead only R - 2 beats after its own, so it needs
R >= 4; a row of fewer words (W x C < 4) writes in its beat's clock, from ``s.data`` and
``hold``.

Handshake (hdl/lib/stream.py): the results go into a three-place FIFO of registers (``r0``,
``r1``, ``r2``, written in turn from the comparisons; ``m.data`` is the one to read next).
``cnt`` counts the places taken or promised (a beat that completes a window promises one as it
is taken) and ``s.ready`` is ``cnt != 3``, kept in a flip-flop of its own; ``full`` counts the places written,
and ``m.valid`` is ``full != 0``. A place promised at clock t is written at t + 1, read at t + 2
at the earliest and counted free at t + 3, so with ``m`` always ready three places let a window
complete on every clock (as the C channel words of an odd row's odd column do).
``m.ready`` is never in the same clock as ``s.ready``: a chain of blocks whose readies pass
straight through (a convolution's input packer, this pool, the drain before it) was one
combinational path from the packer's count to the drain's credit and the engine's enable (the
mnist_cnn default's limit at 061c0ae, seed 2: 8.2 of 10.2 ns routing). With ``m`` always ready
the FIFO holds at most one result.

Throughput and latency: one input beat per clock with no gaps or stalls, so an image takes
``cycles(H, W, C, lanes) = H * W * C / lanes`` clocks; each output leaves two clocks after the
input that completes it.
"""
from __future__ import annotations

from myhdl import Signal, always, always_comb, always_seq, block, intbv

from ..lib import memories as memories_
from ..lib.stream import check_stream, concat_lanes, lane_of


def cycles(h: int, w: int, c: int, lanes: int = 1) -> int:
    """Clocks per image with no input gaps or output stalls (one beat per clock)."""
    return h * w * c // lanes


def trace(h: int, w: int, c: int, t_in) -> list[int]:
    """Timing model of one image: ``t_in[i]`` is the clock input value i is taken (the values
    of one beat share it); each output leaves two clocks after the input value that completes
    its 2x2 window (its comparisons a clock after the beat, the result register the next)."""
    return [t_in[((2 * py + 1) * w + 2 * px + 1) * c + ch] + 2
            for py in range(h // 2) for px in range(w // 2) for ch in range(c)]


def check_params(h: int, w: int, c: int, lanes: int = 1) -> None:
    if h < 2:
        raise ValueError(f"H={h} must be at least 2")
    if w < 2:
        raise ValueError(f"W={w} must be at least 2")
    if c < 1:
        raise ValueError(f"C={c} must be at least 1")
    if lanes < 1 or c % lanes:
        raise ValueError(f"lanes={lanes} must divide C={c}")


@block
def max2(data, hold, hmax):
    """hmax = max(hold, data), int8."""
    @always_comb
    def maximum():
        if hold > data:
            hmax.next = hold
        else:
            hmax.next = data

    return maximum


@block
def max3(data, hold, above, vmax):
    """vmax = max(above, hold, data), int8."""
    @always_comb
    def maximum():
        # three comparisons side by side, not two in a row (the slowest path of the iCE40
        # build when they were chained)
        if above > hold and above > data:
            vmax.next = above
        elif hold > data:
            vmax.next = hold
        else:
            vmax.next = data

    return maximum


@block
def lane_maxima(data, hold, above, out, *, lanes: int):
    """``out`` = max(hold, data) lane by lane on words of ``lanes`` int8 values (``above``
    None), or max(above, hold, data)."""
    if lanes == 1:
        return max2(data, hold, out) if above is None else max3(data, hold, above, out)

    def int8():
        return Signal(intbv(0, min=-128, max=128))

    insts, outs = [], []
    for i in range(lanes):
        d, ho, o = int8(), int8(), int8()
        insts += [lane_of(data, d, i=i), lane_of(hold, ho, i=i)]
        ab = None
        if above is not None:
            ab = int8()
            insts.append(lane_of(above, ab, i=i))
        insts.append(max2(d, ho, o) if ab is None else max3(d, ho, ab, o))
        outs.append(o)
    insts.append(concat_lanes(outs, out))
    return insts


@block
def next_col(col, x, ch, col_n, *, w: int, c: int):
    """col_n = the row buffer address (x // 2) * C + ch of the beat after the one at
    (col, x, ch); channel fastest, then column."""
    wo = w // 2

    @always_comb
    def step():
        if ch == c - 1:
            if x == w - 1:
                col_n.next = 0
            elif x % 2 == 1 and x + 1 < 2 * wo:
                col_n.next = col + 1  # the next output column's first channel
            else:
                col_n.next = col - (c - 1)  # this output column again
        else:
            col_n.next = col + 1

    return step


def step_counters(col: int, x: int, ch: int, w: int, c: int) -> tuple[int, int, int]:
    """(col, x, ch) of the beat after one at (col, x, ch): ``next_col`` and ``step_pixel`` in
    Python (the registers' reset values)."""
    if ch == c - 1:
        if x == w - 1:
            return 0, 0, 0
        if x % 2 == 1 and x + 1 < 2 * (w // 2):
            return col + 1, x + 1, 0
        return col - (c - 1), x + 1, 0
    return col + 1, x, ch + 1


@block
def step_pixel(x, ch, x_n, ch_n, *, w: int, c: int):
    """(x_n, ch_n) = the column and channel word of the beat after the one at (x, ch)."""
    @always_comb
    def step():
        if ch == c - 1:
            ch_n.next = 0
            if x == w - 1:
                x_n.next = 0
            else:
                x_n.next = x + 1
        else:
            ch_n.next = ch + 1
            x_n.next = x

    return step


@block
def maxpool2x2(clk, rst, s, m, *, h: int, w: int, c: int, lanes: int = 1):
    check_params(h, w, c, lanes)
    one = lanes == 1
    check_stream("s", s, bits=8 * lanes, ready=True, signed=one)
    check_stream("m", m, bits=8 * lanes, ready=True, signed=one)
    wo = w // 2
    c = c // lanes  # channel words a pixel

    def word():
        return Signal(intbv(0, min=-128, max=128)) if one else Signal(intbv(0)[8 * lanes:])

    hbuf = [word() for _ in range(c)]
    rowbuf = [word() for _ in range(wo * c)]
    memories_.note("ram", wo * c, 8 * lanes)

    x = Signal(intbv(0, min=0, max=w))
    y = Signal(intbv(0, min=0, max=h))
    ch = Signal(intbv(0, min=0, max=c))
    col = Signal(intbv(0, min=0, max=max(2, wo * c)))      # (x // 2) * C + ch, a counter
    take = Signal(bool(0))
    hmax, vmax, hold, above = word(), word(), word(), word()
    d1, h1, a1 = word(), word(), word()  # the beat and its partners, a clock later
    late = w * c >= 4  # the row buffer written a clock after the beat
    maxima = [lane_maxima(d1 if late else s.data, h1 if late else hold, None, hmax,
                          lanes=lanes),
              lane_maxima(d1, h1, a1, vmax, lanes=lanes)]

    r0, r1, r2 = word(), word(), word()  # the results not yet read, in turn
    wptr = Signal(intbv(0, min=0, max=3))
    rptr = Signal(intbv(0, min=0, max=3))
    cnt = Signal(intbv(0, min=0, max=4))   # places written or promised
    rdy = Signal(bool(1))                  # cnt != 3
    full = Signal(intbv(0, min=0, max=4))  # places written
    out_beat = Signal(bool(0))  # this beat completes a 2x2 window
    out1 = Signal(bool(0))      # the beat a clock ago did: its result is written now
    pop = Signal(bool(0))

    @always_comb
    def handshake():
        s.ready.next = rdy
        take.next = s.valid and rdy
        out_beat.next = (s.valid and rdy and x % 2 == 1 and y % 2 == 1
                         and x < 2 * wo and y < 2 * (h // 2))

    @always_comb
    def head():
        m.valid.next = full != 0
        pop.next = full != 0 and m.ready
        if rptr == 0:
            m.data.next = r0
        elif rptr == 1:
            m.data.next = r1
        else:
            m.data.next = r2

    col_n = Signal(intbv(0, min=0, max=max(2, wo * c)))   # col after this beat
    x_n = Signal(intbv(0, min=0, max=w))                   # x and ch after this beat
    ch_n = Signal(intbv(0, min=0, max=c))
    cols = [next_col(col, x, ch, col_n, w=w, c=c), step_pixel(x, ch, x_n, ch_n, w=w, c=c)]

    # hold: the even column's value of the next beat's channel word, read from hbuf a beat
    # ahead into a register, so the comparisons start at a flip-flop (not at the LUT RAM's
    # read). A beat's partner was written C beats before it: with one channel word a pixel
    # that is this beat's own write, taken straight from s.
    @always(clk.posedge)
    def read():
        if take:
            if c == 1 and x % 2 == 0:
                hold.next = s.data
            else:
                hold.next = hbuf[ch_n]

    # odd rows only read the row buffer and a value is read a row (w * c beats) after it was
    # written, so a read two beats ahead sees every write when the row has 3 words or more
    if w * c >= 3:
        pre = word()
        # the position two beats ahead, kept in registers (beat 2's at reset: row 0 has 3
        # words or more), so the read address comes straight from a register and one
        # counter step feeds it
        col2_0, x2_0, ch2_0 = step_counters(*step_counters(0, 0, 0, w, c), w, c)
        x2 = Signal(intbv(x2_0, min=0, max=w))
        ch2 = Signal(intbv(ch2_0, min=0, max=c))
        col2 = Signal(intbv(col2_0, min=0, max=max(2, wo * c)))
        x3 = Signal(intbv(0, min=0, max=w))
        ch3 = Signal(intbv(0, min=0, max=c))
        col3 = Signal(intbv(0, min=0, max=max(2, wo * c)))
        cols += [next_col(col2, x2, ch2, col3, w=w, c=c),
                 step_pixel(x2, ch2, x3, ch3, w=w, c=c)]

        @always_seq(clk.posedge, reset=rst)
        def ahead():
            if take:
                x2.next = x3
                ch2.next = ch3
                col2.next = col3

        cols.append(ahead)

        @always(clk.posedge)
        def read_above():
            if take:
                pre.next = rowbuf[col2]
                above.next = pre
    else:
        @always(clk.posedge)
        def read_above():
            if take:
                above.next = rowbuf[col_n]

    we1 = Signal(bool(0))  # the beat a clock ago writes the row buffer, at col1
    col1 = Signal(intbv(0, min=0, max=max(2, wo * c)))

    @always(clk.posedge)
    def memories():
        if take and x < 2 * wo and y < 2 * (h // 2) and x % 2 == 0:
            hbuf[ch].next = s.data

    @always(clk.posedge)
    def row_now():
        if take and x < 2 * wo and y < 2 * (h // 2) and x % 2 == 1 and y % 2 == 0:
            rowbuf[col].next = hmax

    @always_seq(clk.posedge, reset=rst)
    def row_marks():
        we1.next = take and x < 2 * wo and y < 2 * (h // 2) and x % 2 == 1 and y % 2 == 0
        if take:
            col1.next = col

    @always(clk.posedge)
    def row_late():
        if we1:
            rowbuf[col1].next = hmax

    rows = [row_marks, row_late] if late else row_now

    @always(clk.posedge)
    def results():
        if take:
            d1.next = s.data
            h1.next = hold
            a1.next = above
        if out1:
            if wptr == 0:
                r0.next = vmax
            elif wptr == 1:
                r1.next = vmax
            else:
                r2.next = vmax

    @always_seq(clk.posedge, reset=rst)
    def places():
        out1.next = out_beat
        if out1:
            wptr.next = 0 if wptr == 2 else wptr + 1
        if pop:
            rptr.next = 0 if rptr == 2 else rptr + 1
        # rdy = cnt != 3 of the count after this clock, a flip-flop of its own
        if out_beat and not pop:
            cnt.next = cnt + 1
            rdy.next = cnt != 2
        elif pop and not out_beat:
            cnt.next = cnt - 1
            rdy.next = True
        else:
            rdy.next = cnt != 3
        if out1 and not pop:
            full.next = full + 1
        elif pop and not out1:
            full.next = full - 1

    @always_seq(clk.posedge, reset=rst)
    def control():
        if take:
            # counters: channel fastest, then column, then row
            col.next = col_n
            ch.next = ch_n
            x.next = x_n
            if ch == c - 1 and x == w - 1:
                if y == h - 1:
                    y.next = 0
                else:
                    y.next = y + 1

    return (handshake, cols, read, read_above, maxima, memories, rows, head, results, places,
            control)
