"""The host's side of the UART: capture packets out, and host mode (framed images in, framed
results back: the board test).

Two jobs share one packet engine, because the iCE40 UP5K has room for one beside the camera
and the CNN: one buffer (``hdl.lib.ram``), one CRC engine (``hdl.lib.crc16``), one sender.

**Capture packets** (``model.capture``): ``A5 5A | length | frame | digit | n | pixels | CRC``.
An image whose first pixel enters the CNN (the monitor ``mon_valid``/``mon_data``: the CNN's
input beats) while ``arm`` is high and the buffer is free is recorded; when its result comes
(``done`` with ``frame`` and ``index``, in image order) it is sent. One image is buffered: an
image that starts entering while a recorded one waits for its result or its packet is not
recorded, and its result has no packet (the frame numbers show the gap).

**Host mode** (``model.hostlink``): a request ``A5 5A | length | seq | pixels | CRC`` from the
UART receiver's bytes (``byte``) is checked and kept in the buffer, fed into the CNN at full
rate (``pix``, while ``feeding``) once the CNN holds no camera image (``cnn_idle``), and
answered ``5A A5 | length | R | seq | index | outputs | the output tensor | clocks | CRC``: the
class index, the whole int8 output tensor (``logit_valid``/``logit_data``, written into the
buffer: the CNN takes the whole image before its first output) and the block's own count of
the clocks from the image's first pixel into the CNN to its class index out (the cycle model's
latency, so the chip's count is checked against ``hdl.cnn.config``). ``active``: the CNN's
outputs and ``done`` are the host's image's. ``host_mode`` is set by the first good request
and cleared by a bye (length 0, answered K); a request whose CRC or length is wrong, or that
stops for ``silence`` clocks mid-frame, is refused (N); bytes outside a frame are ignored in
host mode. One request at a time: bytes that arrive while a packet is recorded, an image is
fed, classified or answered are ignored (the host waits for each reply). ``in_frame``: a
request is being received (its bytes are no UART commands).

Out: ``m`` (valid/ready, for ``uart_tx``); a packet waits while ``hold_off`` (a text line is
mid-way); ``sending`` is high from its first byte to its last, ``busy`` from the result it
belongs to (or a request's check) to its last byte. The CRC is computed bit-serially while
``uart_tx`` shifts a byte out (``10 * divisor`` >= 20 clocks), so it costs no time; each byte
takes at least 11 clocks of its own (fetch, load, hand-over, 8 CRC steps).

Parameters: ``n`` (the image's side: ``n * n`` pixels), ``outputs`` (the output tensor's
values), ``silence`` (clocks), ``cycle_bits`` (the clock count's width at least: a count beyond
the counter wraps; the reply carries 4 bytes).
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, enum, intbv

from model.capture import MAX_SIDE
from model.hostlink import BYE, REFUSED, REPLY_SYNC, REQUEST_SYNC, RESULT

from ..lib.crc16 import crc16
from ..lib.ram import ram
from ..lib.stream import check_stream

SEQ = 4      # image sequence numbers, modulo: more than the images inside the CNN at once


@block
def host_link(clk, rst, byte, pix, feeding, cnn_idle, done, index, frame, logit_valid,
              logit_data, mon_valid, mon_data, arm, host_mode, in_frame, hold_off, m, sending,
              busy, active, *, n: int, outputs: int, silence: int, cycle_bits: int = 32):
    if not 2 <= n <= MAX_SIDE or not 1 <= outputs <= 255 or silence < 2 \
            or not 1 <= cycle_bits <= 32:
        raise ValueError(f"host_link: n={n} (2..{MAX_SIDE}), outputs={outputs} (1..255), "
                         f"silence={silence} clocks (at least 2), cycle_bits={cycle_bits} "
                         f"(1..32)")
    if len(mon_data) != 8 or len(frame) != 16 or len(index) > 8:
        raise ValueError(f"host_link: mon_data is {len(mon_data)} bits (8), frame "
                         f"{len(frame)} (16), index {len(index)} (at most 8)")
    check_stream("byte", byte, bits=8, ready=False, signed=False)
    check_stream("pix", pix, bits=8, ready=True, signed=False)
    check_stream("m", m, bits=8, ready=True, signed=False)
    pixels = n * n
    s0, s1 = REQUEST_SYNC      # the capture packets' sync too (model.capture.SYNC)
    r0, r1 = REPLY_SYNC
    last_capture = 9 + pixels      # 8 header bytes, the pixels, the CRC
    last_result = 13 + outputs     # 8 header bytes, the outputs, 4 count bytes, the CRC
    depth = max(pixels, outputs)

    Rx = enum("IDLE", "SYNC1", "LEN0", "LEN1", "SEQ", "PAY", "CRC0", "CRC1", "DISCARD")
    rx = Signal(Rx.IDLE)
    len_lo = Signal(intbv(0)[8:])
    bye, bad = Signal(bool(0)), Signal(bool(0))
    seq = Signal(intbv(0)[8:])
    addr = Signal(intbv(0, min=0, max=depth))
    # the line's silence in a request, then the host image's clocks, then a capture's frame
    count = Signal(intbv(0)[max(cycle_bits, silence.bit_length(), 16):])

    Job = enum("FREE", "WAIT", "SETTLE", "FEED", "RUN", "TELL", "FETCH", "LOAD", "SEND", "NEXT")
    job = Signal(Job.FREE)
    Kind = enum("RESULT", "REFUSED", "BYE", "CAPTURE")
    kind = Signal(Kind.RESULT)
    cls = Signal(intbv(0)[len(index):])
    k = Signal(intbv(0, min=0, max=max(last_capture, last_result) + 1))
    last, signed_body = Signal(bool(0)), Signal(bool(0))   # k is the last byte; a signed one
    next_byte = Signal(intbv(0)[8:])

    # recording the CNN's input for a capture packet
    pcount = Signal(intbv(0, min=0, max=pixels))
    in_seq, out_seq, held_seq = (Signal(intbv(0, min=0, max=SEQ)) for _ in range(3))
    writing, held, take_new = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))

    # the buffer: a recorded image, or a request's pixels and then its output tensor
    we = Signal(bool(0))
    waddr = Signal(intbv(0, min=0, max=depth))
    wdata = Signal(intbv(0)[8:])
    raddr = Signal(intbv(0, min=0, max=depth))
    re = Signal(bool(0))
    buffer = ram(clk, we, waddr, wdata, re, raddr, pix.data, depth=depth)

    # the CRC: a request's from its length on, then the packet's
    crc_clear, crc_load, crc_busy = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    crc_in = Signal(intbv(0)[8:])
    crc = Signal(intbv(0xFFFF)[16:])
    crc_inst = crc16(clk, rst, crc_clear, crc_load, crc_in, crc, crc_busy)

    @always_comb
    def ports():
        in_frame.next = rx != Rx.IDLE
        feeding.next = job == Job.FEED
        active.next = job == Job.FEED or job == Job.RUN
        pix.valid.next = job == Job.FEED
        sending.next = job == Job.FETCH or job == Job.LOAD or job == Job.SEND \
            or job == Job.NEXT
        busy.next = job != Job.FREE
        take_new.next = mon_valid and pcount == 0 and arm and not held and job == Job.FREE \
            and rx == Rx.IDLE
        if kind == Kind.RESULT:
            last.next = k == last_result
            signed_body.next = k >= 2 and k < last_result - 1
        elif kind == Kind.CAPTURE:
            last.next = k == last_capture
            signed_body.next = k >= 2 and k < last_capture - 1
        else:
            last.next = k == 7
            signed_body.next = k >= 2 and k < 6

    @always_comb
    def memory_ports():
        re.next = 1
        if rx == Rx.PAY:
            we.next = byte.valid
            waddr.next = addr
            wdata.next = byte.data
        elif job == Job.RUN:
            we.next = logit_valid
            waddr.next = addr
            wdata.next = logit_data[8:0]
        else:
            we.next = mon_valid and (writing or take_new)
            waddr.next = pcount
            wdata.next = mon_data
        if job == Job.FEED and pix.ready and addr != pixels - 1:
            raddr.next = addr + 1     # the next pixel is read as this one is taken
        elif job == Job.FETCH and k >= 8 and k < 8 + depth:
            raddr.next = k - 8
        else:
            raddr.next = addr

    @always_comb
    def crc_ports():
        crc_clear.next = (byte.valid and rx == Rx.SYNC1) or job == Job.TELL
        if rx != Rx.IDLE:
            crc_in.next = byte.data
            crc_load.next = byte.valid and (rx == Rx.LEN0 or rx == Rx.LEN1 or rx == Rx.SEQ
                                            or rx == Rx.PAY)
        else:
            crc_in.next = m.data
            crc_load.next = job == Job.SEND and m.ready and signed_body

    @always_comb
    def pick():   # the packet's byte k
        if k == 0:
            if kind == Kind.CAPTURE:
                next_byte.next = s0
            else:
                next_byte.next = r0
        elif k == 1:
            if kind == Kind.CAPTURE:
                next_byte.next = s1
            else:
                next_byte.next = r1
        elif k == 2:
            if kind == Kind.CAPTURE:
                next_byte.next = (4 + pixels) % 256
            elif kind == Kind.RESULT:
                next_byte.next = 8 + outputs
            else:
                next_byte.next = 2
        elif k == 3:
            if kind == Kind.CAPTURE:
                next_byte.next = (4 + pixels) // 256
            else:
                next_byte.next = 0
        elif k == 4:
            if kind == Kind.CAPTURE:
                next_byte.next = count[8:0]     # the frame number, low byte first
            elif kind == Kind.RESULT:
                next_byte.next = RESULT
            elif kind == Kind.REFUSED:
                next_byte.next = REFUSED
            else:
                next_byte.next = BYE
        elif k == 5:
            if kind == Kind.CAPTURE:
                next_byte.next = count[8:0]     # shifted a byte as the last went out
            else:
                next_byte.next = seq
        elif kind == Kind.REFUSED or kind == Kind.BYE:
            if k == 6:
                next_byte.next = crc[8:0]
            else:
                next_byte.next = crc[16:8]
        elif k == 6:
            next_byte.next = cls
        elif k == 7:
            if kind == Kind.CAPTURE:
                next_byte.next = n
            else:
                next_byte.next = outputs
        elif kind == Kind.CAPTURE:
            if k < 8 + pixels:
                next_byte.next = pix.data
            elif k == 8 + pixels:
                next_byte.next = crc[8:0]
            else:
                next_byte.next = crc[16:8]
        elif k < 8 + outputs:
            next_byte.next = pix.data
        elif k < 12 + outputs:
            next_byte.next = count[8:0]         # the clock count, shifted a byte at a time
        elif k == 12 + outputs:
            next_byte.next = crc[8:0]
        else:
            next_byte.next = crc[16:8]

    @always_seq(clk.posedge, reset=rst)
    def record():   # the CNN's input: which image is which, and the one being recorded
        if mon_valid:
            if pcount == pixels - 1:
                pcount.next = 0
            else:
                pcount.next = pcount + 1
            if pcount == 0:
                in_seq.next = (in_seq + 1) % SEQ
            if take_new:
                writing.next = 1
                held_seq.next = in_seq
            if (writing or take_new) and pcount == pixels - 1:
                writing.next = 0
                held.next = 1
        if done:
            out_seq.next = (out_seq + 1) % SEQ
            if held and out_seq == held_seq and job != Job.FREE:
                held.next = 0          # its packet cannot go out now: dropped
        if job == Job.SEND and m.ready and last and kind == Kind.CAPTURE:
            held.next = 0

    @always_seq(clk.posedge, reset=rst)
    def control():
        refuse = False
        if rx != Rx.IDLE:   # the line's silence inside a frame
            if byte.valid:
                count.next = 0
            elif count == silence:
                rx.next = Rx.IDLE
                refuse = rx != Rx.SYNC1   # a lone sync byte is no frame
            else:
                count.next = count + 1
        if rx == Rx.IDLE:
            if byte.valid and byte.data == s0 and job == Job.FREE and not held \
                    and not writing:
                count.next = 0
                rx.next = Rx.SYNC1
        elif byte.valid:
            if rx == Rx.SYNC1:
                if byte.data == s1:
                    rx.next = Rx.LEN0
                elif byte.data != s0:
                    rx.next = Rx.IDLE
            elif rx == Rx.LEN0:
                len_lo.next = byte.data
                rx.next = Rx.LEN1
            elif rx == Rx.LEN1:
                if len_lo == pixels % 256 and byte.data == pixels // 256:
                    bye.next = 0
                    rx.next = Rx.SEQ
                elif len_lo == 0 and byte.data == 0:
                    bye.next = 1
                    rx.next = Rx.SEQ
                else:
                    rx.next = Rx.DISCARD   # its end is unknown: wait for the line to go quiet
            elif rx == Rx.SEQ:
                seq.next = byte.data
                addr.next = 0
                if bye:
                    rx.next = Rx.CRC0
                else:
                    rx.next = Rx.PAY
            elif rx == Rx.PAY:
                if addr == pixels - 1:
                    rx.next = Rx.CRC0
                else:
                    addr.next = addr + 1
            elif rx == Rx.CRC0:   # the CRC engine finished long ago (a byte is 20+ clocks)
                bad.next = byte.data != crc[8:0]
                rx.next = Rx.CRC1
            elif rx == Rx.DISCARD:
                pass   # the frame's end is unknown: the line's silence ends it
            else:      # Rx.CRC1
                rx.next = Rx.IDLE
                if bad or byte.data != crc[16:8]:
                    refuse = True
                elif bye:
                    host_mode.next = 0
                    kind.next = Kind.BYE
                    job.next = Job.TELL
                else:
                    host_mode.next = 1
                    addr.next = 0
                    job.next = Job.WAIT
        if refuse:
            kind.next = Kind.REFUSED
            job.next = Job.TELL

        if job == Job.FREE:
            if done and held and out_seq == held_seq:   # the recorded image's result
                count.next = frame
                cls.next = index
                kind.next = Kind.CAPTURE
                job.next = Job.TELL
        elif job == Job.WAIT:
            job.next = Job.SETTLE           # a camera image accepted as host mode rose shows
        elif job == Job.SETTLE:
            count.next = 0
            if cnn_idle:
                job.next = Job.FEED
        elif job == Job.FEED:
            if pix.ready or addr != 0:   # from the first pixel taken: 1 on the next clock
                count.next = count + 1
            if pix.ready:
                if addr == pixels - 1:
                    addr.next = 0
                    job.next = Job.RUN
                else:
                    addr.next = addr + 1
        elif job == Job.RUN:
            if done:
                cls.next = index
                kind.next = Kind.RESULT
                job.next = Job.TELL
            else:
                count.next = count + 1
            if logit_valid and addr != outputs - 1:
                addr.next = addr + 1
        elif job == Job.TELL:
            if not hold_off:
                k.next = 0
                job.next = Job.FETCH
        elif job == Job.FETCH:
            job.next = Job.LOAD
        elif job == Job.LOAD:
            m.data.next = next_byte
            m.valid.next = 1
            if (kind == Kind.CAPTURE and k == 4) or \
                    (kind == Kind.RESULT and k >= 8 + outputs and k < 12 + outputs):
                count.next = count >> 8   # the next byte of the count (or the frame number)
            job.next = Job.SEND
        elif job == Job.SEND:
            if m.ready:
                m.valid.next = 0
                if last:
                    job.next = Job.FREE
                else:
                    job.next = Job.NEXT
        else:   # Job.NEXT
            if not crc_busy:
                k.next = k + 1
                job.next = Job.FETCH

    return crc_inst, buffer, ports, memory_ports, crc_ports, pick, record, control
