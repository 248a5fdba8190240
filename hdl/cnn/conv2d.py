"""k x k convolution (k = 1, 3, 5, 7), stride 1 or 2, 'valid' or 'same' padding, bit-exact
with ``golden.conv2d``.

    s (int8, NHWC raster) -> pack (SIMD channels per word) -> run-ahead FIFO -> pad2d
      ('same': the zero point around the image, on the stream) -> skid_buffer (the
      handshake's register: the line buffer's ready stops there) -> line_buffer (k x k
      windows, every one or every other one in both directions; its enables from copies of
      the engine's ready, a register the engine computes a clock ahead) -> mac_engine (T = k*k taps
      folded in time; a systolic array of PE rows of SIMD multiply-add stages; bias,
      requant, ReLU)
      -> m (int8, H' x W' x C_out in raster order)

Parameters: the ``Layer`` (weights OHWI, bias, per-channel multiplier/shift, zero points, the
fused ReLU clamp, ``kernel``/``stride``/``pad``), ``pe`` output channels in parallel (divides
C_out), ``simd`` input channels in parallel (divides C_in), and the ROM files
(``hdl.cnn.parallel.write_block_mems``). The k*k taps are folded: each clock handles one tap of
SIMD channels for PE outputs, so the multiplier count is exactly ``PE * SIMD`` and any count
from 1 up is possible; the window is held in the engine's job buffer while the PE groups reuse
it.

All taps in one clock (``taps = k*k``): the engine multiplies the whole window of SIMD
channels for PE outputs at once (``PE * k*k * SIMD`` multipliers), a group takes ``C_in/SIMD``
clocks, and the PE results of a group leave together as one beat of PE int8 lanes (the next
block takes ``lanes = PE``). Input ``s`` may bring ``lanes`` channels a beat the same way (a
wide layer before); the packer regroups them into SIMD-channel words. When it splits them
(SIMD < lanes) it queues up to one input row's beats (W * C_in/lanes), so the bursts a
pooling layer sends on its odd rows never wait and the cycle model stays exact.

A kernel row a clock (``taps = kw``, between the two): ``PE * kw * SIMD`` multipliers, a group
takes ``kh * C_in/SIMD`` clocks, the results leave as with all taps. It fills the factor-of-9
gap between the folded and all-taps counts of a 3x3 (PE x SIMD x 3: ResNet-8's 16-channel 3x3
layers at 24 multipliers, where 18 and 32 were the nearest).

'Same' padding: ``pad2d`` sends the padded image, TFLite's split (the extra row or column at
the end), every padded position the input zero point in each lane, so the engine's x - zp_in
is 0 there and the sums are TFLite's. A stride-2 layer's line buffer sends only the windows
on the stride grid; the rows and columns between still pass through it, one word a clock.

Run-ahead: a ``bram_fifo`` of ``run_ahead`` words (from an image's last window to the next
image's first: (k-1) rows and k pixels of the padded image, and what is left below and right
of the last window) sits between the packer and the padding, so the layer before keeps
delivering while this one computes (and while the pads before an image's first word wait for
it), and the next image's first window is already queued when the engine needs it.

Cycle model: ``trace`` follows every word of one or more images into the line buffer (one a
clock; a window word waits for a free job slot of the engine, ``mac_engine.Timing``) and gives
the clock each output leaves; ``cycles``, the clocks between back-to-back images, is the
trace's spacing in the steady state with the input at one beat a clock. Both are checked
against the RTL clock for clock (tests/hdl/cnn/test_conv2d.py).

Resources: one DSP48E1 (one MULT18X18D on the ECP5) per MAC lane; the requantizer's product is
LUTs (``hdl.lib.softmul``); the weight ROM, the row buffers and the run-ahead FIFO go to block
RAM once they are big enough, the job-buffer banks and window columns to LUT RAM. Measured per
layer by ``cnn2fpga synth --model mnist_cnn --layer conv2 --pe 8 --simd 4``
(docs/hardware.md has the table).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from myhdl import Signal, block

from model.qnet import Layer

from ..lib.bram_fifo import bram_fifo
from ..lib.skid_buffer import skid_buffer
from ..lib.stream import Stream, check_stream
from .line_buffer import check_params, line_buffer, out_size
from .mac_engine import Timing, mac_engine
from .pack import check_lanes, pack
from .pack import delay as pack_delay
from .pad2d import pad2d, padded
from .parallel import Parallel, mac_shape

# images the steady-state cycle model runs, and the last spacings it averages: a few layers
# (wide beats gathered into a word, all taps at once) settle into spacings that alternate with
# a period of 2 or 3 images (measured over every geometry tests/hdl/cnn/test_conv2d.py makes)
STEADY_IMAGES = 9
STEADY_PERIOD = 6


def geometry(layer: Layer) -> tuple[tuple, tuple, tuple]:
    """((kh, kw), (sh, sw), (top, bottom, left, right)) of a convolution layer."""
    return (tuple(int(v) for v in layer.kernel_hw), tuple(int(v) for v in layer.stride_hw),
            tuple(int(p) for p in layer.pad))


def run_ahead(layer: Layer, simd: int) -> int:
    """Depth in words of the FIFO before the line buffer: the words between an image's last
    window and the next image's first window, and one more."""
    h, w, c_in = layer.in_shape
    (kh, kw), (sh, sw), pad = geometry(layer)
    hp, wp = padded(h, w, pad)
    last = ((kh - 1 + (out_size(hp, kh, sh) - 1) * sh) * wp + kw - 1
            + (out_size(wp, kw, sw) - 1) * sw)
    return (hp * wp - last + (kh - 1) * wp + kw) * (c_in // simd)


def trace(layer: Layer, pe: int, simd: int, t_in, taps: int = 1, lanes: int = 1) -> list[int]:
    """Timing model of one or more images back to back: ``t_in[i]`` is the clock input value
    i is taken; returns the clock each output value leaves (the values of a wide beat share
    it; downstream always ready).

    A word reaches the line buffer ``ahead`` clocks after its input: packer 1 (2 when it splits
    wide beats), FIFO 3, the padding's register 1, the skid buffer 1, and 2 more to a window
    beat. The line buffer takes one word a clock; a window's last word waits for a free job
    slot. The pads before an image's first word come with that word; the other pads come one
    a clock behind the words before them. The engine as in ``mac_engine.Timing``."""
    k, st, pad = geometry(layer)
    return _trace(tuple(layer.in_shape), layer.c_out, k, st, pad, pe, simd, t_in, taps,
                  lanes).out


def _trace(in_shape, c_out, k, st, pad, pe, simd, t_in, taps, lanes, record=True) -> Timing:
    """The engine's timing after the images of ``t_in`` (its ``out``: each output's clock,
    collected when ``record``)."""
    h, w, c_in = in_shape
    (kh, kw), (sh, sw) = k, st
    top, _, left, _ = pad
    hp, wp = padded(h, w, pad)
    cg_n = c_in // simd
    engine = Timing(kh * kw // taps * cg_n, c_out // pe, pe, 2, wide=taps > 1,
                    lanes=taps * simd, cg=cg_n)
    engine.record = record
    ahead = 6 + pack_delay(lanes, simd) + (1 if any(pad) else 0)
    # a pixel's words go one a clock: word j at max(avail_j, previous word + 1, free slot), so
    # its last word at max over j of (avail_j + Cg-1-j), previous pixel's last + Cg, free +
    # Cg-1. ``reach[p]``: the first term for real pixel p.
    avail = np.asarray(t_in, np.int64).reshape(-1, cg_n, simd)[:, :, -1] + ahead
    reach = (avail + np.arange(cg_n - 1, -1, -1)).max(axis=1).tolist()
    rows = [(top <= y < top + h, y >= kh - 1 and (y - kh + 1) % sh == 0) for y in range(hp)]
    cols = [(left <= x < left + w, x >= kw - 1 and (x - kw + 1) % sw == 0) for x in range(wp)]
    last_word = cg_n - 1
    prev = -1  # the clock of the last word taken
    pixel = 0
    for image in range(len(reach) // (h * w)):
        # the pads before an image's first word come with it
        first = int(avail[image * h * w, 0]) + last_word
        for y, (real_row, grid_y) in enumerate(rows):
            for x, (real_col, grid_x) in enumerate(cols):
                if real_row and real_col:
                    beat = max(reach[pixel], prev + cg_n)
                    pixel += 1
                elif y < top or (y == top and x < left):
                    beat = max(first, prev + cg_n)
                else:
                    beat = prev + cg_n
                if grid_y and grid_x:
                    beat = max(beat, engine.free() + last_word)
                    engine.load(beat)
                prev = beat
    return engine


@lru_cache(maxsize=4096)
def _steady(in_shape, c_out, k, st, pad, pe, simd, taps, lanes) -> int | float:
    h, w, c_in = in_shape
    t_in = np.arange(STEADY_IMAGES * h * w * c_in) // lanes
    start = _trace(in_shape, c_out, k, st, pad, pe, simd, t_in, taps, lanes, False).start
    # every job's outputs leave at the same offsets from its start: the spacing of the
    # images' last outputs is that of their last jobs' starts
    per = len(start) // STEADY_IMAGES
    last = start[per - 1::per]
    spacing = [b - a for a, b in zip(last[-1 - STEADY_PERIOD:], last[-STEADY_PERIOD:])]
    if len(set(spacing)) == 1:
        return spacing[0]
    return sum(spacing) / STEADY_PERIOD


def cycles(layer: Layer, pe: int, simd: int, taps: int = 1, lanes: int = 1) -> int | float:
    """Clocks between back-to-back images with no input gaps or output stalls (``lanes``:
    channels a beat of the input brings): the spacing of ``trace``'s images once it is steady,
    the input one beat a clock (the mean, when it alternates between images). No closed form: a layer whose engine waits on some rows and
    whose line buffer waits on others (the rows above the first window, a stride-2 layer's
    rows between windows) spends the sum of both, not the larger."""
    Parallel(pe, simd, taps).check(layer)
    k, st, pad = geometry(layer)
    return _steady(tuple(layer.in_shape), layer.c_out, k, st, pad, pe, simd, taps, lanes)


@block
def front(clk, rst, s, windows, full_next, *, layer: Layer, simd: int, lanes: int):
    """The window side of a convolution, shared by ``conv2d`` and ``depthwise``: s (``lanes``
    int8 channels a beat) -> pack -> run-ahead FIFO -> pad2d ('same') -> skid_buffer ->
    line_buffer -> ``windows`` (k x k taps of SIMD channels a beat); ``full_next``: the
    consumer's next not-ready, for the line buffer's enable copies. Returns the instances."""
    h, w, c_in = layer.in_shape
    k, st, pad = geometry(layer)
    hp, wp = padded(h, w, pad)
    check_params(hp, wp, c_in, simd, k, st)
    check_lanes(lanes, simd, f"layer {layer.name}: ")
    check_stream("s", s, bits=8 * lanes, ready=True, signed=lanes == 1)
    packed = Stream(8 * simd, signed=False)
    queued = Stream(8 * simd, signed=False)
    # if it splits wide beats: room for one input row's, so the bursts a pooling layer sends
    # on its odd rows never stall it (the cycle model takes every beat when it comes)
    insts = [pack(clk, rst, s, packed, simd=simd, lanes=lanes, hold=w * c_in // lanes),
             bram_fifo(clk, rst, packed, queued, depth=run_ahead(layer, simd))]
    if any(pad):
        # after the FIFO: while the pads before an image's first word wait for it, the FIFO
        # keeps taking the layer before's words
        framed = Stream(8 * simd, signed=False)
        zp_word = sum((layer.zp_in & 0xFF) << (8 * i) for i in range(simd))
        insts.append(pad2d(clk, rst, queued, framed, h=h, w=w, cg=c_in // simd, pad=pad,
                           value=zp_word))
        queued = framed
    # the line buffer's ready (from the engine) ends at the skid buffer's registers instead of
    # reaching the FIFO's block RAM
    held = Stream(8 * simd, signed=False)
    insts.append(skid_buffer(clk, rst, queued, held))
    insts.append(line_buffer(clk, rst, held, windows, h=hp, w=wp, c=c_in, simd=simd, k=k,
                             stride=st, full_next=full_next))
    return insts


@block
def conv2d(clk, rst, s, m, *, layer: Layer, pe: int = 1, simd: int = 1, paths: dict,
           requant_dsp_bits: int = 0, taps: int = 1, lanes: int = 1):
    if layer.kind != "conv2d":
        raise ValueError(f"layer {layer.name} is a {layer.kind}, not conv2d")
    k, _, _ = geometry(layer)
    Parallel(pe, simd, taps).check(layer)
    windows = Stream(8 * k[0] * k[1] * simd, signed=False)
    # the engine's next ready: the line buffer keeps copies of it for its enables
    full_next = Signal(bool(0))
    return (front(clk, rst, s, windows, full_next, layer=layer, simd=simd, lanes=lanes),
            mac_engine(clk, rst, windows, m, layer=layer, pe=pe, simd=simd, paths=paths,
                       requant_dsp_bits=requant_dsp_bits, taps=taps, full_next=full_next))
