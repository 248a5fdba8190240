"""3x3 convolution, stride 1, valid padding, bit-exact with ``golden.conv3x3``.

    s (int8, NHWC raster) -> pack (SIMD channels per word) -> line_buffer (3x3 windows)
      -> mac_engine (T = 9 taps folded in time, PE x SIMD multipliers, bias, requant, ReLU)
      -> m (int8, (H-2) x (W-2) x C_out in raster order)

Parameters: the ``Layer`` (weights OHWI, bias, per-channel multiplier/shift, zero points and
the fused ReLU clamp), ``pe`` output channels in parallel (divides C_out), ``simd`` input
channels in parallel (divides C_in), and the ROM files (``model.export.write_block_mems``).
The 3x3 taps are folded: each clock handles one tap of SIMD channels for PE outputs, so the
multiplier count is exactly ``PE * SIMD`` and any count from 1 up is possible; the window is
held in the engine's job buffer while the PE groups reuse it.

Cycle model (``cycles``): every output pixel is one job of ``C_out/PE`` groups of
``max(9 * C_in/SIMD, PE)`` clocks (J per job); the line buffer fills the other job slot
meanwhile. Between images the engine may idle: when it starts the second-to-last job of an
image, the input still has to deliver the last pixel and the next image's first window,
``(2W + 4) * C_in`` values less the ``4 * SIMD - 1`` already held in the pipeline (packer word
and lanes, line buffer stage 1 and output), one per clock, plus 3 clocks to reach the job
buffer; the last two jobs hide ``2 J`` of that. An image never takes less than its
``H * W * C_in`` input clocks.

Resources (``python scripts/synth.py --model mnist_cnn --layer conv2 --pe 8 --simd 4``, Yosys
0.23 ``synth_xilinx -family xc7``): 36 DSP48E1 = 32 MAC lanes (one DSP per int8 product) + 4
for the requantizer's 32 x 32 product; 17 RAMB18 (the 576 x 256-bit weight ROM and both row
buffers); 88 RAM32M LUT RAM (the 8-word job-buffer banks and window columns); 1,466 LUTs,
1,904 FFs. Cycle model 69,696 per 13x13x32 image (= MACs / 32 multipliers).
"""
from __future__ import annotations

from myhdl import block

from model import export
from model.qnet import Layer

from .line_buffer import check_params, line_buffer
from .mac_engine import group_cycles, mac_engine
from .pack import pack
from .stream import Stream, check_stream

def cycles(layer: Layer, pe: int, simd: int) -> int:
    """Clocks between back-to-back images with no input gaps or output stalls."""
    outs, taps, ins = export.mac_shape(layer)
    h, w = layer.in_shape[0], layer.in_shape[1]
    job = outs // pe * group_cycles(taps, ins // simd, pe)
    jobs = (h - 2) * (w - 2)
    gap = (2 * w + 4) * ins - (4 * simd - 1) + 3 - 2 * job
    return max(jobs * job + max(0, gap), h * w * ins)


@block
def conv3x3(clk, rst, s, m, *, layer: Layer, pe: int = 1, simd: int = 1, paths: dict):
    if layer.kind != "conv3x3":
        raise ValueError(f"layer {layer.name} is a {layer.kind}, not conv3x3")
    h, w, c_in = layer.in_shape
    check_params(h, w, c_in, simd)
    export.check_parallel(layer, pe, simd)
    check_stream("s", s, bits=8, ready=True, signed=True)
    packed = Stream(8 * simd, signed=False)
    windows = Stream(72 * simd, signed=False)
    return (pack(clk, rst, s, packed, simd=simd),
            line_buffer(clk, rst, packed, windows, h=h, w=w, c=c_in, simd=simd),
            mac_engine(clk, rst, windows, m, layer=layer, pe=pe, simd=simd, paths=paths))
