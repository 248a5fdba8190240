"""preprocess against model.preprocess: the CNN input equals the numpy reference bit for bit."""
import numpy as np
import pytest
from myhdl import Signal, instance

from cosim import icarus
from hdl.camera import frame_assembler as fa
from hdl.camera.preprocess import global_background, normalise_cycles, preprocess
from hdl.lib.stream import Stream, sink, source
from model.preprocess import Geometry, for_model, gray
from model.preprocess import preprocess as reference
from tests.hdl.helpers import clock, make_clk_rst, need_tools, run


def beats(frames, geo, verdicts=None):
    """Assembler beats for ``frames`` (each followed by its verdict, GOOD unless told)."""
    xb, yb = fa.coord_bits(geo.width, geo.height)
    body = fa.out_bits(geo.width, geo.height) - fa.KIND_BITS
    out = []
    for i, frame in enumerate(frames):
        for y in range(geo.height):
            for x in range(geo.width):
                out.append((y << (16 + xb)) | (x << 16) | int(frame[y, x]))
        kind = (verdicts or {}).get(i, fa.KIND_GOOD)
        out.append((kind << body) | (i + 1))
    return out


def simulate(tmp_path, geo, values, n_images, *, gap=0.0, stall=0.0, hdl="myhdl", seed=0,
             timing=None):
    """Run ``values`` through preprocess; returns the CNN images. With ``timing`` (a dict):
    ``good``, the clock counts at which GOOD verdicts were taken, ``out``, those of the
    output transfers."""
    clk, rst = make_clk_rst()
    s = fa.out_stream(geo.width, geo.height)
    m = Stream(8, signed=False)
    accepted, dropped, allow = Signal(bool(0)), Signal(bool(0)), Signal(bool(1))
    dut = preprocess(clk, rst, s, m, allow, accepted, dropped, geo=geo)
    if hdl == "icarus":
        need_tools("iverilog", "vvp", "verilator")
        icarus.convert(dut, tmp_path, "pre_dut")
        icarus.verilator_lint(tmp_path / "pre_dut.v", "pre_dut")
        dut = icarus.cosimulation(tmp_path, "pre_dut", clk=clk, rst=rst, s_valid=s.valid,
                                  s_data=s.data, m_valid=m.valid, m_data=m.data,
                                  m_ready=m.ready, allow=allow, accepted=accepted,
                                  dropped=dropped)
    out = []
    timing = timing if timing is not None else {}
    timing.update(good=[], out=[])
    body = fa.out_bits(geo.width, geo.height) - fa.KIND_BITS
    good = timing["good"]

    @instance
    def verdicts():
        count = 0
        while True:
            yield clk.posedge
            count += 1
            if s.valid and int(s.data) >> body == fa.KIND_GOOD:
                good.append(count)

    want = n_images * geo.n * geo.n
    limit = len(values) * 3 + n_images * (normalise_cycles(geo) * 3 + 200) + 500
    run([dut, clock(clk), verdicts, source(clk, s, values, gap=gap, seed=seed, rst=rst),
         sink(clk, m, out, stall=stall, seed=seed + 1, cycles=timing["out"])],
        lambda: len(out) >= want, clk, limit, rst=rst)
    return np.array(out, np.uint8).reshape(-1, geo.n, geo.n)


def random_frames(geo, count, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 1 << 16, (geo.height, geo.width)) for _ in range(count)]


SMALL = [Geometry(20, 14, 4, 255, radius=1), Geometry(17, 13, 3, 16, radius=5),
         Geometry(20, 14, 4, 255, radius=0, threshold=100)]


@pytest.mark.parametrize("geo", SMALL, ids=["r1", "global", "threshold"])
def test_random_frames_equal_reference(tmp_path, geo):
    frames = random_frames(geo, 3, seed=geo.n)
    got = simulate(tmp_path, geo, beats(frames, geo), 3, gap=0.3, stall=0.3)
    np.testing.assert_array_equal(got, np.stack([reference(f, geo) for f in frames]))


def test_bad_frame_is_skipped(tmp_path):
    geo = SMALL[0]
    frames = random_frames(geo, 3, seed=7)
    got = simulate(tmp_path, geo, beats(frames, geo, {1: fa.KIND_BAD}), 2, gap=0.2)
    np.testing.assert_array_equal(got, np.stack([reference(frames[i], geo) for i in (0, 2)]))


def test_flat_frame_gives_zeros(tmp_path):
    """No ink anywhere: the reciprocal is 0 and the CNN sees an empty image."""
    geo = SMALL[0]
    frames = [np.full((geo.height, geo.width), 0xFFFF)]
    got = simulate(tmp_path, geo, beats(frames, geo), 1)
    assert not got.any()


def test_gray_weights_keep_white_and_black():
    assert gray(np.array([0xFFFF, 0x0000, 0xF800, 0x07E0, 0x001F])).tolist() == [255, 0, 76, 149,
                                                                                  28]


def test_camera_geometries():
    mnist, digits = for_model("mnist_cnn"), for_model("digits_cnn")
    assert (mnist.factor, mnist.x0, mnist.y0, mnist.shift) == (4, 24, 4, 4)
    assert (digits.factor, digits.x0, digits.y0, digits.shift) == (15, 20, 0, 8)
    with pytest.raises(ValueError, match="threshold=300"):
        Geometry(160, 120, 28, 255, radius=3, threshold=300)
    with pytest.raises(ValueError, match="cannot give"):
        Geometry(20, 6, 8, 255, radius=1)


@pytest.mark.parametrize("index", [0, 1], ids=["window", "global"])
def test_converted_verilog_in_icarus(tmp_path, index):
    geo = SMALL[index]
    frames = random_frames(geo, 2, seed=11)
    got = simulate(tmp_path, geo, beats(frames, geo), 2, gap=0.2, stall=0.2, hdl="icarus")
    np.testing.assert_array_equal(got, np.stack([reference(f, geo) for f in frames]))


@pytest.mark.parametrize("geo,whole", [(SMALL[0], False), (SMALL[1], True),
                                       (for_model("digits_cnn"), True)],
                         ids=["r1", "global", "digits"])
def test_normalise_cycles_is_the_rtl_count(tmp_path, geo, whole):
    """The timing model equals the clocks from the verdict to the last pixel's transfer, in
    both normaliser modes."""
    assert global_background(geo) == whole
    timing = {}
    simulate(tmp_path, geo, beats(random_frames(geo, 1, seed=4), geo), 1, timing=timing)
    assert timing["out"][-1] - timing["good"][0] == normalise_cycles(geo)
