"""Camera to digit: the whole system between the OV7670's pins and the outputs, board-neutral.

::

    PCLK domain                 | system clock (clk)
    ov7670_capture -> async_fifo -> frame_assembler -> preprocess -> network -> result
                                                                   (frame no.) -> uart_report
                                                  (CNN input) -> capture_packet --+-> uart_tx -> tx
    sccb_master (register table after reset)        rx -> uart_rx -> 'c'/'t' -> capture mode

Ports: ``clk``, ``rst`` (synchronous, active high; a two-flop synchronizer makes the PCLK
domain's reset from it); the camera's ``pclk``, ``vsync``, ``href``, ``d``; SCCB ``sio_c``,
``sio_d_out``, ``sio_d_oe``, ``cam_ready`` (the table is written); the UART lines ``tx`` and ``rx``;
``capture_in`` (a switch: capture mode while high, through two flops) and ``capture_on`` (the
mode: the switch, or the last UART command was ``c``; ``t`` ends it; either case);
the latest result ``digit`` with ``have_digit`` (a result since reset) and ``result`` (a
one-clock pulse per classified frame); ``frame_no`` (the number of the frame the result
came from: every frame the camera delivered counts, good or bad) and the status counters
``bad_frames`` (frames rejected by the assembler, saturating) and ``dropped`` (good frames
that found the preprocess busy, saturating), ``overrun`` (sticky: the clock-domain FIFO was
full and lost capture words; the frames they belonged to are counted bad), ``cnn_busy``; and
monitors of the CNN's input beats (``pix_valid``, ``pix_data``: the preprocessed image as the
CNN takes it) and of its int8 logits (``logit_valid``, ``logit_data``).

Each good frame is classified once: the result is on ``digit`` about
``preprocess.normalise_cycles`` + the CNN's latency after the frame's last line, and the text
line ``digit=7 frame=123 bad=0`` follows on ``tx``. In capture mode the text lines stop and
each frame whose image could be recorded (``hdl.camera.capture_packet``: one image is buffered, so a
frame that reaches the CNN while the previous packet is still on the line is skipped) goes
out as a binary packet instead: the CNN's input image, the digit, the frame number, a CRC-16
(``model.capture``). Packets and lines never interleave: each waits for the other to finish.
"""
from __future__ import annotations

from myhdl import ResetSignal, Signal, always, always_comb, always_seq, block, intbv

from model.preprocess import Geometry
from model.qnet import Network

from ..cnn.argmax import index_bits
from ..cnn.network import network
from ..lib.async_fifo import async_fifo
from ..lib.fifo import fifo
from ..lib.stream import Stream
from ..lib.uart_rx import uart_rx
from ..lib.uart_tx import uart_tx
from . import frame_assembler as fa
from . import uart_report as ur
from .capture_packet import capture_packet
from .ov7670_capture import WORD_BITS, ov7670_capture
from .preprocess import preprocess
from .sccb_master import ov7670_table, sccb_master

CMD_CAPTURE, CMD_TEXT = ord("c"), ord("t")   # UART commands (either case)
CDC_DEPTH = 4        # capture words in flight between the clock domains
RESULTS_DEPTH = 2    # frame numbers of images inside the CNN
STATUS_BITS = 8


def port_signals(digit_bits: int) -> dict:
    """camera_system's ports other than the clocks and the camera inputs, as signals named as
    in the Verilog (``build`` and the board tops both wire them from here)."""
    b = lambda: Signal(bool(0))  # noqa: E731
    return dict(sio_c=b(), sio_d_out=b(), sio_d_oe=b(), cam_ready=b(), tx=b(), capture_on=b(),
                digit=Signal(intbv(0)[digit_bits:]), have_digit=b(), result=b(),
                frame_no=Signal(intbv(0)[fa.FRAME_BITS:]),
                bad_frames=Signal(intbv(0)[STATUS_BITS:]), dropped=Signal(intbv(0)[STATUS_BITS:]),
                overrun=b(), cnn_busy=b(), pix_valid=b(), pix_data=Signal(intbv(0)[8:]),
                logit_valid=b(), logit_data=Signal(intbv(0, min=-128, max=128)))


def camera_regs(geo: Geometry):
    """The OV7670 register table for the frame size of ``geo`` (QQVGA, QVGA or VGA)."""
    try:
        return ov7670_table(geo.width, geo.height)[0]
    except ValueError as exc:
        raise ValueError(f"camera_system: {exc}") from None


