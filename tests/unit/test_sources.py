"""Source finding (PyBDSF against a given noise map) on a synthetic restored image."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from dsa110_continuum.science.sources import find_sources, read_sources

CELL_DEG = 10 / 3600
BEAM_FWHM_DEG = 40 / 3600


def synthetic_image(path, sources, rms_jy, shape=(200, 200), seed=3):
    """Point sources of peak flux (Jy/beam) convolved with a circular beam, plus white noise."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    wcs.wcs.crval = [150.0, 40.0]
    wcs.wcs.crpix = [shape[1] / 2 + 1, shape[0] / 2 + 1]
    wcs.wcs.cdelt = [-CELL_DEG, CELL_DEG]
    header = wcs.to_header()
    header.update(BMAJ=BEAM_FWHM_DEG, BMIN=BEAM_FWHM_DEG, BPA=0.0, BUNIT="JY/BEAM")
    y, x = np.indices(shape)
    sigma_px = BEAM_FWHM_DEG / CELL_DEG / (2 * np.sqrt(2 * np.log(2)))
    image = np.random.default_rng(seed).normal(0, rms_jy, shape)
    for ra, dec, peak in sources:
        px, py = wcs.world_to_pixel_values(ra, dec)
        image += peak * np.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * sigma_px ** 2))
    fits.PrimaryHDU(image.astype(np.float32), header).writeto(path)
    return image


def test_sources_found_at_their_positions_and_fluxes(tmp_path):
    rms_jy = 0.01
    truth = [(150.05, 40.05, 1.0), (149.93, 39.96, 0.3), (150.02, 39.9, 0.1)]
    image_path = tmp_path / "pbcor.fits"
    synthetic_image(image_path, truth, rms_jy)
    out = tmp_path / "sources.csv"
    n = find_sources(str(image_path), np.full((200, 200), rms_jy), str(out), freq_hz=1.4e9, thresh_isl=3.0,
                     thresh_pix=5.0)
    found = read_sources(out)
    assert n == len(truth) == len(found["ra_deg"])
    for ra, dec, peak in truth:
        k = np.argmin(np.hypot((found["ra_deg"] - ra) * np.cos(np.deg2rad(dec)), found["dec_deg"] - dec))
        offset_arcsec = 3600 * np.hypot((found["ra_deg"][k] - ra) * np.cos(np.deg2rad(dec)), found["dec_deg"][k] - dec)
        assert offset_arcsec < 3.0
        # A point source: integrated flux equals the peak (Jy/beam), within 4 sigma of its error.
        assert found["flux_jy"][k] == pytest.approx(peak, abs=4 * found["flux_err_jy"][k])
        assert found["peak_jy"][k] == pytest.approx(peak, abs=4 * found["peak_err_jy"][k])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pbcor.fits", "sources.csv"]  # nothing left beside them


def test_a_mosaic_cross_match_reads_the_flux_scale_from_the_restoring_beam(tmp_path):
    """Forty point sources at 0.9x the reference fluxes, in noise correlated like the beam (as a restored image's
    is): the restoring beam (from the header) fitted at each catalogued position gives a flux ratio of 0.9 within
    1 %."""
    from scipy.ndimage import gaussian_filter

    from dsa110_continuum.science.products import measure_mosaic
    from dsa110_continuum.science.reference import Reference

    rng = np.random.default_rng(7)
    rms_jy, shape = 0.01, (400, 400)
    ra = 150.0 + rng.uniform(-0.45, 0.45, 40) / np.cos(np.deg2rad(40.0))
    dec = 40.0 + rng.uniform(-0.45, 0.45, 40)
    flux_jy = rms_jy * rng.uniform(20, 100, 40)
    image_path = tmp_path / "mosaic.fits"
    synthetic_image(image_path, list(zip(ra, dec, 0.9 * flux_jy)), 0, shape=shape)
    sigma_px = BEAM_FWHM_DEG / CELL_DEG / (2 * np.sqrt(2 * np.log(2)))
    noise = gaussian_filter(rng.normal(0, 1, shape), sigma_px / np.sqrt(2))
    with fits.open(image_path, mode="update") as hdul:
        hdul[0].data += (rms_jy * noise / noise.std()).astype(np.float32)
    noise_path = tmp_path / "noise.fits"
    fits.PrimaryHDU(np.full(shape, rms_jy, np.float32), fits.getheader(image_path)).writeto(noise_path)
    reference = Reference("ref.csv", np.array([f"r{k}" for k in range(40)]), ra, dec, flux_jy)
    outputs = {"sources": str(tmp_path / "sources.csv"), "crossmatch": str(tmp_path / "crossmatch.json")}
    settings = {"source_finding": {"thresh_isl": 3.0, "thresh_pix": 5.0}, "match_radius_arcsec": 10,
                "detection_sigma": 5, "photometry_cluster_beams": 1.5,
                "validation": {"min_matches": 10, "max_offset_arcsec": 3, "flux_ratio_range": [0.8, 1.2],
                               "min_completeness": 0.6}}
    record = measure_mosaic(str(image_path), str(noise_path), {}, outputs, reference=reference, settings=settings)
    assert record["n_matched"] >= 38
    assert record["flux_ratio"] == pytest.approx(0.9, rel=0.01)
