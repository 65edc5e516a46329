"""Checks of the workflow's products against the truth a simulation wrote."""

from __future__ import annotations

import numpy as np

from ..sky.coords import angular_separation_deg


def check_ms_against_truth(ms_summary: dict, observation: dict, antenna_numbers: list[int],
                           n_channels: int) -> list[tuple[str, bool, str]]:
    """(check, passed, detail) for one MS against the simulation truth of its observation."""
    freqs = np.asarray(ms_summary["freqs_hz"])
    times_s = np.asarray(ms_summary["times_mjd_s"])
    truth_times_s = (np.asarray(observation["time_jd"]) - 2400000.5) * 86400.0
    ra, dec = observation["field_centre_icrs_deg"]
    offset = 3600.0 * float(angular_separation_deg(ms_summary["phase_centre_ra_deg"],
                                                   ms_summary["phase_centre_dec_deg"], ra, dec))
    return [
        ("channels ascending, all subbands", freqs.size == n_channels and bool(np.all(np.diff(freqs) > 0)),
         f"{freqs.size} channels {freqs[0] / 1e6:.3f}-{freqs[-1] / 1e6:.3f} MHz"),
        ("phase centre = meridian at mid-time (ICRS)", offset < 2.0 and ms_summary["phase_centre_frame"] == "ICRS",
         f"{offset:.2f} arcsec from truth, frame {ms_summary['phase_centre_frame']}"),
        ("antennas", ms_summary["antennas_in_data"] == sorted(antenna_numbers),
         f"{len(ms_summary['antennas_in_data'])} in data of {len(ms_summary['antenna_names'])} stations"),
        ("integration times", times_s.size == truth_times_s.size and bool(np.allclose(times_s, truth_times_s, atol=1e-3)),
         f"{times_s.size} integrations"),
        ("telescope known to CASA", ms_summary["telescope_known_to_casa"], ms_summary["telescope_name"]),
        ("autocorrelations flagged", ms_summary["autocorrelations_flagged"], ""),
    ]


def gain_errors_against_truth(solutions: dict, truth_gains_path: str) -> dict:
    """Recovered vs injected gains: phase rms (deg, relative to the reference antenna), amplitude and
    bandpass-shape rms (fractions). CASA's gains are the conjugates of the simulator's (the MS stores conj(V))."""
    truth = np.load(truth_gains_path)
    antennas = list(truth["antenna_numbers"])
    rows = [solutions["antennas"].index(a) for a in antennas]
    solved = np.conj(np.array(solutions["real"]) + 1j * np.array(solutions["imag"]))[rows]  # (ant, pol, chan)
    injected = np.transpose(truth["gains"], (0, 2, 1))
    refant = int(np.argmin(np.abs(np.angle(solved[:, 0, :])).sum(axis=1)))
    phase = np.angle((solved / solved[refant]) / (injected / injected[refant]), deg=True)
    shape = lambda g: np.abs(g) / np.abs(g).mean(axis=2, keepdims=True)  # noqa: E731
    return {"phase_rms_deg": float(np.sqrt(np.mean(phase ** 2))),
            "amplitude_rms": float(np.sqrt(np.mean((np.abs(solved) / np.abs(injected) - 1) ** 2))),
            "bandpass_shape_rms": float(np.sqrt(np.mean((shape(solved) / shape(injected) - 1) ** 2)))}
