"""The verdict on a solve, from its tables' columns: flagged fraction, good antennas, SNR, phase scatter."""

import numpy as np
import pytest

from dsa110_continuum.calibrate.solve import SolveSettings, solution_qa

N_POL, N_CHAN, N_ANT = 2, 64, 6
SETTINGS = SolveSettings(max_flagged_fraction=0.25, min_good_antennas=4)


def tables(rng, *, phase_noise_deg=1.0):
    """Bandpass columns (pol, chan, ant) with a delay slope and noise; one gain solution per antenna."""
    chans = np.arange(N_CHAN)
    slope = rng.uniform(-0.05, 0.05, (1, 1, N_ANT))
    phase = slope * chans[None, :, None] + np.deg2rad(phase_noise_deg) * rng.standard_normal((N_POL, N_CHAN, N_ANT))
    gain = (1 + 0.01 * rng.standard_normal((N_POL, N_CHAN, N_ANT))) * np.exp(1j * phase)
    return dict(b_gain=gain, b_flag=np.zeros(gain.shape, bool), b_snr=np.full(gain.shape, 40.0),
                b_ant=np.arange(N_ANT), g_flag=np.zeros((N_POL, 1, N_ANT), bool), g_ant=np.arange(N_ANT))


def test_clean_solve_passes_with_its_figures():
    qa = solution_qa(**tables(np.random.default_rng(1), phase_noise_deg=2.0),
                     antennas_in_data=list(range(N_ANT)), settings=SETTINGS)
    assert qa["passed"] and qa["reasons"] == []
    assert qa["flagged_fraction"] == 0 and qa["n_good_antennas"] == N_ANT and qa["median_snr"] == 40
    assert qa["phase_scatter_deg"] == pytest.approx(2.0, rel=0.15)  # the delay slope is not scatter


def test_too_many_flags_fail_and_say_so():
    cols = tables(np.random.default_rng(2))
    cols["b_flag"][:, :, :2] = True  # two of six antennas entirely flagged: a third of the solutions
    qa = solution_qa(**cols, antennas_in_data=list(range(N_ANT)), settings=SETTINGS)
    assert not qa["passed"] and qa["flagged_fraction"] == pytest.approx(1 / 3)
    assert qa["reasons"] == ["33% of bandpass solutions flagged (limit 25%)"]
    assert qa["n_good_antennas"] == 4


def test_too_few_good_antennas_fail_and_antennas_outside_the_data_do_not_count():
    cols = tables(np.random.default_rng(3))
    cols["g_flag"][:, :, 0] = True  # no gain solution for antenna 0
    qa = solution_qa(**cols, antennas_in_data=[0, 1, 2, 3], settings=SETTINGS)
    assert qa["n_antennas_in_data"] == 4 and qa["n_good_antennas"] == 3
    assert not qa["passed"] and qa["reasons"] == ["only 3 antennas with good solutions (minimum 4)"]
