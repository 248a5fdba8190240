"""SCCB master: writes the OV7670's register table once after reset (or on ``start``).

SCCB is OmniVision's write-mostly variant of I2C. A 3-phase write is: start condition (SIO_D
falls while SIO_C is high), the device ID (0x42 = the OV7670's write address), the register
address, the value, each byte MSB first and followed by a ninth "don't care" bit during which
the master releases SIO_D, then a stop condition (SIO_D rises while SIO_C is high).

Ports: ``clk``, ``rst``; ``start`` (a high level begins a new pass over the table once the
previous one is done); ``sio_c`` (the clock pin, driven push-pull: the OV7670's SIO_C is an
input); ``sio_d_out`` and ``sio_d_oe`` (the data pin is ``sio_d_out`` when ``sio_d_oe``,
released otherwise, so the board top writes ``sio_d = oe ? out : 'z`` with a pull-up);
``done`` (high once the whole table was written, until the next start).

Parameters: ``clk_hz``, ``sccb_hz`` (the SIO_C rate, at most 400 kHz by the datasheet;
``clk_hz / (4 * sccb_hz)`` must be a whole number: one bit is four quarter periods),
``regs`` (the table: (register, value) pairs, default ``OV7670_QQVGA_RGB565``), and
``reset_wait`` (clocks to wait after a write of COM7's reset bit, 0x12 <- 0x80: the sensor
needs about 1 ms before it takes the next write).

One write takes 29 bit slots (start, 27 bits, stop) plus one idle slot: 30 x 4 quarter
periods, and one clock to move to the next entry (``write_clocks``). Each quarter period::

    bit slot:  SIO_C  __/~~      quarter 0-1 low (SIO_D changes at quarter 0), 2-3 high
    start:     SIO_D  ~~\\__      SIO_C high throughout, SIO_D falls at quarter 2
    stop:      SIO_D  __/~~      SIO_C low at quarter 0, high from 1; SIO_D rises at quarter 2
"""
from __future__ import annotations

from myhdl import Signal, always_comb, always_seq, block, intbv

DEVICE_WRITE_ID = 0x42
COM7, COM7_RESET = 0x12, 0x80

# OV7670 registers for RGB565 output at QQVGA (160 x 120), QVGA (320 x 240) and VGA
# (640 x 480). Sources: the OV7670 Implementation Guide (scaling and window registers per
# size) and the Linux driver (drivers/media/i2c/ov7670.c: ov7670_fmt_rgb565; its defaults
# COM3 = 0, COM14 = 0, 0x72 = 0x11, 0x73 = 0xF0 for VGA; the VGA window hstart 158, hstop 14,
# vstart 10, vstop 490, written as ov7670_set_hw does: HSTART = 158 >> 3, HSTOP = 14 >> 3,
# HREF = 0x80 | (14 & 7) << 3 | (158 & 7), VSTART = 10 >> 2, VSTOP = 490 >> 2,
# VREF = (490 & 3) << 2 | (10 & 3)):
#   COM7 0x12 = 0x80  soft reset (all registers to defaults), then 0x04: RGB output
#   RGB444 0x8C = 0x00 (RGB444 off), COM1 0x04 = 0x00 (no CCIR656)
#   COM15 0x40 = 0xD0  RGB565, full 0x00-0xFF output range
#                       QQVGA  QVGA  VGA
#   COM3 0x0C           0x04   0x04  0x00  scaling (DCW) on / off
#   COM14 0x3E          0x1A   0x19  0x00  PCLK divided by 4 / 2, manual scaling; VGA: neither
#   SCALING_DCWCTR 0x72 0x22   0x11  0x11  downsample by 4 / 2 both ways (VGA: not used)
#   SCALING_PCLK 0x73   0xF2   0xF1  0xF0  DSP clock divided by 4 / 2 / 1
#   HSTART 0x17         0x16   0x16  0x13  the horizontal window
#   HSTOP 0x18          0x04   0x04  0x01
#   HREF 0x32           0xA4   0x24  0xB6
#   VSTART 0x19 = 0x02, VSTOP 0x1A = 0x7A, VREF 0x03 = 0x0A  the vertical window (all three)
# PCLK is XCLK at VGA, XCLK / 2 at QVGA and XCLK / 4 at QQVGA (two PCLKs a pixel); the frame
# rate is the same at every size (30 frames/s from a 24-25 MHz XCLK).
_COMMON = [(COM7, COM7_RESET), (COM7, 0x04), (0x8C, 0x00), (0x04, 0x00), (0x40, 0xD0)]
_VERTICAL = [(0x19, 0x02), (0x1A, 0x7A), (0x03, 0x0A)]
OV7670_QQVGA_RGB565 = _COMMON + [(0x0C, 0x04), (0x3E, 0x1A), (0x72, 0x22), (0x73, 0xF2),
                                 (0x17, 0x16), (0x18, 0x04), (0x32, 0xA4)] + _VERTICAL
OV7670_QVGA_RGB565 = _COMMON + [(0x0C, 0x04), (0x3E, 0x19), (0x72, 0x11), (0x73, 0xF1),
                                (0x17, 0x16), (0x18, 0x04), (0x32, 0x24)] + _VERTICAL
OV7670_VGA_RGB565 = _COMMON + [(0x0C, 0x00), (0x3E, 0x00), (0x72, 0x11), (0x73, 0xF0),
                               (0x17, 0x13), (0x18, 0x01), (0x32, 0xB6)] + _VERTICAL
# frame size -> (register table, PCLKs per XCLK)
OV7670_RGB565 = {(160, 120): (OV7670_QQVGA_RGB565, 1 / 4),
                 (320, 240): (OV7670_QVGA_RGB565, 1 / 2),
                 (640, 480): (OV7670_VGA_RGB565, 1.0)}


