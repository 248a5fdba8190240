"""line_buffer: every k x k window of the image (every other one with stride 2), in raster
order, packed as the MAC engine reads it."""
import numpy as np
import pytest
from myhdl import Signal, block

from cosim import icarus
from hdl.cnn.line_buffer import check_params, cycles, line_buffer, pair
from hdl.lib.skid_buffer import skid_buffer
from hdl.lib.stream import Stream
from tests.hdl.helpers import make_clk_rst, need_tools, pack_words, stream_run


def windows(images, simd, k=3, stride=1):
    """Expected beats: per (image, y, x, channel group) the kh*kw taps (ky, kx) of SIMD lanes;
    ``k`` and ``stride`` one number or (rows, columns)."""
    n, h, w, c = images.shape
    (kh, kw), (sh, sw) = pair(k), pair(stride)
    win = np.lib.stride_tricks.sliding_window_view(images, (kh, kw), axis=(1, 2))
    win = win[:, ::sh, ::sw]  # n, h', w', c, kh, kw
    oh, ow = win.shape[1:3]
    win = win.reshape(n, oh, ow, c // simd, simd, kh * kw).transpose(0, 1, 2, 3, 5, 4)
    beats = []
    for taps in win.reshape(-1, kh * kw, simd):
        words = pack_words(taps, simd)
        beats.append(sum(word << (8 * simd * t) for t, word in enumerate(words)))
    return beats


@block
def copies_dut(clk, rst, s, m, *, h, w, c, simd, k, stride, **params):
    """The line buffer into a skid buffer that tells it its next ready (``full_next``): the
    line buffer's enables from register copies of its ready, as in conv2d before the engine."""
    windows_s = Stream(len(m.data), signed=False)
    full_next = Signal(bool(0))
    return (line_buffer(clk, rst, s, windows_s, h=h, w=w, c=c, simd=simd, k=k, stride=stride,
                        full_next=full_next, **params),
            skid_buffer(clk, rst, windows_s, m, full_next=full_next))


def simulate(tmp_path, images, simd, k=3, stride=1, copies=False, params=None, **kw):
    n, h, w, c = images.shape
    taps = pair(k)[0] * pair(k)[1]
    s, m = Stream(8 * simd, signed=False), Stream(8 * taps * simd, signed=False)
    want = windows(images, simd, k, stride)
    dut = copies_dut if copies else line_buffer
    out, when = stream_run(tmp_path, lambda clk, rst: dut(clk, rst, s, m, h=h, w=w, c=c,
                                                          simd=simd, k=k, stride=stride,
                                                          **(params or {})),
                           "line_buffer_dut", s, m, pack_words(images, simd), len(want), **kw)
    return out, want, when


@pytest.mark.parametrize("h,w,c,simd", [(3, 3, 1, 1), (4, 5, 1, 1), (5, 4, 3, 1), (6, 5, 4, 2),
                                        (5, 6, 8, 4), (4, 4, 2, 2), (7, 3, 6, 3)])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.3, 0.4)])
def test_random(tmp_path, h, w, c, simd, gap, stall):
    rng = np.random.default_rng(h * 100 + w * 10 + c)
    images = rng.integers(-128, 128, (2, h, w, c)).astype(np.int8)
    out, want, _ = simulate(tmp_path, images, simd, gap=gap, stall=stall, seed=c)
    assert out == want


@pytest.mark.parametrize("h,w,c,simd,k,stride", [
    (4, 5, 2, 1, 1, 1), (5, 6, 3, 3, 1, 2), (6, 7, 2, 1, 3, 2), (7, 6, 1, 1, 3, 2),
    (6, 6, 2, 2, 5, 1), (9, 8, 1, 1, 5, 2), (7, 8, 1, 1, 7, 1), (8, 9, 2, 1, 7, 2)])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.3, 0.4)])
def test_kernel_and_stride(tmp_path, h, w, c, simd, k, stride, gap, stall):
    """k = 1, 3, 5, 7 and stride 2 (odd and even sizes: the last row or column off the grid)."""
    rng = np.random.default_rng(h * 100 + w * 10 + k)
    images = rng.integers(-128, 128, (2, h, w, c)).astype(np.int8)
    out, want, _ = simulate(tmp_path, images, simd, k, stride, gap=gap, stall=stall, seed=c)
    assert out == want


