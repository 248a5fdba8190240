"""sccb_master: a behavioural SCCB target on the pins records every write; it must see the
register table, in order, with legal start/stop conditions and the reset wait."""
import pytest
from myhdl import Signal, instance

from cosim import icarus
from hdl.camera.sccb_master import (
    DEVICE_WRITE_ID,
    OV7670_QQVGA_RGB565,
    OV7670_QVGA_RGB565,
    OV7670_RGB565,
    sccb_master,
    write_clocks,
)
from tests.hdl.helpers import clock, make_clk_rst, need_tools, run

CLK_HZ, SCCB_HZ = 4e6, 100e3  # 10 clocks per quarter period


def target(clk, sio_c, sio_d_out, sio_d_oe, writes, errors, cycle):
    """Decode the bus like an OV7670 would: bits on SIO_C rising edges, start and stop from
    SIO_D edges while SIO_C is high. The line is pulled up when the master releases it, and
    the target pulls it low during each ninth bit (as a sensor that acknowledges)."""

    @instance
    def decode():
        prev_c, prev_d = 1, 1
        bits = None
        while True:
            yield clk.posedge
            cycle[0] += 1
            c = int(sio_c)
            d = int(sio_d_out) if sio_d_oe else 0  # released: the target drives 0 (ack)
            if bits is not None and len(bits) % 9 == 8 and not prev_c and c and sio_d_oe:
                errors.append(f"master drives SIO_D in the don't-care bit at {cycle[0]}")
            if prev_c and c and prev_d and not d:  # start
                if bits is not None:
                    errors.append(f"start inside a transmission at {cycle[0]}")
                bits = []
            elif prev_c and c and not prev_d and d:  # stop
                # 27 bits, then the stop's own SIO_C rise (SIO_D low) before SIO_D rises
                if bits is None or len(bits) != 28 or bits[27] != 0:
                    errors.append(f"stop after {None if bits is None else len(bits)} bits")
                else:
                    data = [sum(b << (7 - i) for i, b in enumerate(bits[9 * p: 9 * p + 8]))
                            for p in range(3)]
                    writes.append((tuple(data), cycle[0]))
                bits = None
            elif not prev_c and c and bits is not None:  # SIO_C rising: sample
                bits.append(d)
            elif prev_c and c and prev_d != d and bits is not None:
                errors.append(f"SIO_D changed while SIO_C high at {cycle[0]}")
            prev_c, prev_d = c, d

    return decode


def simulate(tmp_path, regs, *, reset_wait=0, hdl="myhdl", restart=False):
    clk, rst = make_clk_rst()
    start, sio_c, sio_d_out, sio_d_oe, done = (Signal(bool(0)) for _ in range(5))
    params = dict(clk_hz=CLK_HZ, sccb_hz=SCCB_HZ, regs=regs, reset_wait=reset_wait)
    if hdl == "myhdl":
        dut = sccb_master(clk, rst, start, sio_c, sio_d_out, sio_d_oe, done, **params)
    else:
        icarus.convert(sccb_master(clk, rst, start, sio_c, sio_d_out, sio_d_oe, done, **params),
                       tmp_path, "sccb_dut")
        dut = icarus.cosimulation(tmp_path, "sccb_dut", clk=clk, rst=rst, start=start,
                                  sio_c=sio_c, sio_d_out=sio_d_out, sio_d_oe=sio_d_oe, done=done)
    writes, errors, cycle = [], [], [0]
    passes = [0]

    @instance
    def control():
        while True:
            yield clk.posedge
            if done and not start:
                passes[0] += 1
                if restart and passes[0] == 1:
                    start.next = 1
                    yield clk.posedge
                    start.next = 0

    want = len(regs) * (2 if restart else 1)
    limit = (want + 2) * write_clocks(CLK_HZ, SCCB_HZ) + 2 * reset_wait + 200
    run([dut, clock(clk), target(clk, sio_c, sio_d_out, sio_d_oe, writes, errors, cycle),
         control], lambda: passes[0] >= (2 if restart else 1), clk, limit, rst=rst)
    assert errors == []
    return writes


