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


@given(st.floats(1e-5, 0.5), st.integers(1, 1 << 21), st.data())
@settings(max_examples=200, deadline=None)
def test_rounding_multiplier_equals_double_round(eff, bound, data):
    """Contract: either a (multiplier, shift) that is right for every |acc| <= bound, or an
    error. Scales a hair below a half-integer ratio (0.49999999999999994) need more than 63
    bits and are refused; real layers' scales are float32 products and always pass (qnet loads
    both presets)."""
    try:
        m, shift = qnet.rounding_multiplier(eff, bound)
    except qnet.UnsupportedTFLiteError as exc:
        assert "63 bits" in str(exc)
        return
    accs = data.draw(st.lists(st.integers(-bound, bound), min_size=1, max_size=50))
    # also the accumulators right next to half-integers, where a cheap multiplier goes wrong
    for j in range(-3, 4):
        a = math.floor((j + int(bound * eff) // 2 + 0.5) / eff)
        accs += [a - 1, a, a + 1]
    for a in accs:
        if abs(a) <= bound:
            assert qnet.round_multiply(a, m, shift) == qnet.c_round(a * eff)
    arr = np.array([a for a in accs if abs(a) <= bound])
    np.testing.assert_array_equal(golden.round_multiply(arr, m, shift),
                                  [qnet.round_multiply(int(a), m, shift) for a in arr])


def test_rounding_multiplier_refuses_what_it_cannot_prove():
    import pytest

    with pytest.raises(qnet.UnsupportedTFLiteError, match="63 bits"):
        qnet.rounding_multiplier(0.49999999999999994, 1024)


def test_c_round_halves_away_from_zero():
    assert [qnet.c_round(v) for v in (2.5, -2.5, 0.49999999999999994, -0.5, 1.5)] == [3, -3, 0, -1, 2]
