"""ov7670_capture against the behavioural camera: tagged RGB565 words, lines ended, faults."""
import numpy as np
from myhdl import ResetSignal, Signal, Simulation, StopSimulation, instance, intbv

from cosim import icarus
from cosim.ov7670_model import Faults, Timing, camera
from hdl.camera.ov7670_capture import EOL, PIXEL, VSYNC, WORD_BITS, ov7670_capture
from hdl.lib.stream import Stream
from tests.hdl.helpers import need_tools


def expected(frames, faults=None):
    faults = faults or {}
    out = []
    for i, frame in enumerate(frames):
        f = faults.get(i, Faults())
        h, w = frame.shape
        out.append((VSYNC, 0))
        for y in range(h if f.truncate is None else min(h, f.truncate)):
            if f.vsync_at == y:
                out.append((VSYNC, 0))
            n = f.line_lengths.get(y, w)
            for x in range(n):
                out.append((PIXEL, int(frame[y, x % w])))
            out.append((EOL, n))
    return out


def simulate(tmp_path, frames, faults=None, hdl="myhdl"):
    pclk, vsync, href = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    d = Signal(intbv(0)[8:])
    prst = ResetSignal(1, active=1, isasync=False)
    m = Stream(WORD_BITS, signed=False, ready=False)
    if hdl == "myhdl":
        dut = ov7670_capture(pclk, prst, vsync, href, d, m)
    else:
        icarus.convert(ov7670_capture(pclk, prst, vsync, href, d, m), tmp_path, "cap_dut")
        dut = icarus.cosimulation(tmp_path, "cap_dut", pclk=pclk, prst=prst, vsync=vsync,
                                  href=href, d=d, m_valid=m.valid, m_data=m.data)
    got, done = [], []

    @instance
    def collect():
        yield pclk.posedge
        yield pclk.posedge
        prst.next = 0
        while not done:
            yield pclk.posedge
            if m.valid:
                got.append((int(m.data) >> 16, int(m.data) & 0xFFFF))
        raise StopSimulation()

    Simulation(dut, camera(pclk, vsync, href, d, frames, Timing.short(), faults, done),
               collect).run(quiet=1)
    return got


def frames_(n, h=4, w=6, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 1 << 16, (h, w)) for _ in range(n)]


def test_frames_become_tagged_words(tmp_path):
    frames = frames_(3)
    assert simulate(tmp_path, frames) == expected(frames)


def test_faults_cost_only_their_frame(tmp_path):
    """Short and long lines, a truncated frame, a VSYNC mid-frame: the words say exactly what
    the pins did, so the system side can count and reject."""
    frames = frames_(4, seed=1)
    faults = {0: Faults(line_lengths={1: 3, 2: 8}), 1: Faults(truncate=2),
              2: Faults(vsync_at=2)}
    assert simulate(tmp_path, frames, faults) == expected(frames, faults)


def test_pclk_glitch_shifts_only_its_line(tmp_path):
    frames = frames_(2, seed=2)
    faults = {0: Faults(glitches={1: [3]})}
    got = simulate(tmp_path, frames, faults)
    want = expected(frames)
    # line 1 of frame 0 is corrupted (one repeated byte), every other word is right
    w = 6
    line1 = slice(w + 2, 2 * w + 3)    # after frame 0's VSYNC word and line 0
    assert got[: w + 2] == want[: w + 2]
    assert got[line1] != want[line1] and got[line1.stop - 1][0] == EOL
    assert got[line1.stop:] == want[line1.stop:]


def test_converted_verilog_in_icarus(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    frames = frames_(2, seed=3)
    assert simulate(tmp_path, frames, hdl="icarus") == expected(frames)
    icarus.verilator_lint(tmp_path / "cap_dut.v", "cap_dut")