def ov7670_table(width: int, height: int) -> tuple[list, float]:
    """(register table, PCLKs per XCLK) of the OV7670 at ``width`` x ``height``."""
    try:
        return OV7670_RGB565[(width, height)]
    except KeyError:
        raise ValueError(f"the OV7670 tables are for 160x120 (QQVGA), 320x240 (QVGA) and "
                         f"640x480 (VGA), not {width}x{height}") from None

SLOTS = 30  # start, 3 x 9 bits, stop, idle


def quarter_clocks(clk_hz: float, sccb_hz: float) -> int:
    if not 0 < sccb_hz <= 400e3:
        raise ValueError(f"sccb_master: sccb_hz={sccb_hz:g} must be in (0, 400 kHz]")
    q = clk_hz / (4 * sccb_hz)
    if q != int(q) or q < 1:
        raise ValueError(f"sccb_master: clk_hz / (4 * sccb_hz) = {q:g} must be a whole number "
                         f">= 1")
    return int(q)


def write_clocks(clk_hz: float, sccb_hz: float) -> int:
    """Clocks from one register write to the next: 30 slots of 4 quarter periods, and the
    clock in which the master moves to the next table entry."""
    return SLOTS * 4 * quarter_clocks(clk_hz, sccb_hz) + 1


@block
def sccb_master(clk, rst, start, sio_c, sio_d_out, sio_d_oe, done, *, clk_hz: float,
                sccb_hz: float = 100e3, regs=None, reset_wait: int = 0):
    regs = list(OV7670_QQVGA_RGB565 if regs is None else regs)
    q = quarter_clocks(clk_hz, sccb_hz)
    if not regs:
        raise ValueError("sccb_master: the register table is empty")
    for reg, value in regs:
        if not (0 <= reg <= 0xFF and 0 <= value <= 0xFF):
            raise ValueError(f"sccb_master: ({reg:#x}, {value:#x}) is not a pair of bytes")
    if reset_wait < 0:
        raise ValueError(f"sccb_master: reset_wait={reset_wait} must be >= 0")
    # one 27-bit word per write: ID, register, value (MSB first); and whether it resets
    table = tuple((DEVICE_WRITE_ID << 16) | (reg << 8) | value for reg, value in regs)
    resets = tuple(int(reg == COM7 and value & COM7_RESET != 0) for reg, value in regs)
    n = len(table)
    # per bit slot (1-27): the word bit it sends, or the don't-care bit; tables, not a
    # division by 9 in hardware
    dont_care = tuple(int(1 <= k < 28 and (k - 1) % 9 == 8) for k in range(SLOTS))
    bit_of = tuple(23 - (k - 1) + (k - 1) // 9 if 1 <= k < 28 and (k - 1) % 9 != 8 else 0
                   for k in range(SLOTS))
    let_go = Signal(bool(0))
    bit_no = Signal(intbv(0, min=0, max=24))

    entry = Signal(intbv(0, min=0, max=n + 1))
    word = Signal(intbv(0)[24:])
    is_reset = Signal(bool(0))
    slot = Signal(intbv(0, min=0, max=SLOTS))
    quarter = Signal(intbv(0, min=0, max=4))
    tick = Signal(intbv(0, min=0, max=q))
    hold_off = Signal(intbv(0, min=0, max=reset_wait + 1))
    running = Signal(bool(0))
    c_q, d_q, oe_q = Signal(bool(1)), Signal(bool(1)), Signal(bool(1))  # reset: bus idle

    @always_seq(clk.posedge, reset=rst)
    def rom():
        if entry < n:
            word.next = table[entry]
            is_reset.next = resets[entry]

    @always_comb
    def slot_table():
        let_go.next = dont_care[slot]
        bit_no.next = bit_of[slot]

    @always_seq(clk.posedge, reset=rst)
    def sequencer():
        if not running:
            c_q.next = 1
            d_q.next = 1
            oe_q.next = 1
            if hold_off != 0:
                hold_off.next = hold_off - 1
            elif entry == n:
                done.next = 1
                if start:
                    entry.next = 0
                    done.next = 0
            elif not done:
                running.next = 1
                slot.next = 0
                quarter.next = 0
                tick.next = 0
        else:
            # pins for this quarter of this slot
            if slot == 0:  # start: SIO_D falls while SIO_C is high
                c_q.next = 1
                oe_q.next = 1
                d_q.next = quarter < 2
            elif slot < 28:
                c_q.next = quarter >= 2
                if let_go:  # the don't-care bit: release SIO_D
                    oe_q.next = 0
                    d_q.next = 1
                else:
                    oe_q.next = 1
                    d_q.next = word[bit_no]
            elif slot == 28:  # stop: SIO_C rises, then SIO_D rises
                c_q.next = quarter != 0
                oe_q.next = 1
                d_q.next = quarter >= 2
            else:  # idle slot between writes
                c_q.next = 1
                oe_q.next = 1
                d_q.next = 1
            # time
            if tick == q - 1:
                tick.next = 0
                if quarter == 3:
                    quarter.next = 0
                    if slot == SLOTS - 1:
                        slot.next = 0
                        running.next = 0
                        entry.next = entry + 1
                        if is_reset:
                            hold_off.next = reset_wait
                    else:
                        slot.next = slot + 1
                else:
                    quarter.next = quarter + 1
            else:
                tick.next = tick + 1

    @always_comb
    def pins():
        sio_c.next = c_q
        sio_d_out.next = d_q
        sio_d_oe.next = oe_q

    return rom, slot_table, sequencer, pins
