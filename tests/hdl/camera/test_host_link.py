"""host_link, the UART's packet engine. Capture packets: every recorded image leaves as the
packet ``model.capture.encode`` makes of it (bit for bit, the host decoder finds it), with its
own result, in order; images are recorded only when armed and the buffer is free. Host mode:
each request's image goes into the CNN whole and its reply is the one ``model.hostlink.reply``
makes of the CNN's outputs and the clocks the testbench counted; a broken request is refused,
a bye answered."""
import random

import numpy as np
import pytest
from myhdl import Signal, instance, intbv

from cosim import icarus
from hdl.camera.host_link import host_link
from hdl.lib.stream import Stream
from model import capture, hostlink
from tests.hdl.helpers import clock, make_clk_rst, need_tools, run


def link(clk, rst, *, n, outputs=10, hdl="myhdl", tmp_path=None, silence=400):
    """host_link with every port as a signal (``sig``), as MyHDL or as converted Verilog."""
    b = lambda: Signal(bool(0))  # noqa: E731
    sig = dict(byte=Stream(8, signed=False, ready=False), pix=Stream(8, signed=False),
               feeding=b(), cnn_idle=Signal(bool(1)), done=b(), index=Signal(intbv(0)[4:]),
               frame=Signal(intbv(0)[16:]), logit_valid=b(),
               logit_data=Signal(intbv(0, min=-128, max=128)), mon_valid=b(),
               mon_data=Signal(intbv(0)[8:]), arm=b(), host_mode=b(), in_frame=b(),
               hold_off=b(), m=Stream(8, signed=False), sending=b(), busy=b(), active=b())
    params = dict(n=n, outputs=outputs, silence=silence, cycle_bits=16)
    if hdl == "myhdl":
        return host_link(clk, rst, *sig.values(), **params), sig
    icarus.convert(host_link(clk, rst, *sig.values(), **params), tmp_path, "link_dut")
    flat = {}
    for name, s in sig.items():
        if isinstance(s, Stream):
            flat.update({f"{name}_valid": s.valid, f"{name}_data": s.data})
            if s.has_ready:
                flat[f"{name}_ready"] = s.ready
        else:
            flat[name] = s
    return icarus.cosimulation(tmp_path, "link_dut", clk=clk, rst=rst, **flat), sig


def simulate(tmp_path, images, arms, *, spaced, hdl="myhdl", seed=0):
    """Feed ``images`` (k, n, n) as CNN input beats with random gaps; each image's result
    (digit = its index % 10, frame = 100 + index) follows its last pixel after a random
    delay. ``spaced``: the next image waits until the block is idle. Returns the bytes sent."""
    n = images.shape[1]
    clk, rst = make_clk_rst()
    dut, sig = link(clk, rst, n=n, hdl=hdl, tmp_path=tmp_path)
    pix_valid, pix_data, arm, done = sig["mon_valid"], sig["mon_data"], sig["arm"], sig["done"]
    frame, digit, hold_off, m, busy = (sig[k] for k in ("frame", "index", "hold_off", "m",
                                                        "busy"))
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
    images = rng.integers(0, 256, (24, 6, 6), dtype=np.uint8)
    data = simulate(tmp_path, images, [1] * 24, spaced=False, seed=3)
    got = [c.frame - 100 for c in decode(data)]
    assert got[0] == 0 and got == sorted(set(got)) and 1 < len(got) < 24, got
    assert data == expect(images, got)


