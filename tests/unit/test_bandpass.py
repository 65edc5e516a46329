import numpy as np

from dsa110_continuum.calibrate.bandpass import solve_bandpass


def synthetic(n_ant=8, n_chan=5, n_pol=2, noise=0.0, seed=3):
    rng = np.random.default_rng(seed)
    ant1, ant2 = np.triu_indices(n_ant)
    gains = (1 + 0.2 * rng.standard_normal((n_ant, n_chan, n_pol))) * np.exp(
        1j * rng.uniform(-np.pi, np.pi, (n_ant, n_chan, n_pol)))
    model = np.full((ant1.size, n_chan, n_pol), 12.0 + 0j)
    vis = gains[ant1] * np.conj(gains[ant2]) * model
    vis += noise * (rng.standard_normal(vis.shape) + 1j * rng.standard_normal(vis.shape))
    return vis, model, np.zeros(vis.shape, bool), ant1, ant2, gains


def relative(g, refant):
    return g * np.conj(g[refant]) / np.abs(g[refant])


def test_noise_free_gains_recovered_exactly_with_refant_phase_zero():
    vis, model, flags, ant1, ant2, gains = synthetic()
    result = solve_bandpass(vis, model, flags, ant1, ant2, 8, refant=2)
    assert np.allclose(result["gains"], relative(gains, 2), atol=1e-6)
    assert np.allclose(np.angle(result["gains"][2]), 0)
    assert not result["flags"].any()


def test_noisy_gains_within_the_noise_and_snr_sensible():
    vis, model, flags, ant1, ant2, gains = synthetic(noise=0.5)
    result = solve_bandpass(vis, model, flags, ant1, ant2, 8, refant=0)
    error = result["gains"] / relative(gains, 0)
    assert np.sqrt(np.mean(np.angle(error, deg=True) ** 2)) < 2.0
    assert np.sqrt(np.mean((np.abs(error) - 1) ** 2)) < 0.03
    assert 20 < np.median(result["snr"]) < 200


def test_antenna_with_too_few_baselines_is_flagged():
    vis, model, flags, ant1, ant2, gains = synthetic()
    flags[(ant1 == 5) | (ant2 == 5)] = True
    flags[(ant1 == 5) & (ant2 == 6)] = False  # one baseline left
    result = solve_bandpass(vis, model, flags, ant1, ant2, 8, refant=0)
    assert result["flags"][5].all() and not np.delete(result["flags"], 5, axis=0).any()
    others = np.delete(np.arange(8), 5)
    assert np.allclose(result["gains"][others], relative(gains, 0)[others], atol=1e-6)


def test_low_snr_solutions_are_flagged():
    vis, model, flags, ant1, ant2, _ = synthetic(noise=200.0)
    result = solve_bandpass(vis, model, flags, ant1, ant2, 8, refant=0, minsnr=5)
    assert result["flags"].mean() > 0.9


def test_antennas_absent_from_the_data_are_flagged_and_chunks_agree():
    vis, model, flags, ant1, ant2, gains = synthetic(n_chan=7)
    stations = np.array([0, 3, 4, 10, 11, 20, 30, 40])  # data from 8 of 50 stations
    whole = solve_bandpass(vis, model, flags, stations[ant1], stations[ant2], 50, refant=10)
    chunked = solve_bandpass(vis, model, flags, stations[ant1], stations[ant2], 50, refant=10, channels_per_chunk=3)
    assert np.allclose(whole["gains"][stations], relative(gains, 3), atol=1e-6)
    assert np.allclose(chunked["gains"], whole["gains"])
    absent = np.setdiff1d(np.arange(50), stations)
    assert whole["flags"][absent].all() and not whole["flags"][stations].any()
