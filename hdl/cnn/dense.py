"""Fully connected layer: packer + ``mac_engine`` (T = 1: a systolic array of PE rows of SIMD
multiply-add stages), bit-exact with ``golden.dense``.

Input ``s``: the N_in int8 inputs of one image (NHWC flatten order, one per beat, or
``lanes`` per beat after a wide convolution). Output ``m``:
the N_out int8 results in order, one per beat. Parameters: the ``Layer`` (weights, bias,
multipliers, zero points, clamp; ``requant`` "round" for TFLite's per-channel FULLY_CONNECTED),
``pe`` neurons in parallel (divides N_out), ``simd`` inputs per clock (divides N_in), and the
ROM files (``hdl.cnn.parallel.write_block_mems``). ``slots``: input vectors the block holds (one
computing, the rest loading); the network top gives dense layers 3 so the layers before them
can finish the next image while this one is busy (dataflow with a whole-image dependency). No ReLU on the logits layer: the clamp bounds
come from the layer, [-128, 127] when it has no activation. When SIMD is smaller than the
beats' ``lanes`` the packer splits them and queues up to one image's beats (N_in/lanes words
of 8 x lanes bits), so an upstream pooling layer's bursts never wait.

Cycle model (``cycles``): the engine takes ``N_out/PE`` groups of ``max(N_in/SIMD, PE)``
clocks per image; the next image's N_in inputs load meanwhile (one per clock), so back-to-back
images leave every ``max(engine, N_in)`` clocks.

Resources: one DSP48E1 (one MULT18X18D on the ECP5) per MAC lane; the requantizer's "round"
product is LUTs (``hdl.lib.softmul``); the weight ROM goes to block RAM. Measured per layer by
``cnn2fpga synth --model mnist_cnn --layer dense1 --pe 4 --simd 4`` (docs/hardware.md).
"""
from __future__ import annotations

from myhdl import block

from model.qnet import Layer

from ..lib.stream import Stream, check_stream
from .mac_engine import Timing, group_cycles, mac_engine
from .pack import check_lanes, pack
from .pack import delay as pack_delay
from .parallel import Parallel, mac_shape


def cycles(layer: Layer, pe: int, simd: int, lanes: int = 1) -> int:
    """Clocks between back-to-back images with no input gaps or output stalls (``lanes``:
    inputs a beat brings)."""
    outs, taps, ins = mac_shape(layer)
    return max(outs // pe * group_cycles(taps, ins // simd, pe), ins // min(lanes, simd))


def trace(layer: Layer, pe: int, simd: int, t_in, slots: int = 2, lanes: int = 1) -> list[int]:
    """Timing model of one image: ``t_in[i]`` is the clock input value i is taken; returns
    the clock each output leaves (downstream always ready). Packer 1 clock (2 when it splits
    wide beats), then the engine as in ``mac_engine.Timing``."""
    outs, taps, ins = mac_shape(layer)
    cg_n = ins // simd
    engine = Timing(taps * cg_n, outs // pe, pe, slots, lanes=simd, cg=cg_n)
    ahead = pack_delay(lanes, simd)
    prev = -1
    for k in range(cg_n):
        prev = max(t_in[k * simd + simd - 1] + ahead, prev + 1, engine.free())
    engine.load(prev)
    return engine.out


@block
def dense(clk, rst, s, m, *, layer: Layer, pe: int = 1, simd: int = 1, paths: dict,
          slots: int = 2, requant_dsp_bits: int = 0, lanes: int = 1):
    if layer.kind != "dense":
        raise ValueError(f"layer {layer.name} is a {layer.kind}, not dense")
    Parallel(pe, simd).check(layer)
    check_lanes(lanes, simd, f"layer {layer.name}: ")
    check_stream("s", s, bits=8 * lanes, ready=True, signed=lanes == 1)
    packed = Stream(8 * simd, signed=False)
    # if it splits wide beats: room for a whole image's, so the bursts a pooling layer sends
    # never stall it (the cycle model takes every beat when it comes)
    _, _, ins = mac_shape(layer)
    return (pack(clk, rst, s, packed, simd=simd, lanes=lanes, hold=ins // lanes),
            mac_engine(clk, rst, packed, m, layer=layer, pe=pe, simd=simd, paths=paths,
                       slots=slots, requant_dsp_bits=requant_dsp_bits))
