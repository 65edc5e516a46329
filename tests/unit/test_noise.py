"""The local noise map: the residual's robust rms where each source sits."""

import numpy as np
from astropy.io import fits

from dsa110_continuum.science.noise import local_rms_map


def header(cell_deg=0.004, bmaj_deg=0.012):
    h = fits.Header()
    h["CDELT1"], h["CDELT2"], h["BMAJ"], h["BMIN"] = -cell_deg, cell_deg, bmaj_deg, bmaj_deg / 2
    return h


def test_each_half_gets_its_own_rms_and_a_bright_residual_does_not_raise_it():
    rng = np.random.default_rng(3)
    residual = rng.normal(0, 1e-3, (400, 400))
    residual[:, 200:] *= 3  # a confusion-limited half
    residual[100, 100] = 1.0  # a lone bright pixel of uncleaned flux
    rms = local_rms_map(residual, header(), box_beams=10)  # 30-pixel boxes
    assert np.all(np.abs(rms[:, 40:160] / 1e-3 - 1) < 0.1)
    assert np.all(np.abs(rms[:, 240:360] / 3e-3 - 1) < 0.1)


def test_blanked_pixels_stay_blank():
    residual = np.random.default_rng(4).normal(0, 1e-3, (200, 200))
    residual[:, :50] = np.nan
    rms = local_rms_map(residual, header(), box_beams=10)
    assert np.isnan(rms[:, :40]).all() and np.all(np.abs(rms[:, 80:] / 1e-3 - 1) < 0.15)


SHAPE, CELL_DEG, BEAM_DEG = (600, 600), 10 / 3600, 40 / 3600
SIGMA_PX = BEAM_DEG / CELL_DEG / (2 * np.sqrt(2 * np.log(2)))


def beam_correlated_sky(seed: int):
    """A 600^2 image header (4 pixels across a round 40" beam) and noise of unit rms correlated like the beam."""
    from astropy.wcs import WCS
    from scipy.ndimage import gaussian_filter

    wcs = WCS(naxis=2)
    wcs.wcs.ctype, wcs.wcs.crval = ["RA---SIN", "DEC--SIN"], [150.0, 40.0]
    wcs.wcs.crpix, wcs.wcs.cdelt = [SHAPE[1] / 2 + 1, SHAPE[0] / 2 + 1], [-CELL_DEG, CELL_DEG]
    hdr = wcs.to_header()
    hdr.update(BMAJ=BEAM_DEG, BMIN=BEAM_DEG, BPA=0.0)
    # White noise smoothed by a Gaussian of sigma / sqrt(2) is correlated like the restoring beam.
    residual = gaussian_filter(np.random.default_rng(seed).normal(size=SHAPE), SIGMA_PX / np.sqrt(2))
    return hdr, wcs, residual / residual.std()


def add_point_sources(image: np.ndarray, x, y, peaks_jy) -> np.ndarray:
    """``image`` plus restoring beams of the given peaks at pixel positions (x, y)."""
    yy, xx = np.indices(image.shape)
    image = image.copy()
    for px, py, peak in zip(x, y, peaks_jy):
        near = (abs(yy - py) < 10) & (abs(xx - px) < 10)
        image[near] += peak * np.exp(-((xx[near] - px) ** 2 + (yy[near] - py) ** 2) / (2 * SIGMA_PX ** 2))
    return image


def test_forced_photometry_errors_from_the_local_noise_are_honest_where_the_noise_varies():
    """Point sources in noise correlated over the beam, three times higher in one half: with the residual's
    local rms as noise map, (measured - true) / error has unit spread in both halves."""
    from dsa110_continuum.science.photometry import forced_photometry
    from dsa110_continuum.science.reference import Reference

    hdr, wcs, residual = beam_correlated_sky(5)
    residual *= 1e-3
    residual[:, 300:] *= 3
    y, x = (c.ravel() for c in np.mgrid[20:580:20, 20:580:20])
    ra, dec = wcs.pixel_to_world_values(x, y)
    peak_jy = 0.05
    image = add_point_sources(residual, x, y, np.full(x.size, peak_jy))
    noise = local_rms_map(residual, hdr, box_beams=10)
    reference = Reference("synthetic", np.arange(x.size).astype(str), ra, dec, np.full(x.size, peak_jy))
    rows = forced_photometry(image, np.ones(SHAPE), noise, hdr, reference, pb_cutoff=0.2, cluster_beams=1.5)
    assert len(rows) == x.size
    pulls = np.array([(r["flux_jy"] - peak_jy) / r["flux_err_jy"] for r in rows])
    quiet = x < 300
    for half in (quiet, ~quiet, quiet | ~quiet):
        assert 0.8 <= pulls[half].std() <= 1.25, pulls[half].std()


def test_blended_neighbours_are_fitted_together_with_honest_errors():
    """Pairs of a 1 Jy and a 0.1 Jy source 0.8 beams apart in 2 mJy of beam-correlated noise: fitted alone,
    the faint one takes its neighbour's wing and reads ~5x too bright; fitted together, both are right
    and their errors, grown by what the two share, describe their scatter."""
    from dsa110_continuum.image.measure import forced_fluxes

    hdr, wcs, residual = beam_correlated_sky(6)
    rms_jy = 2e-3
    y, x = (c.ravel().astype(float) for c in np.mgrid[20:580:20, 20:580:20])
    x_faint = x + 0.8 * BEAM_DEG / CELL_DEG
    true = np.r_[np.full(x.size, 1.0), np.full(x.size, 0.1)]
    image = add_point_sources(rms_jy * residual, np.r_[x, x_faint], np.r_[y, y], true)
    ra, dec = wcs.pixel_to_world_values(np.r_[x, x_faint], np.r_[y, y])
    alone, _ = forced_fluxes(image, hdr, ra, dec, rms_jy=rms_jy, cluster_beams=0)
    assert np.median(alone[x.size:]) > 4 * 0.1
    flux, err = forced_fluxes(image, hdr, ra, dec, rms_jy=rms_jy, cluster_beams=1.5)
    isolated_err = rms_jy * 2 / np.sqrt(3)
    assert np.all(err > isolated_err)  # sharing pixels costs precision
    for part in (slice(0, x.size), slice(x.size, None)):
        pulls = (flux[part] - true[part]) / err[part]
        assert abs(np.mean(pulls)) < 0.15 and 0.8 <= np.std(pulls) <= 1.25, (np.mean(pulls), np.std(pulls))
