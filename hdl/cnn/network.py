"""The whole accelerator, elaborated from a qnet layer list: a dataflow chain of blocks.

    s (pixel 0..255) -> skid buffer (s.ready a register) -> pixel ROM (the model's input
    quantization) -> conv2d / maxpool2x2 / pool2d / mean / dense ... (flatten and a mean's
    reshape are free on a raster stream) -> logits -> argmax -> m (class index)

Every layer is its own block working concurrently on streams with valid/ready, so image k+1
enters while image k is still in the later layers; the slowest layer sets the initiation
interval. Per-layer parallelism (PE, SIMD, taps) comes from a config (``hdl.cnn.config``); after a
convolution with all taps in one clock the streams carry PE channels a beat up to the next
weighted layer.

Ports (MyHDL flattens the streams):

``clk``, ``rst``            one clock, synchronous active-high reset
``s_valid/s_data/s_ready``  input pixels, 8-bit unsigned, raster order (NHWC), one per beat
``m_valid/m_data/m_ready``  the class index of each image
``logit_valid/logit_data``  the final int8 logits as they pass into argmax (a monitor: no ready)
``busy``                    high while any pixel or image is in_flight
``done``                    one-clock pulse when a class index is taken

ROM files (``write_mems``): ``pixel_to_int8.mem`` (256 words), each weighted layer's
``write_block_mems`` set and each mean's multiplier and shift, all named without a folder.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from myhdl import Signal, always_comb, always_seq, block, intbv

from model import export
from model.qnet import Network

from ..lib import memories
from ..lib.rom import rom
from ..lib.skid_buffer import skid_buffer
from ..lib.stream import Stream, check_stream
from . import mean as mean_block
from .argmax import argmax, index_bits
from ..lib.bram_fifo import bram_fifo
from .conv2d import conv2d
from .depthwise import depthwise
from .dense import dense
from .maxpool2x2 import maxpool2x2
from .pool2d import pool2d
from .parallel import Parallel, write_block_mems

PIXEL_ROM = "pixel_to_int8.mem"


def fork_depth(net: Network, tensor, lanes: int) -> int:
    """Words of the FIFO after each output of a fork: a whole image of the tensor."""
    sizes = {net.input_tensor: int(np.prod(net.input_shape))}
    sizes.update({layer.tensor: int(np.prod(layer.out_shape)) for layer in net.layers})
    return max(2, sizes[tensor] // lanes)
# A dense layer needs its whole input vector: with three slots (computing image k, holding k+1,
# loading k+2) the convolutions ahead of it keep working while it is busy.
DENSE_SLOTS = 3


def write_mems(net: Network, config: dict, folder, input_max: float,
               input_offset: float = 0.0) -> dict:
    """Every ROM file the top reads, into ``folder`` (the pixel table for the float input
    pixel / input_max + input_offset); returns {layer name: paths}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    export.write_mem(folder / PIXEL_ROM, net.pixel_table(input_max, input_offset), 8)
    paths = {"pixel": folder / PIXEL_ROM}
    for layer in net.layers:
        if layer.has_weights:
            paths[layer.name] = write_block_mems(layer, folder, Parallel.of(config[layer.name]))
        elif layer.kind == "mean":
            paths[layer.name] = mean_block.write_mems(layer, folder)
        elif layer.kind == "add":
            from . import add as add_block

            paths[layer.name] = add_block.write_mems(layer, folder)
    return paths


@block
def pixel_map(clk, rst, s, x, *, path):
    """x = pixel_to_int8[s]: a registered ROM read in_flight one handshake stage."""
    adv = Signal(bool(0))
    table = rom(clk, s.data, x.data, path=path, signed=True, en=adv)

    @always_comb
    def handshake():
        adv.next = not x.valid or x.ready
        s.ready.next = not x.valid or x.ready

    @always_seq(clk.posedge, reset=rst)
    def valid():
        if adv:
            x.valid.next = s.valid

    return table, handshake, valid


