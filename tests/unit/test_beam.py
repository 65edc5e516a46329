"""The primary beam: pyuvdata's Airy pattern of the 4.65 m dish."""

import numpy as np
import pytest

from dsa110_continuum.sky.beam import airy_power

C_M_S = 299_792_458.0


def test_airy_beam_normalisation_and_half_power():
    freq = 1.4e9
    lam_over_d = C_M_S / freq / 4.65
    assert airy_power(0.0, freq) == pytest.approx(1.0)
    assert airy_power(0.5 * 1.02 * lam_over_d, freq) == pytest.approx(0.5, abs=0.02)
    assert airy_power(0.5 * 1.029 * lam_over_d, freq) == pytest.approx(0.5, abs=2e-3)
    assert airy_power(1.2197 * lam_over_d, freq) == pytest.approx(0.0, abs=1e-6)  # first null
    # FWHM ~2.7 deg at 1.4 GHz for the 4.65 m dish
    assert airy_power(np.deg2rad(1.35), freq) == pytest.approx(0.5, abs=0.02)
    offsets = np.deg2rad(np.linspace(0, 2.5, 6))
    p = airy_power(offsets, freq)[:, 0]
    assert airy_power(offsets, [freq, 1.3e9]).shape == (6, 2) and np.all(np.diff(p) < 0)
    assert airy_power(-0.01, freq) == pytest.approx(airy_power(0.01, freq))
    # narrower at higher frequency
    assert airy_power(0.02, 1.5e9) < airy_power(0.02, 1.3e9)
