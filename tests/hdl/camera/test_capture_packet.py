"""capture_packet: every recorded image leaves as the packet ``model.capture.encode`` makes of
it (bit for bit, the host decoder finds it), with its own result, in order; images are
recorded only when armed and the buffer is free."""
import random

import numpy as np
import pytest
from myhdl import Signal, instance, intbv

from cosim import icarus
from hdl.camera.capture_packet import capture_packet
from hdl.lib.stream import Stream
from model import capture
from tests.hdl.helpers import clock, make_clk_rst, need_tools, run


def simulate(tmp_path, images, arms, *, spaced, hdl="myhdl", seed=0):
    """Feed ``images`` (k, n, n) as CNN input beats with random gaps; each image's result
    (digit = its index % 10, frame = 100 + index) follows its last pixel after a random
    delay. ``spaced``: the next image waits until the block is idle. Returns the bytes sent."""
    n = images.shape[1]
    clk, rst = make_clk_rst()
    pix_valid, arm, done, hold_off = (Signal(bool(0)) for _ in range(4))
    pix_data = Signal(intbv(0)[8:])
    frame, digit = Signal(intbv(0)[16:]), Signal(intbv(0)[4:])
    m = Stream(8, signed=False)
    sending, busy = Signal(bool(0)), Signal(bool(0))
    ports = (clk, rst, pix_valid, pix_data, arm, done, frame, digit, hold_off, m, sending, busy)
    if hdl == "myhdl":
        dut = capture_packet(*ports, n=n)
    else:
        icarus.convert(capture_packet(*ports, n=n), tmp_path, "cap_dut")
        dut = icarus.cosimulation(tmp_path, "cap_dut", clk=clk, rst=rst, pix_valid=pix_valid,
                                  pix_data=pix_data, arm=arm, done=done, frame=frame,
                                  digit=digit, hold_off=hold_off, m_valid=m.valid,
                                  m_data=m.data, m_ready=m.ready, sending=sending, busy=busy)
    rng = random.Random(seed)
    sent, pending = [], []
    state = {"fed": False, "results": 0, "idle": 0}

    @instance
    def feed():
        for _ in range(5):
            yield clk.posedge
        for i, image in enumerate(images):
            if spaced:  # busy rises the clock after the result
                while pending:
                    yield clk.posedge
                yield clk.posedge
                yield clk.posedge
                while busy:
                    yield clk.posedge
            arm.next = arms[i]
            for p in image.flat:
                while rng.random() < 0.3:
                    pix_valid.next = 0
                    yield clk.posedge
                pix_valid.next, pix_data.next = 1, int(p)
                yield clk.posedge
            pix_valid.next = 0
            pending.append(i)
        state["fed"] = True

    @instance
    def results():
        while True:
            yield clk.posedge
            done.next = 0
            if pending and rng.random() < 0.05:
                i = pending.pop(0)
                done.next, frame.next, digit.next = 1, 100 + i, i % 10
                state["results"] += 1
                state["idle"] = 0

    @instance
    def sink():
        while True:
            m.ready.next = rng.random() < 0.6
            hold_off.next = rng.random() < 0.2
            yield clk.posedge
            if m.valid and m.ready:
                sent.append(int(m.data))
            state["idle"] = 0 if busy or m.valid else state["idle"] + 1

    def finished():
        return state["fed"] and state["results"] == len(images) and state["idle"] > 3

    run([dut, clock(clk), feed, results, sink], finished, clk, 200 * images.size + 20_000,
        rst=rst)
    return bytes(sent)


def decode(data):
    dec = capture.Decoder()
    got = dec.feed(data)
    assert (dec.crc_errors, dec.bad_headers, dec.skipped, dec.pending) == (0, 0, 0, 0)
    return got


def expect(images, indices):
    return b"".join(capture.encode(100 + i, i % 10, images[i]) for i in indices)


@pytest.mark.parametrize("n", [2, 5, 8])
def test_armed_images_are_sent(tmp_path, n):
    rng = np.random.default_rng(n)
    images = rng.integers(0, 256, (9, n, n), dtype=np.uint8)
    arms = [1, 1, 0, 1, 0, 0, 1, 1, 1]
    data = simulate(tmp_path, images, arms, spaced=True, seed=n)
    armed = [i for i, a in enumerate(arms) if a]
    assert data == expect(images, armed)
    assert [c.frame for c in decode(data)] == [100 + i for i in armed]


def test_back_to_back_images(tmp_path):
    """Back to back, two images inside the CNN: images that enter while a packet is pending
    are not recorded; the ones sent are bit-exact, each with its own result, in order."""
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (12, 6, 6), dtype=np.uint8)
    data = simulate(tmp_path, images, [1] * 12, spaced=False, seed=3)
    got = [c.frame - 100 for c in decode(data)]
    assert got[0] == 0 and got == sorted(set(got)) and 1 < len(got) < 12, got
    assert data == expect(images, got)


def test_converted_verilog_in_icarus(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(11)
    images = rng.integers(0, 256, (3, 4, 4), dtype=np.uint8)
    data = simulate(tmp_path, images, [1, 0, 1], spaced=True, hdl="icarus", seed=1)
    assert data == expect(images, [0, 2])
    icarus.verilator_lint(tmp_path / "cap_dut.v", "cap_dut")


def test_bad_parameters():
    clk, rst = make_clk_rst()
    b = lambda: Signal(bool(0))  # noqa: E731
    with pytest.raises(ValueError, match="n=1 must be 2..64"):
        capture_packet(clk, rst, b(), Signal(intbv(0)[8:]), b(), b(), Signal(intbv(0)[16:]),
                       Signal(intbv(0)[4:]), b(), Stream(8, signed=False), b(), b(), n=1)