@block
def camera_system(clk, rst, pclk, vsync, href, d, rx, capture_in, sio_c, sio_d_out, sio_d_oe,
                  cam_ready, tx, capture_on, digit, have_digit, result, frame_no, bad_frames, dropped, overrun, cnn_busy,
                  pix_valid, pix_data, logit_valid, logit_data, *, net: Network, config: dict, paths: dict, geo: Geometry, clk_hz: float,
                  baud: float = 115200, sccb_hz: float = 100e3, requant_dsp_bits: int = 0):
    if net.input_shape != (geo.n, geo.n, 1):
        raise ValueError(f"camera_system: {net.name} takes {net.input_shape}, the preprocess "
                         f"makes {geo.n}x{geo.n}x1")
    n_classes = net.logits_layer.c_out
    if n_classes > 10:
        raise ValueError(f"camera_system: {net.name} has {n_classes} classes; the display and "
                         f"the text line show one decimal digit")
    regs = camera_regs(geo)
    insts = []

    # camera configuration
    start = Signal(bool(0))
    insts.append(sccb_master(clk, rst, start, sio_c, sio_d_out, sio_d_oe, cam_ready,
                             clk_hz=clk_hz, sccb_hz=sccb_hz, regs=regs,
                             reset_wait=int(clk_hz // 1000)))

    # PCLK domain: its reset through two flops, the capture, the crossing
    prst = ResetSignal(1, active=1, isasync=False)
    prst_q = Signal(bool(1))

    @always(pclk.posedge)
    def pclk_reset():
        prst_q.next = rst
        prst.next = prst_q

    cap = Stream(WORD_BITS, signed=False, ready=False)
    cdc_in = Stream(WORD_BITS, signed=False)
    words = Stream(WORD_BITS, signed=False)
    insts.append(ov7670_capture(pclk, prst, vsync, href, d, cap))

    lost = Signal(bool(0))
    lost_q1, lost_q2 = Signal(bool(0)), Signal(bool(0))

    @always_comb
    def to_cdc():  # a full FIFO loses words: the frame they belong to is then counted bad
        cdc_in.valid.next = cap.valid
        cdc_in.data.next = cap.data

    @always_seq(pclk.posedge, reset=prst)
    def overflow():
        if cap.valid and not cdc_in.ready:
            lost.next = 1

    @always_seq(clk.posedge, reset=rst)
    def overflow_sync():  # one bit, through two flops
        lost_q1.next = lost
        lost_q2.next = lost_q1

    insts.append(async_fifo(pclk, prst, cdc_in, clk, rst, words, depth=CDC_DEPTH))

    # system domain
    beats = fa.out_stream(geo.width, geo.height)
    frames = Signal(intbv(0)[fa.FRAME_BITS:])
    insts.append(fa.frame_assembler(clk, rst, words, beats, frames, bad_frames,
                                    width=geo.width, height=geo.height))
    pix = Stream(8, signed=False)
    accepted, dropped_pulse, room = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    insts.append(preprocess(clk, rst, beats, pix, room, accepted, dropped_pulse, geo=geo))

    cls = Stream(index_bits(n_classes), signed=False)
    done = Signal(bool(0))
    insts.append(network(clk, rst, pix, cls, logit_valid, logit_data, cnn_busy, done, net=net,
                         config=config, paths=paths, requant_dsp_bits=requant_dsp_bits))

    # the frame number of each image in the CNN, in order
    numbers_in = Stream(fa.FRAME_BITS, signed=False, ready=False)
    numbers = Stream(fa.FRAME_BITS, signed=False)
    insts.append(fifo(clk, rst, numbers_in, numbers, depth=RESULTS_DEPTH))
    in_cnn = Signal(intbv(0, min=0, max=RESULTS_DEPTH + 1))

    report = Stream(ur.WORD_BITS, signed=False)
    text = Stream(8, signed=False)
    insts.append(ur.uart_report(clk, rst, report, text))

    # capture mode: the switch or a UART command; the packets share the UART with the text
    cmd = Stream(8, signed=False, ready=False)
    insts.append(uart_rx(clk, rst, rx, cmd, clk_hz=clk_hz, baud=baud))
    cmd_mode, sw_q1, sw_q2 = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    packet = Stream(8, signed=False)
    line_busy, sending, pkt_busy = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    insts.append(capture_packet(clk, rst, pix_valid, pix_data, capture_on, done, numbers.data,
                                cls.data, line_busy, packet, sending, pkt_busy, n=geo.n))
    serial = Stream(8, signed=False)
    insts.append(uart_tx(clk, rst, serial, tx, clk_hz=clk_hz, baud=baud))

    @always_comb
    def uart_mux():
        line_busy.next = report.valid or not report.ready
        if sending:
            serial.valid.next = packet.valid
            serial.data.next = packet.data
        else:
            serial.valid.next = text.valid
            serial.data.next = text.data
        packet.ready.next = sending and serial.ready
        text.ready.next = serial.ready and not sending
        capture_on.next = cmd_mode or sw_q2

    @always_seq(clk.posedge, reset=rst)
    def mode():
        sw_q1.next = capture_in
        sw_q2.next = sw_q1
        if cmd.valid:
            if (cmd.data | 0x20) == CMD_CAPTURE:
                cmd_mode.next = 1
            elif (cmd.data | 0x20) == CMD_TEXT:
                cmd_mode.next = 0

    @always_comb
    def wiring():
        overrun.next = lost_q2
        start.next = 0  # the table is written once after reset
        numbers_in.valid.next = accepted
        numbers_in.data.next = frames
        room.next = in_cnn < RESULTS_DEPTH
        cls.ready.next = 1
        numbers.ready.next = done
        pix_valid.next = pix.valid and pix.ready
        pix_data.next = pix.data

    @always_seq(clk.posedge, reset=rst)
    def results():
        result.next = 0
        if accepted and not done:
            in_cnn.next = in_cnn + 1
        elif done and not accepted:
            in_cnn.next = in_cnn - 1
        if dropped_pulse and dropped < dropped.max - 1:
            dropped.next = dropped + 1
        if report.valid and report.ready:
            report.valid.next = 0
        if done:
            digit.next = cls.data
            have_digit.next = 1
            result.next = 1
            if numbers.valid:  # always, by in_cnn: every image in the CNN has its number
                frame_no.next = numbers.data
            # mid-line, or a packet pending, or capture mode: this result goes untold in text
            if report.ready and not report.valid and not pkt_busy and not capture_on:
                report.valid.next = 1
                report.data.next = (bad_frames << 20) | (numbers.data << 4) | cls.data

    return (insts, pclk_reset, to_cdc, overflow, overflow_sync, wiring, results, uart_mux,
            mode)
