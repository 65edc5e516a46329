"""Sources measured in an image by fitting elliptical Gaussians, with Condon (1997) errors.

``fit_source`` frees the position, peak and axes (position angle fixed to the restoring beam's) and reports
the integrated flux density: CLEAN spreads a point source over neighbouring pixels by a few percent of its
peak (measured here: ~2.5 % lower fitted peaks at fixed beam shape on noise-free simulated data, wherever
it sits in the beam), while the integrated flux stays right where the source's apparent spectrum is flat. Where
the primary beam makes it steep (0.3 east and west), CLEAN's components, fitted with the band's one PSF, hold 1-4 %
more than the source, and the integrated flux reads that much high. ``forced_fluxes`` fits only the peak of the
restoring beam at given positions, for photometry where the source may be too faint to fit its shape.
Errors follow Condon (1997) for correlated noise with the beam's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from scipy.optimize import least_squares

FWHM_PER_SIGMA = 2 * np.sqrt(2 * np.log(2))
BEAM_CORRELATED_FIT_ERROR = 2 / np.sqrt(3)  # see forced_fluxes


@dataclass(frozen=True)
class SourceFit:
    ra_deg: float
    dec_deg: float
    peak_jy: float  # Jy/beam
    flux_jy: float  # integrated
    flux_err_jy: float
    major_arcsec: float
    minor_arcsec: float
    ra_err_arcsec: float
    dec_err_arcsec: float


@dataclass(frozen=True)
class _Box:
    x: np.ndarray
    y: np.ndarray
    data: np.ndarray
    x0: float
    y0: float
    half: int


def _beam_in_pixels(header: fits.Header) -> tuple[float, float, float]:
    """Restoring beam sigmas (pixels) and its position angle (from +y towards -x: east is left)."""
    cell_deg = abs(header["CDELT2"])
    return (header["BMAJ"] / cell_deg / FWHM_PER_SIGMA, header["BMIN"] / cell_deg / FWHM_PER_SIGMA,
            np.deg2rad(header["BPA"]))


def _gaussian(x, y, x0, y0, sig_major, sig_minor, pa):
    dx, dy = x - x0, y - y0
    along = -dx * np.sin(pa) + dy * np.cos(pa)
    across = dx * np.cos(pa) + dy * np.sin(pa)
    return np.exp(-0.5 * ((along / sig_major) ** 2 + (across / sig_minor) ** 2))


def _box(image, wcs, ra_deg, dec_deg, half) -> _Box | None:
    """The pixels around a position, or None when they leave the image or are blanked."""
    x0, y0 = (float(v) for v in wcs.world_to_pixel_values(ra_deg, dec_deg))
    indices = _box_at(image, x0, y0, half)
    if indices is None:
        return None
    y, x = np.unravel_index(indices, image.shape)
    return _Box(x, y, image.ravel()[indices], x0, y0, half)


def _condon_rho(snr: float, major: float, minor: float, beam: float, a: float, b: float) -> float:
    """Condon (1997) eq. 41: the effective signal-to-noise ratio for a parameter (exponents a, b)."""
    return np.sqrt(major * minor / (4 * beam ** 2) * (1 + beam ** 2 / major ** 2) ** a
                   * (1 + beam ** 2 / minor ** 2) ** b) * snr


def fit_source(image: np.ndarray, header: fits.Header, ra_deg: float, dec_deg: float, *, rms_jy: float,
               box_beams: float = 1.0) -> SourceFit | None:
    """Fit an elliptical Gaussian (free position, peak and axes) around (ra, dec); None when off the image.

    ``box_beams`` sets the half-size of the fitted box in beam major axes.
    """
    wcs = WCS(header).celestial
    sig_major, sig_minor, pa = _beam_in_pixels(header)
    half = max(3, int(np.ceil(box_beams * sig_major * FWHM_PER_SIGMA)))
    box = _box(image, wcs, ra_deg, dec_deg, half)
    if box is None:
        return None

    def residual(p):
        return (p[0] * _gaussian(box.x, box.y, p[1], p[2], p[3], p[4], pa) - box.data).ravel()

    lower = [-np.inf, box.x0 - half / 2, box.y0 - half / 2, 0.5 * sig_major, 0.5 * sig_minor]
    upper = [np.inf, box.x0 + half / 2, box.y0 + half / 2, 3 * sig_major, 3 * sig_minor]
    start = [float(np.max(box.data)), box.x0, box.y0, sig_major, sig_minor]
    peak, xf, yf, s_major, s_minor = least_squares(residual, start, bounds=(lower, upper)).x
    cell_arcsec = abs(header["CDELT2"]) * 3600
    major, minor = (FWHM_PER_SIGMA * s * cell_arcsec for s in (s_major, s_minor))
    beam = np.sqrt(header["BMAJ"] * header["BMIN"]) * 3600
    flux = peak * s_major * s_minor / (sig_major * sig_minor)
    snr = abs(peak) / rms_jy if rms_jy > 0 else np.inf
    rho_amplitude = _condon_rho(snr, major, minor, beam, 1.5, 1.5)
    rho_major, rho_minor = _condon_rho(snr, major, minor, beam, 2.5, 0.5), _condon_rho(snr, major, minor, beam, 0.5, 2.5)
    flux_err = abs(flux) * np.sqrt(2 / rho_amplitude ** 2 + beam ** 2 / (major * minor)
                                   * (2 / rho_major ** 2 + 2 / rho_minor ** 2))
    # Position errors along the axes (Condon eq. 21), projected on RA and Dec (PA from north through east).
    err_major = np.sqrt(2) / rho_major * major / FWHM_PER_SIGMA
    err_minor = np.sqrt(2) / rho_minor * minor / FWHM_PER_SIGMA
    pa_sky = np.deg2rad(header["BPA"])
    ra_fit, dec_fit = (float(v) for v in wcs.pixel_to_world_values(xf, yf))
    return SourceFit(ra_fit % 360, dec_fit, float(peak), float(flux), float(flux_err), float(major), float(minor),
                     float(np.hypot(err_major * np.sin(pa_sky), err_minor * np.cos(pa_sky))),
                     float(np.hypot(err_major * np.cos(pa_sky), err_minor * np.sin(pa_sky))))


def forced_fluxes(image: np.ndarray, header: fits.Header, ra_deg, dec_deg, *, rms_jy,
                  cluster_beams: float) -> tuple[np.ndarray, np.ndarray]:
    """Peaks (Jy/beam) of the restoring beam fitted at fixed positions, and their errors; NaN where a position's
    box leaves the image or is blanked. ``rms_jy`` is the noise at each position.

    Positions closer than ``cluster_beams`` restoring-beam major axes are fitted together, so that a source
    does not take its neighbour's flux (as in VAST's forced photometry). A fit is linear least squares of
    beam-shaped components g_k on the union of their boxes. For an isolated source, peak = sum(d g) / sum(g^2):
    a restored image's noise is correlated over the PSF's main lobe, i.e. like the beam, and for noise of rms
    sigma correlated like g that fit's variance is (g C g) / (g g)^2 = 4/3 sigma^2 whatever the beam's shape,
    so its error is 2 sigma / sqrt(3). A source fitted with neighbours gets that error times
    sqrt((G^T G)^-1_kk g_k g_k), the growth of its variance that the shared pixels cause.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    wcs = WCS(header).celestial
    sig_major, sig_minor, pa = _beam_in_pixels(header)
    major_px = sig_major * FWHM_PER_SIGMA
    half = max(3, int(np.ceil(major_px)))
    x, y = (np.atleast_1d(np.asarray(v, float)) for v in wcs.world_to_pixel_values(ra_deg, dec_deg))
    rms_jy = np.broadcast_to(np.asarray(rms_jy, float), x.shape)
    flux, err = np.full(x.shape, np.nan), np.full(x.shape, np.nan)
    boxes = {k: box for k in range(x.size) if (box := _box_at(image, x[k], y[k], half)) is not None}
    usable = np.array(sorted(boxes), dtype=int)
    if usable.size == 0:
        return flux, err
    pairs = cKDTree(np.c_[x[usable], y[usable]]).query_pairs(cluster_beams * major_px, output_type="ndarray")
    links = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(usable.size,) * 2)
    _, cluster_of = connected_components(links, directed=False)
    for cluster in range(cluster_of.max() + 1):
        members = usable[cluster_of == cluster]
        pixels = np.unique(np.concatenate([boxes[k].ravel() for k in members]))
        py, px = np.unravel_index(pixels, image.shape)
        templates = np.stack([_gaussian(px, py, x[k], y[k], sig_major, sig_minor, pa) for k in members])
        covariance = np.linalg.pinv(templates @ templates.T)
        flux[members] = covariance @ (templates @ image.ravel()[pixels])
        for j, k in enumerate(members):
            own = np.isin(pixels, boxes[k].ravel())
            own_norm = np.sum(templates[j, own] ** 2)
            err[k] = rms_jy[k] * BEAM_CORRELATED_FIT_ERROR * np.sqrt(covariance[j, j] * own_norm)
    return flux, err


def _box_at(image: np.ndarray, x: float, y: float, half: int) -> np.ndarray | None:
    """Flat indices of the (2 half + 1)^2 pixels around pixel (x, y), or None off the image or where blanked."""
    xi, yi = int(round(x)), int(round(y))
    if yi - half < 0 or xi - half < 0 or yi + half >= image.shape[0] or xi + half >= image.shape[1]:
        return None
    rows, cols = np.mgrid[yi - half:yi + half + 1, xi - half:xi + half + 1]
    indices = np.ravel_multi_index((rows, cols), image.shape)
    return indices if np.isfinite(image.ravel()[indices]).all() else None