def test_qqvga_table_written_in_order(tmp_path):
    writes = simulate(tmp_path, OV7670_QQVGA_RGB565)
    assert [w for w, _ in writes] == [(DEVICE_WRITE_ID, r, v) for r, v in OV7670_QQVGA_RGB565]
    # one write every 30 slots of 4 quarter periods
    gaps = {b - a for (_, a), (_, b) in zip(writes[1:], writes[2:])}
    assert gaps == {write_clocks(CLK_HZ, SCCB_HZ)}


def test_reset_wait_and_restart(tmp_path):
    """After COM7's reset bit the master waits; `start` writes the whole table again."""
    regs = [(0x12, 0x80), (0x12, 0x04), (0x40, 0xD0)]
    writes = simulate(tmp_path, regs, reset_wait=500, restart=True)
    assert [w for w, _ in writes] == [(DEVICE_WRITE_ID, r, v) for r, v in regs] * 2
    assert writes[1][1] - writes[0][1] >= write_clocks(CLK_HZ, SCCB_HZ) + 500
    assert writes[2][1] - writes[1][1] == write_clocks(CLK_HZ, SCCB_HZ)


def test_converted_verilog_in_icarus(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    regs = OV7670_QVGA_RGB565[:4]
    writes = simulate(tmp_path, regs, hdl="icarus")
    assert [w for w, _ in writes] == [(DEVICE_WRITE_ID, r, v) for r, v in regs]
    icarus.verilator_lint(tmp_path / "sccb_dut.v", "sccb_dut")


def test_bad_parameters():
    clk, rst = make_clk_rst()
    pins = [Signal(bool(0)) for _ in range(5)]
    with pytest.raises(ValueError, match="whole number"):
        sccb_master(clk, rst, *pins, clk_hz=50e6, sccb_hz=300e3)
    with pytest.raises(ValueError, match="400 kHz"):
        sccb_master(clk, rst, *pins, clk_hz=50e6, sccb_hz=500e3)
    with pytest.raises(ValueError, match="not a pair of bytes"):
        sccb_master(clk, rst, *pins, clk_hz=4e6, regs=[(0x12, 0x100)])
    with pytest.raises(ValueError, match="empty"):
        sccb_master(clk, rst, *pins, clk_hz=4e6, regs=[])


@pytest.mark.parametrize("size", sorted(OV7670_RGB565))
def test_each_table_frames_its_size(size):
    """Each table, read as the sensor reads it: the window is 640 x 480 sensor pixels (HSTART,
    HSTOP and HREF's low bits, 784 pixel periods a line; VSTART, VSTOP and VREF's low bits),
    scaled down by the DCW factor to the table's size, with PCLK divided by that factor
    (COM14, SCALING_PCLK_DIV) and scaling on exactly when it divides (COM3)."""
    regs = dict(OV7670_RGB565[size][0])
    hstart = regs[0x17] << 3 | regs[0x32] & 7
    hstop = regs[0x18] << 3 | regs[0x32] >> 3 & 7
    vstart = regs[0x19] << 2 | regs[0x03] & 3
    vstop = regs[0x1A] << 2 | regs[0x03] >> 2 & 3
    assert ((hstop - hstart) % 784, vstop - vstart) == (640, 480)
    log2 = {1: 0, 2: 1, 4: 2}[640 // size[0]]
    assert 480 >> log2 == size[1]
    assert regs[0x72] == log2 << 4 | log2 if log2 else regs[0x72] == 0x11   # DCW: 2 ** n
    # COM14: PCLK divider and manual scaling on (0x18), PCLK divided by 2 ** bits [2:0]
    assert regs[0x3E] == (0x18 | log2 if log2 else 0)
    assert regs[0x73] & 7 == log2
    assert regs[0x0C] == (0x04 if log2 else 0x00)
    assert OV7670_RGB565[size][1] == 1 / (1 << log2)
    assert regs[0x40] == 0xD0 and regs[0x12] == 0x04   # RGB565 full range, RGB output
