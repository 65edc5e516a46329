"""Forced photometry at the reference catalogue's positions, and the variability of the light curves it makes.

Each image is an epoch: the restoring beam's peak is fitted at every reference position inside the primary-beam
cutoff of its PB-corrected image, together with the neighbours within ``cluster_beams`` beams; its error comes
from the noise map there (the residual's local rms divided by the beam), for noise correlated like the beam
(``image.measure.forced_fluxes``).
"""

from __future__ import annotations

import numpy as np

from ..image.measure import forced_fluxes
from ..records import write_csv_atomic

COLUMNS = ["name", "ra_deg", "dec_deg", "flux_jy", "flux_err_jy", "pb", "snr"]


def forced_photometry(pbcor: np.ndarray, pb: np.ndarray, noise: np.ndarray, header, reference, *,
                      pb_cutoff: float, cluster_beams: float) -> list[dict]:
    """One row per reference source measurable in the image (inside the cutoff, its box unblanked); ``noise`` is
    the PB-corrected image's noise map."""
    from astropy.wcs import WCS

    x, y = WCS(header).celestial.world_to_pixel_values(reference.ra_deg, reference.dec_deg)
    xi, yi = np.round(x).astype(int), np.round(y).astype(int)
    measurable = np.nonzero((xi >= 0) & (yi >= 0) & (xi < pb.shape[1]) & (yi < pb.shape[0]))[0]
    measurable = measurable[pb[yi[measurable], xi[measurable]] >= pb_cutoff]
    flux, err = forced_fluxes(pbcor, header, reference.ra_deg[measurable], reference.dec_deg[measurable],
                              rms_jy=noise[yi[measurable], xi[measurable]], cluster_beams=cluster_beams)
    return [{"name": str(reference.names[k]), "ra_deg": float(reference.ra_deg[k]),
             "dec_deg": float(reference.dec_deg[k]), "flux_jy": float(f), "flux_err_jy": float(e),
             "pb": float(pb[yi[k], xi[k]]), "snr": float(f / e)}
            for k, f, e in zip(measurable, flux, err) if np.isfinite(f)]


def variability(flux_jy: np.ndarray, flux_err_jy: np.ndarray) -> dict:
    """Variability metrics of one light curve.

    eta = chi^2 / (N - 1) about the weighted mean (the reduced chi-squared of a constant); V = std / mean
    (the modulation index); and between the two extreme epochs Vs = (S_max - S_min) / sqrt(sigma_max^2 +
    sigma_min^2) and m = 2 (S_max - S_min) / (S_max + S_min) (Mooley et al. 2016).
    """
    flux, err = np.asarray(flux_jy, float), np.asarray(flux_err_jy, float)
    n = flux.size
    weights = 1 / err ** 2
    mean_w = float((weights * flux).sum() / weights.sum())
    hi, lo = int(np.argmax(flux)), int(np.argmin(flux))
    return {"n_epochs": n, "mean_flux_jy": float(flux.mean()), "weighted_mean_flux_jy": mean_w,
            "eta": float((weights * (flux - mean_w) ** 2).sum() / (n - 1)) if n > 1 else None,
            "v": float(flux.std(ddof=1) / flux.mean()) if n > 1 and flux.mean() != 0 else None,
            "vs": float((flux[hi] - flux[lo]) / np.hypot(err[hi], err[lo])) if n > 1 else None,
            "m": float(2 * (flux[hi] - flux[lo]) / (flux[hi] + flux[lo])) if n > 1 and flux[hi] + flux[lo] != 0 else None}


def is_candidate(metrics: dict, *, eta_threshold: float, vs_threshold: float, m_threshold: float) -> bool:
    """Variable: eta and |Vs| above their thresholds, and a modulation |m| of at least ``m_threshold``.

    All three, not either: with a few epochs a constant source's eta passes 2.5 by chance ~8 % of the time
    (chi^2 with 2 degrees of freedom), and a bright one's Vs reflects a few percent of calibration or
    deconvolution error, which ``m_threshold`` discounts.
    """
    if metrics["n_epochs"] < 2:
        return False
    return metrics["eta"] > eta_threshold and abs(metrics["vs"]) > vs_threshold and abs(metrics["m"]) >= m_threshold


VARIABILITY_COLUMNS = ["name", "ra_deg", "dec_deg", "n_epochs", "mean_flux_jy", "weighted_mean_flux_jy", "eta", "v",
                       "vs", "m", "candidate"]


def write_variability(rows: list[dict], path: str) -> None:
    """The variability table as CSV, candidates first, atomically."""
    write_csv_atomic(path, VARIABILITY_COLUMNS, sorted(rows, key=lambda r: (not r["candidate"], r["name"])))
