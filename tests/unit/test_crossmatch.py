"""Reference catalogues, cross-matching and variability metrics, on synthetic numbers."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from dsa110_continuum.science.crossmatch import crossmatch, flux_scale, match, match_around_offset
from dsa110_continuum.science.photometry import is_candidate, variability
from dsa110_continuum.science.reference import Reference, ReferenceCatalogueError, read_reference

NVSS = {"name": "NVSS", "ra": "RAJ2000", "dec": "DEJ2000", "flux": "S1.4"}
THRESHOLDS = {"min_matches": 3, "max_offset_arcsec": 3, "flux_ratio_range": [0.8, 1.2], "min_completeness": 0.6}


def write_nvss(path, n=5, **changes):
    table = Table({"NVSS": [f"J{k}" for k in range(n)], "RAJ2000": np.linspace(10, 11, n),
                   "DEJ2000": np.full(n, 30.0), "S1.4": np.linspace(100, 500, n)})
    for old, new in changes.items():
        table.rename_column(old, new)
    table.write(path, overwrite=True)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".fits"])
def test_reference_catalogues_read_in_jansky(tmp_path, suffix):
    reference = read_reference(write_nvss(tmp_path / f"nvss{suffix}"), columns=NVSS, flux_unit="mJy")
    assert len(reference) == 5 and reference.flux_jy[0] == pytest.approx(0.1) and reference.names[0] == "J0"


def test_a_misnamed_column_is_named_with_the_file(tmp_path):
    path = write_nvss(tmp_path / "nvss.csv", **{"S1.4": "FLUX"})
    with pytest.raises(ReferenceCatalogueError, match=r"nvss\.csv: no flux column 'S1\.4' \(columns are: NVSS, "
                                                      r"RAJ2000, DEJ2000, FLUX\)"):
        read_reference(path, columns=NVSS, flux_unit="mJy")


def test_an_empty_catalogue_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("NVSS,RAJ2000,DEJ2000,S1.4\n")
    with pytest.raises(ReferenceCatalogueError, match="empty.csv: the reference catalogue has no sources"):
        read_reference(path, columns=NVSS, flux_unit="mJy")


def synthetic(offset_arcsec=(2.0, -1.0), ratio=0.9, n=40, seed=1):
    rng = np.random.default_rng(seed)
    ra, dec = rng.uniform(10, 12, n), rng.uniform(29, 31, n)
    flux = rng.uniform(0.05, 1.0, n)
    reference = Reference("ref.csv", np.array([f"r{k}" for k in range(n)]), ra, dec, flux)
    found = slice(0, n - 5)  # the five faintest-indexed are missed
    sources = {"ra_deg": ra[found] + offset_arcsec[0] / 3600 / np.cos(np.deg2rad(dec[found])),
               "dec_deg": dec[found] + offset_arcsec[1] / 3600, "flux_jy": flux[found] * ratio,
               "flux_err_jy": np.full(n - 5, 0.001)}
    return sources, reference


def crossmatch_everywhere(sources, reference):
    """The cross-match of a product that covers every reference source, with 1 mJy noise."""
    return crossmatch(sources, reference, in_footprint=lambda ra, dec: np.ones(np.shape(ra), bool),
                      local_rms_jy=lambda ra, dec: np.full(np.shape(ra), 0.001), radius_arcsec=10,
                      detection_sigma=5, thresholds=THRESHOLDS)


def test_crossmatch_recovers_offsets_flux_scale_and_completeness():
    sources, reference = synthetic()
    result = crossmatch_everywhere(sources, reference)
    assert result["n_matched"] == 35 and result["completeness"] == pytest.approx(35 / 40)
    assert result["ra_offset_arcsec"] == pytest.approx(2.0, abs=1e-6)
    assert result["dec_offset_arcsec"] == pytest.approx(-1.0, abs=1e-6)
    assert result["flux_ratio"] == pytest.approx(0.9) and result["verdict"] == "passed"


def test_an_offset_comparable_to_the_scatter_is_not_pulled_towards_zero_by_the_match_circle():
    """3" east, 2" south, each match scattered by 4" per axis: the match circle around the reference positions
    cuts the far side of the scatter; centred on the offset, it keeps 96 % of the matches and their median."""
    rng = np.random.default_rng(7)
    n = 1000
    ra, dec = rng.uniform(10, 40, n), rng.uniform(20, 40, n)
    reference = Reference("ref.csv", np.arange(n).astype(str), ra, dec, np.ones(n))
    d_ra, d_dec = 3.0 + 4 * rng.standard_normal(n), -2.0 + 4 * rng.standard_normal(n)
    source_ra, source_dec = ra + d_ra / 3600 / np.cos(np.deg2rad(dec)), dec + d_dec / 3600
    once = match_around_offset(source_ra, source_dec, reference, radius_arcsec=10, max_rounds=1)
    src, ref, ra_offset, dec_offset = match_around_offset(source_ra, source_dec, reference, radius_arcsec=10)
    assert np.array_equal(src, ref) and src.size > 0.94 * n
    assert ra_offset == pytest.approx(d_ra[src]) and dec_offset == pytest.approx(d_dec[src])
    assert np.median(once[2]) < 2.5  # a single round reads 0.6" short
    assert np.median(ra_offset) == pytest.approx(3.0, abs=0.3) and np.median(dec_offset) == pytest.approx(-2.0, abs=0.3)


def test_the_flux_scale_is_set_by_the_sources_that_measure_it_best():
    """Faint sources whose fitted integrated fluxes read high (as Gaussian fits in noise do) barely move the
    error-weighted ratio; an outlier is clipped."""
    rng = np.random.default_rng(3)
    n, rms = 200, 0.002
    true = 5 * rms * rng.uniform(0, 1, n) ** (-1 / 1.5)  # counts N(>S) ~ S^-1.5 above 5 sigma
    err = np.full(n, 2 * rms)  # PyBDSF's integrated-flux errors are ~2 rms at any brightness
    measured = 0.9 * true * (1 + 5 / (true / rms) ** 2) + err * rng.standard_normal(n)
    measured[np.argmax(true)] *= 3
    ratio, scatter = flux_scale(measured / true, err / true)
    assert np.median(measured / true) > 0.95
    assert ratio == pytest.approx(0.9, rel=0.015) and 0 < scatter < 0.3


def test_crossmatch_fails_a_shifted_or_mis_scaled_product_and_says_why():
    sources, reference = synthetic(offset_arcsec=(5.0, 0.0), ratio=0.6)
    result = crossmatch_everywhere(sources, reference)
    assert result["verdict"] == "failed" and len(result["reasons"]) == 2


def test_each_reference_source_is_matched_at_most_once():
    reference = Reference("r", np.array(["a"]), np.array([10.0]), np.array([30.0]), np.array([1.0]))
    src, ref = match([10.0, 10.0 + 2 / 3600], [30.0, 30.0], reference, radius_arcsec=10)
    assert list(src) == [0] and list(ref) == [0]


def test_variability_of_constant_and_variable_light_curves():
    rng = np.random.default_rng(2)
    err = np.full(6, 0.01)
    constant = variability(1.0 + err * rng.standard_normal(6), err)
    assert constant["eta"] < 2.5 and abs(constant["m"]) < 0.05
    assert not is_candidate(constant, eta_threshold=2.5, vs_threshold=4, m_threshold=0.05)
    flux = np.array([1.0, 1.8, 1.0, 1.8, 1.0, 1.8])
    variable = variability(flux, err)
    assert variable["vs"] == pytest.approx(0.8 / np.hypot(0.01, 0.01))
    assert variable["m"] == pytest.approx(2 * 0.8 / 2.8) and variable["v"] == pytest.approx(flux.std(ddof=1) / 1.4)
    assert is_candidate(variable, eta_threshold=2.5, vs_threshold=4, m_threshold=0.05)


def test_matches_without_a_measured_flux_are_left_out_of_the_flux_scale():
    """A source whose beam fit left the image (NaN) is still matched; the scale comes from the others, and a
    product with no measured flux at all fails with the reason."""
    sources, reference = synthetic(ratio=0.9)
    sources["flux_jy"][:10] = np.nan
    result = crossmatch_everywhere(sources, reference)
    assert result["n_matched"] == 35 and result["flux_ratio"] == pytest.approx(0.9)
    sources["flux_jy"][:] = np.nan
    result = crossmatch_everywhere(sources, reference)
    assert result["flux_ratio"] is None and result["verdict"] == "failed"
    assert result["reasons"] == ["no matched source's flux could be measured"]
