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


def test_forced_photometry_errors_from_the_local_noise_are_honest_where_the_noise_varies():
    """Point sources in noise correlated over the beam, three times higher in one half: with the residual's
    local rms as noise map, (measured - true) / error has unit spread in both halves."""
    from astropy.wcs import WCS
    from scipy.ndimage import gaussian_filter

    from dsa110_continuum.science.photometry import forced_photometry
    from dsa110_continuum.science.reference import Reference

    shape, cell_deg, beam_deg = (600, 600), 10 / 3600, 40 / 3600
    wcs = WCS(naxis=2)
    wcs.wcs.ctype, wcs.wcs.crval = ["RA---SIN", "DEC--SIN"], [150.0, 40.0]
    wcs.wcs.crpix, wcs.wcs.cdelt = [shape[1] / 2 + 1, shape[0] / 2 + 1], [-cell_deg, cell_deg]
    hdr = wcs.to_header()
    hdr.update(BMAJ=beam_deg, BMIN=beam_deg, BPA=0.0)
    sigma_px = beam_deg / cell_deg / (2 * np.sqrt(2 * np.log(2)))
    rng = np.random.default_rng(5)
    # White noise smoothed by a Gaussian of sigma / sqrt(2) is correlated like the restoring beam.
    residual = gaussian_filter(rng.normal(size=shape), sigma_px / np.sqrt(2))
    residual *= 1e-3 / residual.std()
    residual[:, 300:] *= 3
    y, x = (c.ravel() for c in np.mgrid[20:580:20, 20:580:20])
    ra, dec = wcs.pixel_to_world_values(x, y)
    peak_jy = 0.05
    yy, xx = np.indices(shape)
    image = residual.copy()
    for px, py in zip(x, y):
        near = (abs(yy - py) < 10) & (abs(xx - px) < 10)
        image[near] += peak_jy * np.exp(-((xx[near] - px) ** 2 + (yy[near] - py) ** 2) / (2 * sigma_px ** 2))
    noise = local_rms_map(residual, hdr, box_beams=10)
    reference = Reference("synthetic", np.arange(x.size).astype(str), ra, dec, np.full(x.size, peak_jy))
    rows = forced_photometry(image, np.ones(shape), noise, hdr, reference, pb_cutoff=0.2)
    assert len(rows) == x.size
    pulls = np.array([(r["flux_jy"] - peak_jy) / r["flux_err_jy"] for r in rows])
    quiet = x < 300
    for half in (quiet, ~quiet, quiet | ~quiet):
        assert 0.8 <= pulls[half].std() <= 1.25, pulls[half].std()
