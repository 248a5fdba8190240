"""3x3 convolution, stride 1, valid padding, bit-exact with ``golden.conv3x3``.

    s (int8, NHWC raster) -> pack (SIMD channels per word) -> line_buffer (3x3 windows)
      -> mac_engine (T = 9 taps folded in time; a systolic array of PE rows of SIMD
         multiply-add stages; bias, requant, ReLU)
      -> m (int8, (H-2) x (W-2) x C_out in raster order)

Parameters: the ``Layer`` (weights OHWI, bias, per-channel multiplier/shift, zero points and
the fused ReLU clamp), ``pe`` output channels in parallel (divides C_out), ``simd`` input
channels in parallel (divides C_in), and the ROM files (``hdl.cnn.parallel.write_block_mems``).
The 3x3 taps are folded: each clock handles one tap of SIMD channels for PE outputs, so the
multiplier count is exactly ``PE * SIMD`` and any count from 1 up is possible; the window is
held in the engine's job buffer while the PE groups reuse it.

All taps in one clock (``taps = 9``): the engine multiplies the whole 3x3 window of SIMD
channels for PE outputs at once (``PE * 9 * SIMD`` multipliers), a group takes ``C_in/SIMD``
clocks, and the PE results of a group leave together as one beat of PE int8 lanes (the next
block takes ``lanes = PE``). Input ``s`` may bring ``lanes`` channels a beat the same way (a
wide layer before); the packer regroups them into SIMD-channel words. When it splits them
(SIMD < lanes) it queues up to one input row's beats (W * C_in/lanes), so the bursts a
pooling layer sends on its odd rows never wait and the cycle model stays exact.

Run-ahead: a ``bram_fifo`` of ``run_ahead`` = (2W + 4) * C_in/SIMD words sits between the
packer and the line buffer, so the layer before keeps delivering while this one computes, and
the next image's first window (two rows and three pixels away from the last one) is already
queued when the engine needs it.

Cycle model (``cycles``): every output pixel is one job of ``C_out/PE`` groups of
``max(9 * C_in/SIMD, PE)`` clocks (J per job); the line buffer fills the other job slots
meanwhile. Between images the line buffer has to take the ``(2W + 4) * C_in/SIMD`` queued
words that lead to the next first window, one per clock; the jobs queued in the engine's
slots hide ``slots x J`` of that, less the clocks a slot stays busy after its job while the
systolic array's last lane reads it (``mac_engine.job_slots``). An image never takes less
than its ``H * W * C_in`` input clocks.

Resources: one DSP48E1 (one MULT18X18D on the ECP5) per MAC lane; the requantizer's product is
LUTs (``hdl.lib.softmul``); the weight ROM, both row buffers and the run-ahead FIFO go to block
RAM once they are big enough, the job-buffer banks and window columns to LUT RAM. Measured per
layer by ``python scripts/synth.py --model mnist_cnn --layer conv2 --pe 8 --simd 4``
(docs/hardware.md has the table).
"""
from __future__ import annotations

from myhdl import block

from model.qnet import Layer

from ..lib.bram_fifo import bram_fifo
from ..lib.stream import Stream, check_stream
from .line_buffer import check_params, line_buffer
from .mac_engine import Timing, group_cycles, job_slots, mac_engine
from .pack import check_lanes, pack
from .pack import delay as pack_delay
from .parallel import Parallel, mac_shape


def run_ahead(layer: Layer, simd: int) -> int:
    """Depth in words of the FIFO before the line buffer: two rows and four pixels, all a
    line buffer takes between an image's last window and the next image's first."""
    h, w, c_in = layer.in_shape
    return (2 * w + 4) * (c_in // simd)


def cycles(layer: Layer, pe: int, simd: int, taps: int = 1, lanes: int = 1) -> int:
    """Clocks between back-to-back images with no input gaps or output stalls (``lanes``:
    channels a beat of the input brings)."""
    outs, n_taps, ins = mac_shape(layer)
    h, w = layer.in_shape[0], layer.in_shape[1]
    cg = ins // simd
    group = group_cycles(n_taps, cg, pe, taps)
    words = n_taps // taps * cg
    job = outs // pe * group
    jobs = (h - 2) * (w - 2)
    slots = job_slots(2, words, outs // pe, group, taps * simd, cg)
    # the image's last window waits for the slot of the job `slots` before it, which frees
    # when that job's last word has passed every lane: the jobs in the slots hide that much
    hidden = slots * job - (taps * simd - 1) + (group - words)
    gap = run_ahead(layer, simd) - hidden
    return max(jobs * job + max(0, gap), h * w * ins // min(lanes, simd))


def trace(layer: Layer, pe: int, simd: int, t_in, taps: int = 1, lanes: int = 1) -> list[int]:
    """Timing model of one image: ``t_in[i]`` is the clock input value i is taken; returns
    the clock each output value leaves (the values of a wide beat share it; downstream always
    ready). Packer 1 (2 when it splits wide beats) + FIFO 2 clocks to the line buffer, 2 more
    to a window beat; the engine as in ``mac_engine.Timing``."""
    h, w, c_in = layer.in_shape
    outs, n_taps, ins = mac_shape(layer)
    cg_n = ins // simd
    engine = Timing(n_taps // taps * cg_n, outs // pe, pe, 2, wide=taps > 1,
                    lanes=taps * simd, cg=cg_n)
    ahead = 4 + pack_delay(lanes, simd)
    prev = -1
    for k in range(h * w * cg_n):
        y, x, cg = k // (w * cg_n), k // cg_n % w, k % cg_n
        beat = max(t_in[k * simd + simd - 1] + ahead, prev + 1)
        if y >= 2 and x >= 2:
            beat = max(beat, engine.free())
            if cg == cg_n - 1:
                engine.load(beat)
        prev = beat
    return engine.out


@block
def conv3x3(clk, rst, s, m, *, layer: Layer, pe: int = 1, simd: int = 1, paths: dict,
            requant_dsp_bits: int = 0, taps: int = 1, lanes: int = 1):
    if layer.kind != "conv3x3":
        raise ValueError(f"layer {layer.name} is a {layer.kind}, not conv3x3")
    h, w, c_in = layer.in_shape
    check_params(h, w, c_in, simd)
    Parallel(pe, simd, taps).check(layer)
    check_lanes(lanes, simd, f"layer {layer.name}: ")
    check_stream("s", s, bits=8 * lanes, ready=True, signed=lanes == 1)
    packed = Stream(8 * simd, signed=False)
    queued = Stream(8 * simd, signed=False)
    windows = Stream(72 * simd, signed=False)
    # if it splits wide beats: room for one input row's, so the bursts a pooling layer sends
    # on its odd rows never stall it (the cycle model takes every beat when it comes)
    return (pack(clk, rst, s, packed, simd=simd, lanes=lanes, hold=w * c_in // lanes),
            bram_fifo(clk, rst, packed, queued, depth=run_ahead(layer, simd)),
            line_buffer(clk, rst, queued, windows, h=h, w=w, c=c_in, simd=simd),
            mac_engine(clk, rst, windows, m, layer=layer, pe=pe, simd=simd, paths=paths,
                       requant_dsp_bits=requant_dsp_bits, taps=taps))
