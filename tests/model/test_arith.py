"""The requantization primitives against a plain big-integer reading of their definitions."""
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from model import golden, qnet

I32 = st.integers(-(1 << 31), (1 << 31) - 1)


def srdhm_ref(a, b):
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return int((ab + nudge) / (1 << 31)) if abs(ab) < (1 << 52) else \
        (abs(ab + nudge) >> 31) * (1 if ab + nudge >= 0 else -1)


def rdbpot_ref(x, e):
    mask = (1 << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if rem > thr else 0)


@given(I32, I32)
@settings(max_examples=2000)
def test_srdhm(a, b):
    assert int(golden.saturating_rounding_doubling_high_mul(a, b)) == srdhm_ref(a, b)


def test_srdhm_saturates():
    m = -(1 << 31)
    assert int(golden.saturating_rounding_doubling_high_mul(m, m)) == (1 << 31) - 1


@given(I32, st.integers(0, 31))
@settings(max_examples=2000)
def test_rounding_divide_by_pot(x, e):
    assert int(golden.rounding_divide_by_pot(x, e)) == rdbpot_ref(x, e)


def test_rounding_divide_negative_ties_away_from_zero():
    assert golden.rounding_divide_by_pot([-3, -5, 3, 5, -4], 1).tolist() == [-2, -3, 2, 3, -2]


@given(st.integers(-(1 << 24), 1 << 24), st.integers(1 << 30, (1 << 31) - 1), st.integers(-31, 0))
@settings(max_examples=2000)
def test_multiply_by_quantized_multiplier(x, m, shift):
    want = rdbpot_ref(srdhm_ref(x, m), -shift)
    assert int(golden.multiply_by_quantized_multiplier(x, m, shift)) == want


@given(st.floats(1e-9, 1e3, allow_nan=False))
def test_quantize_multiplier_represents_the_scale(real):
    m, shift = qnet.quantize_multiplier(real)
    if m:
        assert (1 << 30) <= m < (1 << 31)
        assert abs(m * 2.0 ** (shift - 31) - real) <= real * 2.0 ** -30


@given(st.floats(-12, 3), st.integers(1, (1 << 31) - 1), st.data())
@settings(max_examples=300, deadline=None)
def test_rounding_multiplier_equals_double_round(log_eff, bound, data):
    """For any scale and accumulator bound: the integer form equals the kernel's double
    rounding wherever an int8 output can show it (|result| <= SHOWN) and at the int32 limits,
    so the requantized outputs are equal for every accumulator, zero point and clamp."""
    eff = float(10.0 ** log_eff)
    m, shift = qnet.rounding_multiplier(eff, bound)
    accs = data.draw(st.lists(st.integers(-bound, bound), min_size=1, max_size=50))
    # the accumulators right next to half-integers, where a cheap multiplier goes wrong, and
    # next to the int32 limits of the result
    for h in [j + 0.5 for j in range(-5, 5)] + [data.draw(st.integers(-300, 300)) + 0.5] + \
            [s * ((1 << 31) + d + 0.5) for s in (1, -1) for d in (-130, -1, 0, 1)]:
        a = math.floor(h / eff)
        accs += [v for v in (a - 1, a, a + 1, a + 2) if abs(v) <= bound]
    arr = np.array(accs, np.int64)
    ints = golden.round_multiply(arr, m, shift)
    dbl = golden.c_round(arr.astype(np.float64) * eff)
    shown = np.abs(dbl) <= qnet.SHOWN
    np.testing.assert_array_equal(np.asarray(ints, object)[shown].astype(np.int64),
                                  dbl[shown].astype(np.int64))
    zp = data.draw(st.integers(-128, 127))
    lo = data.draw(st.integers(-128, 127))
    hi = data.draw(st.integers(lo, 127))
    np.testing.assert_array_equal(
        golden.requant_integer(arr, "round", m, shift, zp, lo, hi),
        golden.finish(golden.round_double(arr, eff), zp, lo, hi))


def test_rounding_multiplier_a_hair_below_a_half():
    """0.5 - 2^-54: the double products of odd accumulators stay below their half-integer, so
    they round down; a 53-bit multiplier tells them apart (a 63-bit limit refused it)."""
    eff = 0.49999999999999994
    m, shift = qnet.rounding_multiplier(eff, 1 << 20)
    odd = np.arange(-(1 << 20) + 1, 1 << 20, 2 * 997 + 1)
    np.testing.assert_array_equal(golden.round_multiply(odd, m, shift),
                                  golden.c_round(odd * eff))
    assert m.bit_length() > 50


def test_rounding_multiplier_refuses_with_the_numbers(monkeypatch):
    import pytest

    monkeypatch.setattr(qnet, "MAX_MULT_BITS", 20)
    with pytest.raises(qnet.RoundingError, match="accumulator -?[0-9]+ times it rounds to"):
        qnet.rounding_multiplier(0.49999999999999994, 1024)


def test_kernel_int32_conversion_and_zero_point_wrap():
    """Measured on LiteRT's reference kernel: a double result beyond int32 becomes INT32_MIN,
    and the zero-point add wraps, so a huge positive result gives act_min (zp >= 0) and a huge
    negative one act_max (zp < 0)."""
    acc = np.array([1 << 30, -(1 << 30), 100], np.int64)
    assert golden.round_double(acc, 4.0).tolist() == [-(1 << 31), -(1 << 31), 400]
    assert golden.finish(golden.round_double(acc, 4.0), 45, -128, 127).tolist() == [-128, -128,
                                                                                     127]
    assert golden.finish(golden.round_double(acc, 4.0), -5, -128, 127).tolist() == [127, 127,
                                                                                    127]
    # gemmlowp: the largest result plus a positive zero point wraps too
    top = golden.multiply_by_quantized_multiplier((1 << 31) - 1, (1 << 31) - 1, 0)
    assert golden.finish(top, 3, -128, 127).tolist() == -128


def test_c_round_halves_away_from_zero():
    assert [qnet.c_round(v) for v in (2.5, -2.5, 0.49999999999999994, -0.5, 1.5)] == [3, -3, 0, -1, 2]
