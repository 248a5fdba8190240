"""Camera to digit: the whole system between the OV7670's pins and the outputs, board-neutral.

::

    PCLK domain                 | system clock (clk)
    ov7670_capture -> async_fifo -> frame_assembler -> preprocess -> network -> result
                                                                   (frame no.) -> uart_report
                                                  (CNN input) -> host_link -------+-> uart_tx -> tx
    sccb_master (register table after reset)        rx -> uart_rx -> 'c'/'t' -> capture mode
                                                        uart_rx -> host_link -> network (host mode)

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
each frame whose image could be recorded (``hdl.camera.host_link``: one image is buffered, so a
frame that reaches the CNN while the previous packet is still on the line is skipped) goes
out as a binary packet instead: the CNN's input image, the digit, the frame number, a CRC-16
(``model.capture``). Packets and lines never interleave: each waits for the other to finish.

Host mode (``hdl.camera.host_link``, the board test): a framed image from the UART is
classified in place of the camera's, and the reply (the class, the int8 output tensor, the
accelerator's clocks) goes out on ``tx``. The first good request starts host mode: camera
frames stay out of the CNN (counted ``dropped``), text lines stop, the capture mode is off and
the UART commands are ignored; a bye request (length 0) ends it. The display shows the host's
images' classes too.
"""
from __future__ import annotations

from myhdl import ResetSignal, Signal, always, always_comb, always_seq, block, intbv

from model.preprocess import Geometry
from model.qnet import Network

from ..cnn import config as cfg
from ..cnn.argmax import index_bits
from ..cnn.network import network
from ..lib.async_fifo import async_fifo
from ..lib.fifo import fifo
from ..lib.stream import Stream
from ..lib.uart_rx import uart_rx
from ..lib.uart_tx import uart_tx
from . import frame_assembler as fa
from . import uart_report as ur
from .host_link import host_link
from .ov7670_capture import WORD_BITS, ov7670_capture
from .preprocess import preprocess
from .sccb_master import ov7670_table, sccb_master

CMD_CAPTURE, CMD_TEXT = ord("c"), ord("t")   # UART commands (either case)
from model.hostlink import SILENCE_S

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

    # the CNN's input: the camera's image, or in host mode the host's (host_link)
    cnn_in = Stream(8, signed=False)
    cls = Stream(index_bits(n_classes), signed=False)
    done = Signal(bool(0))
    insts.append(network(clk, rst, cnn_in, cls, logit_valid, logit_data, cnn_busy, done, net=net,
                         config=config, paths=paths, requant_dsp_bits=requant_dsp_bits))

    # the frame number of each image in the CNN, in order
    numbers_in = Stream(fa.FRAME_BITS, signed=False, ready=False)
    numbers = Stream(fa.FRAME_BITS, signed=False)
    insts.append(fifo(clk, rst, numbers_in, numbers, depth=RESULTS_DEPTH))
    in_cnn = Signal(intbv(0, min=0, max=RESULTS_DEPTH + 1))

    report = Stream(ur.WORD_BITS, signed=False)
    text = Stream(8, signed=False)
    insts.append(ur.uart_report(clk, rst, report, text))

    # capture mode (the switch or a UART command) and host mode (framed images from the UART,
    # framed results back: the board test) share one packet engine; its packets share the UART
    # with the text lines
    line_busy, sending, pkt_busy, arm = (Signal(bool(0)) for _ in range(4))
    cmd = Stream(8, signed=False, ready=False)
    insts.append(uart_rx(clk, rst, rx, cmd, clk_hz=clk_hz, baud=baud))
    host_pix = Stream(8, signed=False)
    feeding, cnn_idle, host_mode, in_frame = (Signal(bool(0)) for _ in range(4))
    packet = Stream(8, signed=False)
    host_active, cam_done = Signal(bool(0)), Signal(bool(0))
    insts.append(host_link(clk, rst, cmd, host_pix, feeding, cnn_idle, done, cls.data,
                           numbers.data, logit_valid, logit_data, pix_valid, pix_data, arm,
                           host_mode, in_frame, line_busy, packet, sending, pkt_busy,
                           host_active, n=geo.n, outputs=n_classes,
                           silence=int(clk_hz * SILENCE_S),
                           cycle_bits=min(32, (4 * cfg.latency(net, config)).bit_length())))
    cmd_mode, sw_q1, sw_q2 = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
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
        arm.next = (cmd_mode or sw_q2) and not host_mode

    @always_seq(clk.posedge, reset=rst)
    def mode():
        sw_q1.next = capture_in
        sw_q2.next = sw_q1
        if cmd.valid and not host_mode and not in_frame:
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
        room.next = in_cnn < RESULTS_DEPTH and not host_mode
        cls.ready.next = 1
        cam_done.next = done and not host_active
        numbers.ready.next = done and not host_active
        cnn_idle.next = in_cnn == 0
        if feeding:
            cnn_in.valid.next = host_pix.valid
            cnn_in.data.next = host_pix.data
        else:
            cnn_in.valid.next = pix.valid
            cnn_in.data.next = pix.data
        host_pix.ready.next = feeding and cnn_in.ready
        pix.ready.next = cnn_in.ready and not feeding
        pix_valid.next = cnn_in.valid and cnn_in.ready
        pix_data.next = cnn_in.data

    @always_seq(clk.posedge, reset=rst)
    def results():
        result.next = 0
        if accepted and not cam_done:
            in_cnn.next = in_cnn + 1
        elif cam_done and not accepted:
            in_cnn.next = in_cnn - 1
        if dropped_pulse and dropped < dropped.max - 1:
            dropped.next = dropped + 1
        if report.valid and report.ready:
            report.valid.next = 0
        if done:
            digit.next = cls.data
            have_digit.next = 1
            result.next = 1
        if cam_done:
            if numbers.valid:  # always, by in_cnn: every image in the CNN has its number
                frame_no.next = numbers.data
            # mid-line, or a packet pending, or capture mode: this result goes untold in text
            if report.ready and not report.valid and not pkt_busy and not capture_on \
                    and not host_mode and not host_active:
                report.valid.next = 1
                report.data.next = (bad_frames << 20) | (numbers.data << 4) | cls.data

    return (insts, pclk_reset, to_cdc, overflow, overflow_sync, wiring, results, uart_mux,
            mode)
