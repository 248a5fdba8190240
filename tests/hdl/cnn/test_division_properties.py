"""The pooling and mean divisions against golden for parameters drawn over their legal space
(hypothesis), in MyHDL and, converted, in Verilator with random gaps and stalls: a few examples
in the default run, many under ``-m slow``.

pool2d's average divides a k x k window's int8 sum by k*k with a multiply and a shift
(``pool2d.divider``), rounded half away from zero, then clamps to any [act_min, act_max];
mean folds s_in / s_out and 1 / (H W) into one multiplier and shift
(``qnet.mean_multiplier``) for any ratio of scales, any zero points in and out."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cosim import block_sim, icarus
from hdl.cnn.mean import mean, write_mems
from hdl.cnn.pool2d import pool2d
from hdl.lib.stream import Stream
from tests.hdl.cnn.test_mean import mean_layer
from tests.hdl.cnn.test_mean import simulate as simulate_mean
from tests.hdl.cnn.test_pool2d import golden_pool
from tests.hdl.cnn.test_pool2d import simulate as simulate_pool
from tests.hdl.helpers import make_clk_rst, need_tools

QUIET = dict(suppress_health_check=list(HealthCheck), deadline=None)
FEW, MANY = settings(max_examples=5, **QUIET), settings(max_examples=100, **QUIET)
V_FEW, V_MANY = settings(max_examples=1, **QUIET), settings(max_examples=20, **QUIET)


@st.composite
def images(draw, h, w, c, n=2):
    """int8 images, each value drawn over int8 with the extremes likely."""
    value = st.one_of(st.sampled_from([-128, 127, 0, -1]), st.integers(-128, 127))
    flat = draw(st.lists(value, min_size=n * h * w * c, max_size=n * h * w * c))
    return np.array(flat, np.int8).reshape(n, h, w, c)


@st.composite
def pool_case(draw):
    k = draw(st.sampled_from([2, 3]))
    h, w = draw(st.integers(k, 3 * k + 1)), draw(st.integers(k, 3 * k + 1))
    c = draw(st.sampled_from([1, 2, 3, 4]))
    lo = draw(st.integers(-128, 127))
    hi = draw(st.integers(lo, 127))
    return dict(k=k, x=draw(images(h, w, c)), lo=lo, hi=hi)


@st.composite
def mean_case(draw):
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    c = draw(st.sampled_from([1, 2, 3]))
    ratio = float(10.0 ** draw(st.floats(-3, 3)))
    layer = mean_layer(h, w, c, draw(st.integers(-128, 127)), draw(st.integers(-128, 127)), ratio)
    return dict(layer=layer, x=draw(images(h, w, c)))


def check_pool_myhdl(tmp_path, case):
    got, want, _ = simulate_pool(tmp_path, case["x"], case["k"], "avg", act_min=case["lo"],
                                 act_max=case["hi"], gap=0.2, stall=0.3, seed=3)
    np.testing.assert_array_equal(got, want)


def check_pool_verilator(tmp_path, case):
    x, k = case["x"], case["k"]
    n, h, w, c = x.shape
    want = golden_pool(x, k, "avg", case["lo"], case["hi"])
    clk, rst = make_clk_rst()
    s, m = Stream(8), Stream(8)
    icarus.convert(pool2d(clk, rst, s, m, h=h, w=w, c=c, k=k, op="avg", act_min=case["lo"],
                          act_max=case["hi"]), tmp_path, "pool_prop", testbench=False)
    got = block_sim.run_stream(tmp_path / "pool_prop.v", "pool_prop", x.ravel(), want.size, 8,
                               gap=25, stall=30, seed=5)
    np.testing.assert_array_equal(np.array(got, np.uint8).view(np.int8), want.ravel())


def check_mean_myhdl(tmp_path, case):
    got, want, _ = simulate_mean(tmp_path, case["layer"], case["x"], gap=0.2, stall=0.3, seed=3)
    np.testing.assert_array_equal(got, want)


def check_mean_verilator(tmp_path, case):
    layer, x = case["layer"], case["x"]
    from model import golden

    want = golden.mean(x, layer)
    paths = write_mems(layer, tmp_path)
    clk, rst = make_clk_rst()
    s, m = Stream(8), Stream(8)
    icarus.convert(mean(clk, rst, s, m, layer=layer, paths=paths), tmp_path, "mean_prop",
                   testbench=False)
    got = block_sim.run_stream(tmp_path / "mean_prop.v", "mean_prop", x.ravel(), want.size, 8,
                               gap=25, stall=30, seed=5)
    np.testing.assert_array_equal(np.array(got, np.uint8).view(np.int8), want.ravel())


@FEW
@given(case=pool_case())
def test_average_pool_myhdl(tmp_path_factory, case):
    check_pool_myhdl(tmp_path_factory.mktemp("pool"), case)


@FEW
@given(case=mean_case())
def test_mean_myhdl(tmp_path_factory, case):
    check_mean_myhdl(tmp_path_factory.mktemp("mean"), case)


@V_FEW
@given(case=pool_case())
def test_average_pool_verilator(tmp_path_factory, case):
    need_tools("verilator")
    check_pool_verilator(tmp_path_factory.mktemp("poolv"), case)


@V_FEW
@given(case=mean_case())
def test_mean_verilator(tmp_path_factory, case):
    need_tools("verilator")
    check_mean_verilator(tmp_path_factory.mktemp("meanv"), case)


@pytest.mark.slow
@MANY
@given(case=pool_case())
def test_average_pool_myhdl_many(tmp_path_factory, case):
    check_pool_myhdl(tmp_path_factory.mktemp("pool"), case)


@pytest.mark.slow
@MANY
@given(case=mean_case())
def test_mean_myhdl_many(tmp_path_factory, case):
    check_mean_myhdl(tmp_path_factory.mktemp("mean"), case)


@pytest.mark.slow
@V_MANY
@given(case=pool_case())
def test_average_pool_verilator_many(tmp_path_factory, case):
    need_tools("verilator")
    check_pool_verilator(tmp_path_factory.mktemp("poolv"), case)


@pytest.mark.slow
@V_MANY
@given(case=mean_case())
def test_mean_verilator_many(tmp_path_factory, case):
    need_tools("verilator")
    check_mean_verilator(tmp_path_factory.mktemp("meanv"), case)