@pytest.mark.parametrize("h,w,c,simd,k,stride", [
    (4, 5, 2, 1, 1, 1), (5, 6, 3, 3, 1, 2), (5, 4, 3, 1, 3, 1), (6, 5, 4, 2, 3, 1),
    (4, 4, 1, 1, 3, 1), (9, 8, 2, 1, 5, 2), (4, 5, 32, 16, 3, 1), (4, 4, 16, 16, 3, 1)])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.5), (0.3, 0.4)])
def test_ready_copies(tmp_path, h, w, c, simd, k, stride, gap, stall):
    """With ``full_next`` every group of registers has its own copy of the ready: the same
    windows under stalls (k = 1, column registers and memories, stride 2, 128-bit words cut
    into pieces of ``CHUNK`` bits)."""
    rng = np.random.default_rng(h * 100 + w * 10 + k)
    images = rng.integers(-128, 128, (2, h, w, c)).astype(np.int8)
    out, want, _ = simulate(tmp_path, images, simd, k=k, stride=stride, copies=True, gap=gap,
                            stall=stall, seed=c)
    assert out == want


def test_real_image(tmp_path, digits):
    """The digits_cnn input: 8x8x1 scikit-learn digits, quantized as the model does."""
    from model import presets, qnet

    net = qnet.from_tflite(presets.get("digits_cnn").tflite)
    images = net.quantize_input(presets.get("digits_cnn").to_float(digits.test.x[:2]))
    out, want, _ = simulate(tmp_path, images, 1, gap=0.2, stall=0.3)
    assert out == want


@pytest.mark.parametrize("h,w,c,simd", [(5, 6, 4, 2), (4, 4, 1, 1)])
def test_cycle_model(tmp_path, h, w, c, simd):
    images = np.zeros((3, h, w, c), np.int8)
    _, want, when = simulate(tmp_path, images, simd)
    per = len(want) // 3
    last = [when[(i + 1) * per - 1] for i in range(3)]
    assert [last[1] - last[0], last[2] - last[1]] == [cycles(h, w, c, simd)] * 2


# c = 2: column memories; c = 1: column registers; k = 1 neither; k = 5 stride 2; the ready
# copies (the skid's s.ready is then read by nothing, so that one is not linted)
@pytest.mark.parametrize("c,k,stride,copies", [(2, 3, 1, False), (1, 3, 1, False),
                                               (2, 1, 2, False), (2, 5, 2, False),
                                               (2, 3, 1, True)])
def test_converted_verilog_in_icarus(tmp_path, c, k, stride, copies):
    need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(3)
    images = rng.integers(-128, 128, (2, 6, 5, c)).astype(np.int8)
    out, want, _ = simulate(tmp_path, images, 1, k, stride, copies=copies, gap=0.3, stall=0.3,
                            hdl="icarus")
    assert out == want
    if not copies:
        icarus.verilator_lint(tmp_path / "line_buffer_dut.v", "line_buffer_dut")


def test_wide_words_in_icarus(tmp_path):
    """16 channels a word: the registers cut into pieces of ``CHUNK`` bits, converted and
    co-simulated, with and without the ready copies."""
    need_tools("iverilog", "vvp")
    rng = np.random.default_rng(5)
    images = rng.integers(-128, 128, (2, 4, 4, 16)).astype(np.int8)
    for copies in (False, True):
        out, want, _ = simulate(tmp_path / str(copies), images, 16, copies=copies, gap=0.3,
                                stall=0.3, hdl="icarus")
        assert out == want


def test_bad_parameters():
    clk, rst = make_clk_rst()
    for kw, match in [(dict(h=2, w=5, c=1), "H=2"), (dict(h=5, w=2, c=1), "W=2"),
                      (dict(h=5, w=5, c=3, simd=2), "SIMD=2"), (dict(h=5, w=5, c=1, k=4), "k=4"),
                      (dict(h=5, w=5, c=1, stride=3), "stride=3"),
                      (dict(h=6, w=4, c=1, k=5), "W=4: a 5x5 window")]:
        simd, k = kw.get("simd", 1), kw.get("k", 3)
        with pytest.raises(ValueError, match=match):
            line_buffer(clk, rst, Stream(8 * simd, signed=False),
                        Stream(8 * k * k * simd, signed=False), **kw)
    with pytest.raises(ValueError, match="needs 72"):
        line_buffer(clk, rst, Stream(8, signed=False), Stream(64, signed=False), h=4, w=4, c=1)


