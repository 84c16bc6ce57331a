"""The comparison every oracle test uses: relative to the magnitude of the whole expected tensor."""

import numpy as np
import pytest

from tests.oracle import assert_close


def test_small_elements_may_differ_by_rounding_of_the_largest():
    expected = np.array([40.0, 1e-6])
    assert_close(expected + [0.0, 2.9e-9], expected)  # 2.9e-9 / 40 = 7e-11 of the magnitude
    with pytest.raises(AssertionError, match=r"max \|actual - expected\| = 1\.000e-08 at \(np.int64\(1\),\)"):
        assert_close(expected + [0.0, 1e-8], expected)  # 2.5e-10 of the magnitude: beyond rounding


def test_float32_gets_float32_tolerance():
    expected = np.ones(3, np.float32)
    assert_close(expected + np.float32(5e-6), expected)
    with pytest.raises(AssertionError):
        assert_close(expected + np.float32(5e-5), expected)
    with pytest.raises(AssertionError):
        assert_close(expected.astype(np.float64) + 5e-6, expected.astype(np.float64))


def test_shapes_non_finite_and_integers():
    with pytest.raises(AssertionError, match=r"shape \(2,\) != expected \(3,\)"):
        assert_close(np.zeros(2), np.zeros(3))
    assert_close(np.array([np.nan, np.inf, 1.0]), np.array([np.nan, np.inf, 1.0]))
    with pytest.raises(AssertionError, match="non-finite mismatch"):
        assert_close(np.array([np.inf, 1.0]), np.array([-np.inf, 1.0]))
    with pytest.raises(AssertionError, match="non-finite mismatch"):
        assert_close(np.array([1.0, 1.0]), np.array([np.nan, 1.0]))
    with pytest.raises(AssertionError):
        assert_close(np.array([np.nan, 1.0]), np.array([1.0, 1.0]))
    with pytest.raises(AssertionError, match="1 of 3 elements differ"):
        assert_close(np.array([1, 2, 3]), np.array([1, 2, 4]))
    assert_close(np.zeros(4), 0.0)  # a scalar expectation for every element
