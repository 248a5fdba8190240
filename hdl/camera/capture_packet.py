"""Capture packets: the image the CNN took, with its result, as one binary UART packet.

The packet layout and its CRC are defined once, in ``model/capture.py`` (the host's decoder
and the reference ``encode`` for the tests)::

    A5 5A | length (2) | frame (2) | digit | n | n*n pixels | CRC-16/CCITT-FALSE (2)

Ports:

- ``pix_valid``, ``pix_data``: the CNN's input beats (a monitor of the stream the network
  takes: ``pix_valid`` is high on each clock a pixel is taken), images of ``n`` x ``n``.
- ``arm``: capture mode. An image whose first pixel enters while ``arm`` is high and the
  buffer is free is recorded into the image buffer (``n*n`` bytes of ``hdl.lib.ram``).
- ``done``, ``frame``, ``digit``: a result of the CNN (a one-clock pulse, in image order)
  with its frame number and class. When it is the recorded image's result, the packet is sent.
- ``hold_off``: high while another writer (the text reporter) is mid-line; a packet waits
  for it to finish before its first byte.
- ``m``: the packet's bytes (valid/ready), for ``uart_tx``.
- ``sending``: high from the packet's first byte until its last is taken (the UART's owner);
  ``busy``: high from the recorded image's result until the packet's end (no other writer
  should start).

One image is buffered: an image that starts entering the CNN while the previous recorded
image is still being sent is not recorded, and its result has no packet (the frame numbers
show the gap). The CRC is computed bit-serially, 8 clocks per byte, while ``uart_tx`` shifts
the byte out (``10 * divisor`` >= 20 clocks), so it costs no time: a packet takes
``packet_bytes(n) * uart_tx.cycles_per_byte`` clocks (each byte needs at least 11 clocks of
its own: fetch, load, hand-over, 8 CRC steps).
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, concat, enum, intbv

from model.capture import HEAD, MAX_SIDE, SYNC, packet_bytes

from ..lib.ram import ram
from ..lib.stream import check_stream

POLY = 0x1021
SEQ = 4      # image sequence numbers, modulo: more than the images inside the CNN at once


@block
def capture_packet(clk, rst, pix_valid, pix_data, arm, done, frame, digit, hold_off, m, sending,
                   busy, *, n: int):
    if not 2 <= n <= MAX_SIDE:
        raise ValueError(f"capture_packet: n={n} must be 2..{MAX_SIDE}")
    if len(pix_data) != 8 or len(frame) != 16 or len(digit) > 8:
        raise ValueError(f"capture_packet: pix_data is {len(pix_data)} bits (8), frame "
                         f"{len(frame)} (16), digit {len(digit)} (at most 8)")
    check_stream("m", m, bits=8, ready=True, signed=False)
    nn = n * n
    length = 4 + nn
    sync0, sync1 = SYNC
    last_k = packet_bytes(n) - 1

    # recording: the position in the image entering the CNN and the image buffer
    pcount = Signal(intbv(0, min=0, max=nn))
    in_seq, out_seq, held_seq = (Signal(intbv(0, min=0, max=SEQ)) for _ in range(3))
    writing, held, take_new = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    we, re = Signal(bool(0)), Signal(bool(0))
    waddr, raddr = Signal(intbv(0, min=0, max=nn)), Signal(intbv(0, min=0, max=nn))
    rdata = Signal(intbv(0)[8:])
    buffer = ram(clk, we, waddr, pix_data, re, raddr, rdata, depth=nn)

    # sending
    State = enum("IDLE", "WAIT", "FETCH", "LOAD", "SEND", "CRC")
    state = Signal(State.IDLE)
    k = Signal(intbv(0, min=0, max=last_k + 1))
    crc = Signal(intbv(0xFFFF)[16:])
    sh = Signal(intbv(0)[8:])
    cbit = Signal(intbv(0, min=0, max=8))
    pkt_frame = Signal(intbv(0)[16:])
    pkt_digit = Signal(intbv(0)[8:])
    next_byte = Signal(intbv(0)[8:])

    @always_comb
    def first_pixel():  # an image starts entering and may be recorded
        take_new.next = pix_valid and pcount == 0 and arm and not held

    @always_comb
    def record_ports():
        we.next = pix_valid and (writing or take_new)
        waddr.next = pcount
        re.next = state == State.FETCH
        if k >= HEAD and k < HEAD + nn:
            raddr.next = k - HEAD
        else:
            raddr.next = 0
        sending.next = state != State.IDLE and state != State.WAIT
        busy.next = state != State.IDLE

    @always_comb
    def pick():
        if k == 0:
            next_byte.next = sync0
        elif k == 1:
            next_byte.next = sync1
        elif k == 2:
            next_byte.next = length & 0xFF
        elif k == 3:
            next_byte.next = length >> 8
        elif k == 4:
            next_byte.next = pkt_frame[8:0]
        elif k == 5:
            next_byte.next = pkt_frame[16:8]
        elif k == 6:
            next_byte.next = pkt_digit
        elif k == 7:
            next_byte.next = n
        elif k < HEAD + nn:
            next_byte.next = rdata
        elif k == HEAD + nn:
            next_byte.next = crc[8:0]
        else:
            next_byte.next = crc[16:8]

    @always_seq(clk.posedge, reset=rst)
    def record():
        if pix_valid:
            if pcount == nn - 1:
                pcount.next = 0
            else:
                pcount.next = pcount + 1
            if pcount == 0:
                in_seq.next = (in_seq + 1) % SEQ
            if take_new:
                writing.next = 1
                held_seq.next = in_seq
            if we and pcount == nn - 1:
                writing.next = 0
                held.next = 1
        if done:
            out_seq.next = (out_seq + 1) % SEQ
        if state == State.IDLE:
            if done and held and out_seq == held_seq:
                pkt_frame.next = frame
                pkt_digit.next = digit
                state.next = State.WAIT
        elif state == State.WAIT:
            if not hold_off:
                k.next = 0
                crc.next = 0xFFFF
                state.next = State.FETCH
        elif state == State.FETCH:
            state.next = State.LOAD
        elif state == State.LOAD:
            m.data.next = next_byte
            m.valid.next = 1
            state.next = State.SEND
        elif state == State.SEND:
            if m.ready:
                m.valid.next = 0
                sh.next = m.data
                cbit.next = 0
                if k >= 2 and k < HEAD + nn:
                    state.next = State.CRC
                elif k == last_k:
                    held.next = 0
                    state.next = State.IDLE
                else:
                    k.next = k + 1
                    state.next = State.FETCH
        else:  # State.CRC: one bit per clock, most significant first
            if crc[15] ^ sh[7]:
                crc.next = concat(crc[15:0], False) ^ POLY
            else:
                crc.next = concat(crc[15:0], False)
            sh.next = concat(sh[7:0], False)
            if cbit == 7:
                k.next = k + 1
                state.next = State.FETCH
            else:
                cbit.next = cbit + 1

    return buffer, first_pixel, record_ports, pick, record
