"""Skid buffer: a register stage on a valid/ready stream that cuts the ready path too.

A plain output register passes ``m.ready`` straight back to ``s.ready``, so the handshake of a
chain of blocks is one combinational path from the last ready to the first memory's enable
(on the ECP5, mnist_cnn's conv3 line buffer to its input FIFO's block RAM and back: 11.4 ns,
9.7 of them routing). Here every output is a flip-flop: ``m.valid``, ``m.data`` and
``s.ready``. A beat taken at clock n is on ``m`` at n+1; one beat a clock passes while ``m``
is ready. When ``m`` stalls with a beat on it, the beat taken in that same clock (``s.ready``
was already high) waits in the skid register, and ``s.ready`` drops until it moves on::

    s.data --+--------------> [m.data]     m.data <= s.data, or <= skid when it is full
             +--> [skid] ---^
    s.ready = not [skid full]

Ports: ``clk``, ``rst``, ``s`` (a stream with ready), ``m`` (same width and sign), and
optionally ``full_next``: high when ``s.ready`` will be low at the next clock (combinational,
from this clock's registers and handshakes), so the block before can keep registered copies of
``s.ready`` for its many enable pins (``line_buffer``'s ``full_next``).
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, intbv

from .stream import check_stream


@block
def skid_buffer(clk, rst, s, m, *, full_next=None):
    check_stream("s", s, ready=True)
    check_stream("m", m, bits=s.bits, ready=True, signed=s.signed)
    skid = Signal(intbv(0, min=m.data.min, max=m.data.max))
    full = Signal(bool(0))

    @always_comb
    def ready():
        s.ready.next = not full

    @always_seq(clk.posedge, reset=rst)
    def valid():
        if full:
            if m.ready:
                m.valid.next = 1
                full.next = 0
        elif s.valid:
            if m.valid and not m.ready:
                full.next = 1
            else:
                m.valid.next = 1
        elif m.ready:
            m.valid.next = 0

    @always_seq(clk.posedge, reset=None)
    def data():
        if full:
            if m.ready:
                m.data.next = skid
        elif s.valid:
            if m.valid and not m.ready:
                skid.next = s.data
            else:
                m.data.next = s.data

    if full_next is None:
        return ready, valid, data

    @always_comb
    def ahead():  # the skid stays or becomes full: a beat waits while m stalls
        full_next.next = (full and not m.ready) or (not full and s.valid and m.valid
                                                    and not m.ready)

    return ready, valid, data, ahead