def test_converted_verilog_in_icarus(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(11)
    images = rng.integers(0, 256, (3, 4, 4), dtype=np.uint8)
    data = simulate(tmp_path, images, [1, 0, 1], spaced=True, hdl="icarus", seed=1)
    assert data == expect(images, [0, 2])
    icarus.verilator_lint(tmp_path / "link_dut.v", "link_dut")


def test_bad_parameters():
    clk, rst = make_clk_rst()
    with pytest.raises(ValueError, match="n=1 "):
        link(clk, rst, n=1)
    with pytest.raises(ValueError, match="outputs=0 "):
        link(clk, rst, n=4, outputs=0)


def simulate_host(tmp_path, frames, *, n, outputs=10, hdl="myhdl", seed=0, gaps=()):
    """Send request ``frames`` (bytes) as UART bytes 20-30 clocks apart (``gaps``: (frame, byte,
    clocks) pauses before that byte), each after the previous reply; a stand-in CNN takes each
    image with random stalls and answers ``outputs`` int8 values from it, then its class index.
    Returns (the bytes sent, the images the CNN took, [(outputs, index, clocks)] per image,
    host_mode after each frame)."""
    clk, rst = make_clk_rst()
    dut, sig = link(clk, rst, n=n, outputs=outputs, hdl=hdl, tmp_path=tmp_path)
    byte, pix, m = sig["byte"], sig["pix"], sig["m"]
    rng = random.Random(seed)
    sent, taken, answers, modes = [], [], [], []
    state = {"left": len(frames), "cycle": 0}

    @instance
    def host():
        for _ in range(5):
            yield clk.posedge
        pause = {(f, b): c for f, b, c in gaps}
        for f, frame in enumerate(frames):
            replies = len(capture_free(sent))
            for b, value in enumerate(frame):
                for _ in range(rng.randint(20, 30) + pause.get((f, b), 0)):
                    yield clk.posedge
                byte.valid.next, byte.data.next = 1, value
                yield clk.posedge
                byte.valid.next = 0
            while len(capture_free(sent)) == replies:
                yield clk.posedge
            modes.append(int(sig["host_mode"]))
            state["left"] -= 1

    @instance
    def cnn():
        image, first = [], None
        while True:
            pix.ready.next = rng.random() < 0.7
            yield clk.posedge
            state["cycle"] += 1
            if pix.valid and pix.ready:
                first = state["cycle"] if not image else first
                image.append(int(pix.data))
            if len(image) == n * n:
                taken.append(np.array(image, dtype=np.uint8).reshape(n, n))
                pix.ready.next = 0
                for _ in range(rng.randint(5, 40)):
                    yield clk.posedge
                    state["cycle"] += 1
                values = [(int(np.sum(taken[-1], dtype=np.int64)) * (j + 3) + j) % 256 - 128
                          for j in range(outputs)]
                for v in values:
                    sig["logit_valid"].next, sig["logit_data"].next = 1, v
                    yield clk.posedge
                    state["cycle"] += 1
                sig["logit_valid"].next = 0
                sig["done"].next, sig["index"].next = 1, int(np.argmax(values))
                yield clk.posedge
                state["cycle"] += 1
                sig["done"].next = 0
                answers.append((values, int(np.argmax(values)), state["cycle"] - first))
                image = []

    @instance
    def sink():
        while True:
            m.ready.next = rng.random() < 0.6
            sig["hold_off"].next = rng.random() < 0.2
            yield clk.posedge
            if m.valid and m.ready:
                sent.append(int(m.data))

    run([dut, clock(clk), host, cnn, sink], lambda: state["left"] == 0, clk,
        400 * sum(len(f) for f in frames) + 50_000, rst=rst)
    return bytes(sent), taken, answers, modes


def capture_free(data):
    return hostlink.Decoder().feed(bytes(data))


@pytest.mark.parametrize("hdl", ["myhdl", "icarus"])
def test_host_requests_are_fed_and_answered(tmp_path, hdl):
    """A good request: the CNN takes its image whole, the reply carries the CNN's outputs, its
    class and the clocks from the first pixel taken to the class (as the testbench counted
    them). A bit flipped, a stall past the silence, and a wrong length: refused. Bye: answered,
    host mode off. Then good again."""
    if hdl == "icarus":
        need_tools("iverilog", "vvp")
    n = 4
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (3, n, n), dtype=np.uint8)
    flipped = bytearray(hostlink.request(8, images[1]))
    flipped[9] ^= 4
    wrong_length = hostlink.request(9, images[1][:3])
    frames = [hostlink.request(7, images[0]), bytes(flipped), hostlink.request(8, images[1]),
              wrong_length, hostlink.request(10, images[1]), hostlink.request(11, None),
              hostlink.request(12, images[2])]
    data, taken, answers, modes = simulate_host(tmp_path, frames, n=n, hdl=hdl, seed=4,
                                                gaps=[(4, 9, 500)])
    replies = hostlink.Decoder().feed(data)
    assert [(r.kind, r.seq) for r in replies] == [
        (hostlink.RESULT, 7), (hostlink.REFUSED, 8), (hostlink.RESULT, 8),
        (hostlink.REFUSED, 8), (hostlink.REFUSED, 10), (hostlink.BYE, 11),
        (hostlink.RESULT, 12)]
    assert modes == [1, 1, 1, 1, 1, 0, 1]
    for got, want in zip(taken, images[[0, 1, 2]]):
        np.testing.assert_array_equal(got, want)
    results = [r for r in replies if r.kind == hostlink.RESULT]
    for r, (values, index, clocks) in zip(results, answers):
        assert (r.outputs.tolist(), r.index, r.cycles) == (values, index, clocks)
        assert data.count(hostlink.reply(hostlink.RESULT, r.seq, index, values, clocks)) == 1