@pytest.mark.parametrize("h,w,c,simd,k,stride", [
    (12, 6, 1, 1, (10, 4), (2, 2)), (7, 6, 2, 2, (3, 2), (1, 1)), (6, 7, 2, 1, (2, 3), (2, 1)),
    (7, 5, 3, 3, (4, 2), (1, 2)), (5, 9, 1, 1, (2, 5), (2, 2))])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.3, 0.4)])
def test_rectangular(tmp_path, h, w, c, simd, k, stride, gap, stall):
    """kh x kw windows (even sides too: keyword spotting's 10x4), strides sh x sw, in raster
    order, under gaps and stalls, with the enable copies."""
    rng = np.random.default_rng(h * 100 + w * 10 + c)
    images = rng.integers(-128, 128, (2, h, w, c)).astype(np.int8)
    out, want, _ = simulate(tmp_path, images, simd, k=k, stride=stride, copies=True, gap=gap,
                            stall=stall, seed=c)
    assert out == want


@pytest.mark.parametrize("h,w,c,simd,k,stride,copies", [
    (5, 4, 3, 1, 3, 1, False), (6, 5, 4, 2, 3, 1, True), (9, 8, 2, 1, 5, 2, True),
    (4, 5, 32, 16, 3, 1, True), (6, 2, 1, 1, (3, 2), 1, False), (7, 2, 1, 1, (4, 2), (2, 1), True),
    (5, 3, 1, 1, 3, 1, True)])
@pytest.mark.parametrize("gap,stall", [(0.0, 0.0), (0.3, 0.4)])
def test_rows_read_ahead(tmp_path, h, w, c, simd, k, stride, copies, gap, stall):
    """Row memories that read ahead into a fabric register (forced here on small rows with
    ``ahead=True``; block-RAM sized rows do it by default): the same windows under gaps and
    stalls, a row of 2 words (the read meeting the write) and of 3 among them."""
    rng = np.random.default_rng(h * 100 + w * 10 + c)
    images = rng.integers(-128, 128, (3, h, w, c)).astype(np.int8)
    out, want, _ = simulate(tmp_path, images, simd, k=k, stride=stride, copies=copies,
                            params={"ahead": True}, gap=gap, stall=stall, seed=c)
    assert out == want


def test_rows_read_ahead_in_icarus(tmp_path):
    need_tools("iverilog", "vvp", "verilator")
    rng = np.random.default_rng(4)
    images = rng.integers(-128, 128, (2, 6, 5, 2)).astype(np.int8)
    out, want, _ = simulate(tmp_path, images, 1, 3, 1, params={"ahead": True}, gap=0.3,
                            stall=0.3, hdl="icarus")
    assert out == want
    icarus.verilator_lint(tmp_path / "line_buffer_dut.v", "line_buffer_dut")


@pytest.mark.parametrize("k,stride,msg", [((3, 17), 1, "sides must each be 2 to 16"),
                                          ((4, 4), 1, "k=4: the window side must be one of"),
                                          ((3, 2), (3, 1), "stride=3"),
                                          ((10, 4), 1, "H=9: a 10x4 window needs at least 10")])
def test_rectangular_refusals(k, stride, msg):
    with pytest.raises(ValueError, match=msg):
        check_params(9, 20, 1, 1, k, stride)


def test_wide_lut_ram_rows_in_icarus(tmp_path):
    """Rows of 1,024 bits or more that Yosys makes LUT RAM (10 words of 128 bits) do not read
    ahead; they are cut into pieces of ``ADDR_CHUNK`` bits, each with its own address copies:
    the same windows under gaps and stalls, converted, co-simulated and linted."""
    from hdl.cnn.line_buffer import AHEAD_BITS, reads_ahead

    need_tools("iverilog", "vvp", "verilator")
    assert 10 * 128 >= AHEAD_BITS and not reads_ahead(10, 128)
    rng = np.random.default_rng(6)
    images = rng.integers(-128, 128, (2, 4, 5, 32)).astype(np.int8)
    out, want, _ = simulate(tmp_path, images, 16, gap=0.3, stall=0.3, hdl="icarus")
    assert out == want
    icarus.verilator_lint(tmp_path / "line_buffer_dut.v", "line_buffer_dut")