@block
def accelerator(clk, rst, s_axis, m_axis, logit_valid, logit_data, busy, done, *,
                net: Network, config: dict, paths: dict, requant_dsp_bits: int = 0):
    """The top ``make verilog`` converts: ``network`` with AXI4-Stream port names
    (``lib.stream.Axis``). ``s_axis``: the pixels (8-bit codes, one a beat, an image's in
    raster order; no TLAST: the accelerator counts an image's pixels). ``m_axis``: the class
    index of each image, one beat with ``tlast`` (a packet of one). ``logit_valid`` /
    ``logit_data``: every output value as it goes to argmax (a monitor: no ready);
    ``busy``, ``done`` as ``network``'s."""
    net_inst = network(clk, rst, s_axis.stream, m_axis.stream, logit_valid, logit_data, busy,
                       done, net=net, config=config, paths=paths,
                       requant_dsp_bits=requant_dsp_bits)

    @always_comb
    def last():
        m_axis.tlast.next = m_axis.tvalid

    return net_inst, last


@block
def network(clk, rst, s, m, logit_valid, logit_data, busy, done, *, net: Network, config: dict,
            paths: dict, requant_dsp_bits: int = 0):
    check_stream("s", s, bits=8, ready=True, signed=False)
    n_classes = net.logits_layer.c_out
    check_stream("m", m, bits=index_bits(n_classes), ready=True, signed=False)
    pixels = int(np.prod(net.input_shape))  # an image's pixels, or a vector's values

    from . import add as add_block
    from .config import forked_tensors, tensor_lanes, through_fifo, times

    # the input's ready is a register: without it, it came from conv1's FIFO through the
    # packer and the pixel ROM's handshake to the pins and the image counters (12.3 ns)
    held = Stream(8, signed=False)
    insts = [skid_buffer(clk, rst, s, held)]
    x = Stream(8)
    memories.owned_by("input")
    insts.append(pixel_map(clk, rst, held, x, path=paths["pixel"]))
    by = tensor_lanes(net, config)
    # the graph: a flatten's tensor is its input's stream; a tensor read twice (a skip
    # connection) goes through a fork, each reader taking one of its outputs
    same = {layer.tensor: layer.inputs[0] for layer in net.layers if layer.kind == "flatten"}

    def source(t):
        while t in same:
            t = same[t]
        return t

    readers = {}
    for layer in net.layers:
        if layer.kind != "flatten":
            for t in layer.inputs:
                readers[source(t)] = readers.get(source(t), 0) + 1
    last = source(net.layers[-1].tensor)
    readers[last] = readers.get(last, 0) + 1  # argmax
    handed = {}  # tensor -> the streams its readers take, in order

    def stream(n: int) -> Stream:
        return Stream(8) if n == 1 else Stream(8 * n, signed=False)

    def produced(t, y) -> tuple[list, list]:
        """The forks tensor t's stream ``y`` goes through ((input, output 1, output 2) each)
        and the FIFOs after them ((input, output, depth) each: a whole image's beats, so no
        reader ever waits for the other: the branches run as the cycle model has them, and
        neither can hold back the values the other needs); the caller instantiates them
        (MyHDL takes blocks from the block's own body only)."""
        outs, forks = [y], []
        while len(outs) < readers.get(t, 1):  # a fork per extra reader
            a, b = stream(by[t]), stream(by[t])
            forks.append((outs.pop(), a, b))
            outs += [a, b]
        if len(outs) == 1:
            handed[t] = outs
            return forks, []
        queues, handed[t] = [], []
        for o in outs:
            q = stream(by[t])
            queues.append((o, q, fork_depth(net, t, by[t])))
            handed[t].append(q)
        return forks, queues

    def reading(t):
        return handed[source(t)].pop(0)

    forks, queues = produced(net.input_tensor, x)
    for f in forks:
        insts.append(add_block.fork(clk, rst, *f))
    for q_in, q_out, depth in queues:
        insts.append(bram_fifo(clk, rst, q_in, q_out, depth=depth))
    clocks = times(net, config) if any(layer.kind == "add" for layer in net.layers) else {}
    forked = forked_tensors(net)
    for layer in net.layers:
        if layer.kind == "flatten":
            continue
        memories.owned_by(layer.name)
        n = by[layer.inputs[0]]
        y = stream(by[layer.tensor])
        x = reading(layer.inputs[0])
        if layer.kind == "add":
            a, b = layer.inputs
            ta, tb = (through_fifo(clocks[t], by[t]) if source(t) in forked else clocks[t]
                      for t in (a, b))
            depth_a, depth_b = add_block.fifo_depths(ta, tb, by[a], by[b])
            insts.append(add_block.add(clk, rst, x, reading(b), y, layer=layer,
                                       paths=paths[layer.name], lanes_a=by[a], lanes_b=by[b],
                                       depth_a=depth_a, depth_b=depth_b,
                                       hold_a=add_block.pack_hold(ta, by[a]),
                                       hold_b=add_block.pack_hold(tb, by[b])))
        elif layer.kind == "conv2d":
            pe, simd, taps = Parallel.of(config[layer.name])
            insts.append(conv2d(clk, rst, x, y, layer=layer, pe=pe, simd=simd,
                                 paths=paths[layer.name], requant_dsp_bits=requant_dsp_bits,
                                 taps=taps, lanes=n))
        elif layer.kind == "depthwise":
            _, simd, taps = Parallel.of(config[layer.name])
            insts.append(depthwise(clk, rst, x, y, layer=layer, simd=simd, taps=taps,
                                   paths=paths[layer.name], requant_dsp_bits=requant_dsp_bits,
                                   lanes=n))
        elif layer.kind == "maxpool2x2":
            lh, lw, lc = layer.in_shape
            insts.append(maxpool2x2(clk, rst, x, y, h=lh, w=lw, c=lc, lanes=n))
        elif layer.kind in ("maxpool", "avgpool"):
            lh, lw, lc = layer.in_shape
            insts.append(pool2d(clk, rst, x, y, h=lh, w=lw, c=lc, k=layer.kernel_hw,
                                op="max" if layer.kind == "maxpool" else "avg", lanes=n,
                                act_min=layer.act_min, act_max=layer.act_max))
        elif layer.kind == "mean":
            insts.append(mean_block.mean(clk, rst, x, y, layer=layer, paths=paths[layer.name],
                                         lanes=n))
        elif layer.kind == "dense":
            pe, simd, _ = Parallel.of(config[layer.name])
            insts.append(dense(clk, rst, x, y, layer=layer, pe=pe, simd=simd,
                               paths=paths[layer.name], slots=DENSE_SLOTS,
                               requant_dsp_bits=requant_dsp_bits, lanes=n))
        else:
            raise ValueError(f"layer {layer.name}: no hardware block for {layer.kind}")
        forks, queues = produced(layer.tensor, y)
        for f in forks:
            insts.append(add_block.fork(clk, rst, *f))
        for q_in, q_out, depth in queues:
            insts.append(bram_fifo(clk, rst, q_in, q_out, depth=depth))
    memories.owned_by("network")
    x = reading(net.layers[-1].tensor)
    insts.append(argmax(clk, rst, x, m, n=n_classes))
    logits = x

    count = Signal(intbv(0, min=0, max=pixels))
    in_flight = Signal(intbv(0, min=0, max=1 << 16))  # images started and not yet classified
    pixel_in = Signal(bool(0))
    last_pixel = Signal(bool(0))
    class_out = Signal(bool(0))

    @always_comb
    def monitor():
        logit_valid.next = logits.valid and logits.ready
        logit_data.next = logits.data
        pixel_in.next = s.valid and s.ready
        last_pixel.next = s.valid and s.ready and count == pixels - 1
        class_out.next = m.valid and m.ready
        done.next = m.valid and m.ready
        busy.next = count != 0 or in_flight != 0

    @always_seq(clk.posedge, reset=rst)
    def counters():
        if pixel_in:
            if count == pixels - 1:
                count.next = 0
            else:
                count.next = count + 1
        if last_pixel and not class_out:
            in_flight.next = in_flight + 1
        elif class_out and not last_pixel:
            in_flight.next = in_flight - 1

    return insts, monitor, counters
