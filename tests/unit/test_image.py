"""Image-domain pieces without an imager: the grid, QA verdicts, source fits, and linear mosaics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.wcs import WCS

from dsa110_continuum import instrument as inst
from dsa110_continuum.image.imagers import CleanMask, baseline_averaging_wavelengths
from dsa110_continuum.image.measure import fit_source, forced_fluxes
from dsa110_continuum.image.observation import image_grid
from dsa110_continuum.image.products import (Observation, image_qa, primary_beam_image, product_header,
                                             restoring_beam_gaussians, robust_rms,
                                             write_fits)
from dsa110_continuum.mosaic.combine import MosaicError, Tile, linear_mosaic
from dsa110_continuum.mosaic.products import make_mosaic

CELL_DEG = 10 / 3600
BEAM = {"BMAJ": 60 / 3600, "BMIN": 30 / 3600, "BPA": 20.0}
THRESHOLDS = {"max_rms_jy": 0.05, "max_flagged_fraction": 0.5, "max_beam_arcsec": 300, "min_dynamic_range": 0}


def sky_header(ra_deg=200.0, dec_deg=30.0, size=512, projection="SIN") -> fits.Header:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = [f"RA---{projection}", f"DEC--{projection}"]
    wcs.wcs.crval = [ra_deg, dec_deg]
    wcs.wcs.crpix = [size / 2 + 1, size / 2 + 1]
    wcs.wcs.cdelt = [-CELL_DEG, CELL_DEG]
    header = wcs.to_header()
    header.update(BEAM)
    return header


def point_sources(header, shape, sources, noise_jy=0.0, seed=1) -> np.ndarray:
    """An image of point sources restored with the header's beam, plus white noise."""
    from dsa110_continuum.image.measure import _beam_in_pixels, _gaussian

    y, x = np.mgrid[:shape[0], :shape[1]]
    major, minor, pa = _beam_in_pixels(header)
    image = np.random.default_rng(seed).normal(0, noise_jy, shape)
    for ra, dec, flux in sources:
        x0, y0 = WCS(header).celestial.world_to_pixel_values(ra, dec)
        image += flux * _gaussian(x, y, float(x0), float(y0), major, minor, pa)
    return image.astype(np.float32)


def test_grid_samples_the_narrowest_beam_with_three_pixels_and_spans_the_field():
    grid = image_grid(600.0, 1.5e9, fov_deg=3.5, pixels_per_beam=3)
    narrowest_arcsec = np.degrees(inst.SPEED_OF_LIGHT_M_S / 1.5e9 / 1200.0) * 3600
    assert grid.cell_arcsec <= narrowest_arcsec / 3 < grid.cell_arcsec + 0.01
    assert grid.size_px % 2 == 0 and grid.size_px * grid.cell_arcsec >= 3.5 * 3600


def test_baseline_averaging_costs_a_source_at_the_image_edge_the_allowed_amplitude_and_no_more():
    edge_offset_rad = np.deg2rad(1.75)
    track_wavelengths = baseline_averaging_wavelengths(0.01, edge_offset_rad)
    u = np.linspace(0, track_wavelengths, 10001)
    kept = abs(np.mean(np.exp(2j * np.pi * u * edge_offset_rad)))
    assert kept == pytest.approx(0.99, abs=2e-4)
    inner = abs(np.mean(np.exp(2j * np.pi * u * edge_offset_rad / 2)))
    assert inner > 0.997


def test_a_product_header_from_wscleans_is_written_and_read_back_without_a_warning(tmp_path):
    """WSClean's header (4 axes, RA in (-180, 180], DATE-OBS at the start, no MJD-OBS) becomes a product header that
    astropy writes and reads back without a word: no time stamp for it to fix, no comment to truncate (an image job
    printed 12 such warnings into the operator's log)."""
    imager_header = fits.Header({"NAXIS": 4, "NAXIS1": 512, "NAXIS2": 512, "NAXIS3": 1, "NAXIS4": 1, **BEAM,
                                 "EQUINOX": 2000.0, "TELESCOP": "OVRO_MMA", "ORIGIN": "WSClean"})
    for axis, (ctype, crval, crpix, cdelt) in enumerate([("RA---SIN", -158.03, 257, -CELL_DEG),
                                                         ("DEC--SIN", 30.5, 257, CELL_DEG),
                                                         ("FREQ", 1.405e9, 1, 1.87e8), ("STOKES", 1, 1, 1)], 1):
        imager_header.update({f"CTYPE{axis}": ctype, f"CRVAL{axis}": crval, f"CRPIX{axis}": crpix,
                              f"CDELT{axis}": cdelt})
    imager_header.update({"SPECSYS": "TOPOCENT", "DATE-OBS": "2025-06-01T04:43:17.4"})
    times_mjd = 60827.19673 + np.arange(24) * inst.INTEGRATION_TIME_S / 86400
    freqs_hz = inst.band_freqs_hz()
    observation = Observation("2025-06-01T04:43:11", 30.4, 201.97, 30.5, times_mjd, np.ones(24), freqs_hz,
                              np.ones(freqs_hz.size), 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        header = product_header(imager_header, observation, imager="wsclean", bunit="JY/BEAM")
        write_fits(tmp_path / "image.fits", np.zeros((512, 512), np.float32), header)
        written = fits.getheader(tmp_path / "image.fits")
        WCS(written)
    assert written["MJD-OBS"] == pytest.approx(times_mjd.mean()) and written["CRVAL1"] == pytest.approx(201.97)
    assert written["FREQ"] == pytest.approx(1.405e9) and written["BMAJ"] == BEAM["BMAJ"]


def test_a_clean_mask_has_a_disc_where_the_imagers_grid_puts_each_known_source(tmp_path):
    """WSClean reads the mask pixel by pixel on its own grid (SIN about the phase centre, reference pixel N/2 + 1,
    as in its images' headers); tclean reads the same discs as region text. A source off the grid is dropped."""
    centre = (201.97, 30.5)
    ra_deg = np.array([centre[0], centre[0] + 0.5 / np.cos(np.radians(30.5)), centre[0] + 20.0])
    dec_deg = np.array([centre[1], centre[1] - 0.3, centre[1]])
    radius_arcsec = 2.5 * CELL_DEG * 3600
    mask = CleanMask(ra_deg, dec_deg, radius_arcsec=radius_arcsec, centre_deg=centre).on_grid(512, CELL_DEG * 3600)
    assert len(mask.ra_deg) == 2
    path = mask.write_fits(str(tmp_path / "mask.fits"), 512, CELL_DEG * 3600)
    pixels = fits.getdata(path) != 0
    wsclean_grid = WCS(naxis=2)
    wsclean_grid.wcs.ctype, wsclean_grid.wcs.crval = ["RA---SIN", "DEC--SIN"], list(centre)
    wsclean_grid.wcs.crpix, wsclean_grid.wcs.cdelt = [257, 257], [-CELL_DEG, CELL_DEG]
    for ra, dec in zip(ra_deg[:2], dec_deg[:2]):
        x, y = wsclean_grid.world_to_pixel_values(ra, dec)
        xi, yi = int(round(float(x))), int(round(float(y)))
        rows, cols = np.nonzero(pixels[yi - 4:yi + 5, xi - 4:xi + 5])
        assert rows.size == pytest.approx(np.pi * 2.5 ** 2, rel=0.3)
        assert abs(cols.mean() + xi - 4 - x) < 0.3 and abs(rows.mean() + yi - 4 - y) < 0.3
    assert pixels.sum() == pytest.approx(2 * np.pi * 2.5 ** 2, rel=0.3)
    circles = open(mask.write_crtf(str(tmp_path / "mask.crtf"))).read().splitlines()
    assert circles[0] == "#CRTFv0" and len(circles) == 3 and circles[2].endswith(f"{radius_arcsec:.3f}arcsec]")


def test_robust_rms_ignores_sources_and_blanks():
    values = np.random.default_rng(2).normal(0, 0.01, 100000)
    values[:50] = 10.0
    values[50:100] = np.nan
    assert robust_rms(values) == pytest.approx(0.01, rel=0.02)


def test_qa_fails_on_noise_flags_and_beam_with_reasons():
    header = sky_header()
    pb = np.ones((64, 64))
    residual = np.random.default_rng(3).normal(0, 0.01, (64, 64))
    image = residual + 0.0
    image[32, 32] = 1.0
    good = image_qa(image, residual, pb, header, pb_cutoff=0.2, flagged_fraction=0.1, thresholds=THRESHOLDS)
    assert good["passed"] and good["dynamic_range"] == pytest.approx(100, rel=0.05)
    bad = image_qa(image, 10 * residual, pb, {**header, "BMAJ": 0.1}, pb_cutoff=0.2, flagged_fraction=0.7,
                   thresholds=THRESHOLDS)
    assert not bad["passed"] and len(bad["reasons"]) == 3 and bad["reasons"][0].startswith("rms 10")


def test_fit_recovers_flux_position_and_honest_errors():
    header = sky_header()
    truth = [(200.0 + 0.05, 30.0 - 0.03, 0.5)]
    rms = 0.01
    fluxes, pulls = [], []
    for seed in range(40):
        image = point_sources(header, (512, 512), truth, noise_jy=rms, seed=seed)
        # white noise per pixel is not beam-correlated: the fit's noise is the per-beam rms
        fit = fit_source(image, header, truth[0][0], truth[0][1], rms_jy=rms)
        fluxes.append(fit.flux_jy)
        peak, err = forced_fluxes(image, header, truth[0][0], truth[0][1], rms_jy=rms, cluster_beams=1.5)
        pulls.append((peak[0] - 0.5) / err[0])
    assert np.mean(fluxes) == pytest.approx(0.5, rel=0.02)
    offset_arcsec = 3600 * np.hypot((fit.ra_deg - truth[0][0]) * np.cos(np.deg2rad(30)), fit.dec_deg - truth[0][1])
    assert offset_arcsec < 3 and fit.major_arcsec == pytest.approx(60, rel=0.1)
    assert np.std(pulls) < 1.5  # uncorrelated pixel noise is kinder than beam-correlated noise
    assert fit_source(image, header, 230.0, 30.0, rms_jy=rms) is None


MID_MJD = 60827.2


def meridian_ra_deg() -> float:
    """The right ascension on the meridian at ``MID_MJD``, where a tile's drift beam is centred."""
    from dsa110_continuum.sky.coords import local_apparent_sidereal_time_rad

    return float(np.rad2deg(local_apparent_sidereal_time_rad(MID_MJD)))


def meridian_observation(name, ra_deg, dec_deg) -> Observation:
    """24 integrations centred on ``MID_MJD`` and 16 x 4 channels, pointed and phased at (ra, dec)."""
    times = MID_MJD + (np.arange(24) - 11.5) * inst.INTEGRATION_TIME_S / 86400
    freqs = inst.band_freqs_hz(16, 4)
    return Observation(name, dec_deg, ra_deg, dec_deg, times, np.ones(24), freqs, np.ones(freqs.size), 0.0)


def tile(tmp_path, name, ra_deg, dec_deg, sources, noise_jy, seed):
    """A tile with a simulated apparent image: sources attenuated by its drift beam, plus noise."""
    observation = meridian_observation(name, ra_deg, dec_deg)
    header = sky_header(ra_deg, dec_deg, size=400)
    pb = primary_beam_image(header, (400, 400), observation)
    wcs = WCS(header).celestial
    apparent = []
    for ra, dec, flux in sources:
        x, y = (int(round(float(v))) for v in wcs.world_to_pixel_values(ra, dec))
        apparent.append((ra, dec, flux * (pb[y, x] if 0 <= x < 400 and 0 <= y < 400 else 0)))
    image = point_sources(header, (400, 400), apparent, noise_jy=noise_jy, seed=seed)
    path = tmp_path / f"{name}.fits"
    fits.PrimaryHDU(image, header).writeto(path)
    return Tile(name, str(path), noise_jy, observation)


def test_linear_mosaic_keeps_fluxes_and_lowers_the_noise_where_tiles_overlap(tmp_path):
    lst_deg = meridian_ra_deg()
    source = (lst_deg + 0.55, 30.0, 2.0)
    tiles = [tile(tmp_path, f"t{k}", lst_deg + 1.1 * k, 30.0, [source], 0.01, seed=k) for k in (0, 1)]
    result = linear_mosaic(tiles, pb_cutoff=0.2)
    header = result["wcs"].to_header()
    header.update(BEAM)
    x, y = (int(round(float(v))) for v in result["wcs"].world_to_pixel_values(source[0], source[1]))
    fit = fit_source(result["mosaic"], header, source[0], source[1], rms_jy=float(result["noise"][y, x]))
    assert fit.flux_jy == pytest.approx(2.0, rel=0.03)
    assert result["coverage"][y, x] == 2
    single = [t.rms_jy / float(primary_beam_image(result["wcs"][y:y + 1, x:x + 1].to_header(), (1, 1), t.observation)[0, 0])
              for t in tiles]
    assert result["noise"][y, x] < min(single)
    assert np.isnan(result["mosaic"][result["coverage"] == 0]).all()


def test_a_window_without_usable_images_or_with_mixed_declinations_is_refused(tmp_path):
    members = ["2025-06-01T04:40:00", "2025-06-01T04:45:09"]
    failed = {g: {"passed": False, "reasons": ["rms too high"], "pointing_dec_deg": 30.0} for g in members}
    with pytest.raises(MosaicError, match="2025-06-01T04:40:00: none of its 2 observations has an image that passed"):
        make_mosaic(members[0], members, failed, {}, {}, pb_cutoff=0.2, dec_tolerance_deg=0.1)
    mixed = {g: {"passed": True, "reasons": [], "pointing_dec_deg": dec} for g, dec in zip(members, (30.0, 55.0))}
    with pytest.raises(MosaicError, match="different declinations .*30.000.*55.000"):
        make_mosaic(members[0], members, mixed, {}, {}, pb_cutoff=0.2, dec_tolerance_deg=0.1)


def test_the_primary_beam_interpolated_from_coarse_samples_equals_the_beam_at_every_pixel():
    from dsa110_continuum.sky.beam import drift_beam

    lst_deg = meridian_ra_deg()
    obs = meridian_observation("t", lst_deg, 40.0)
    header = sky_header(lst_deg, 40.0, size=700, projection="TAN")
    pb = primary_beam_image(header, (700, 700), obs)
    rng = np.random.default_rng(1)
    ys, xs = rng.integers(0, 700, 500), rng.integers(0, 700, 500)
    ra, dec = WCS(header).celestial.pixel_to_world_values(xs, ys)
    exact = drift_beam(ra, dec, 40.0, obs.times_mjd, obs.freqs_hz, time_weights=obs.time_weights,
                       freq_weights=obs.freq_weights)
    assert exact.max() > 0.9 and exact.min() < 0.5  # the samples span the main lobe
    np.testing.assert_allclose(pb[ys, xs], exact, atol=1e-4)


def test_a_one_tile_mosaic_regrids_like_reproject(tmp_path):
    from reproject import reproject_interp
    from scipy.ndimage import binary_erosion

    from dsa110_continuum.mosaic.combine import mosaic_grid
    lst_deg = meridian_ra_deg()
    sources = [(lst_deg + dra, 30.0 + ddec, 1.0) for dra, ddec in ((0, 0), (0.8, 0.3), (-0.6, -0.5))]
    one = tile(tmp_path, "t0", lst_deg, 30.0, sources, 0.01, seed=3)
    wcs, shape = mosaic_grid([one])
    wcs = wcs.deepcopy()
    wcs.wcs.crval = [lst_deg + 0.2, 30.1]  # another tangent point: a real regridding, not a copy
    result = linear_mosaic([one], pb_cutoff=0.2, wcs=wcs, shape=shape, threads=2)
    expected, _ = reproject_interp(fits.open(one.image_path)[0], wcs, shape_out=shape, order="bicubic")
    pb = primary_beam_image(wcs.to_header(), shape, one.observation)
    covered = binary_erosion(np.isfinite(result["mosaic"]) & np.isfinite(expected), iterations=3)  # edges differ
    assert covered.mean() > 0.5
    np.testing.assert_allclose((result["mosaic"] * pb)[covered], expected[covered], atol=1e-3)


def test_blanked_tile_pixels_are_left_out_of_a_mosaic_without_spreading(tmp_path):
    lst_deg = meridian_ra_deg()
    one = tile(tmp_path, "t0", lst_deg, 30.0, [(lst_deg, 30.0, 1.0)], 0.01, seed=4)
    with fits.open(one.image_path, mode="update") as hdul:
        hdul[0].data[100:120, 150:170] = np.nan
    result = linear_mosaic([one], pb_cutoff=0.2)
    x, y = (int(round(float(v))) for v in result["wcs"].world_to_pixel_values(
        *WCS(fits.getheader(one.image_path)).celestial.pixel_to_world_values(160, 110)))
    assert result["coverage"][y, x] == 0 and np.isnan(result["mosaic"][y, x])
    assert np.isfinite(result["mosaic"][result["coverage"] > 0]).all()
    assert (result["coverage"] > 0).sum() > 0.5 * 400 * 400


def full_scale_wcs(ra_deg: float, projection: str) -> WCS:
    """A full-scale image's grid: 4962 x 4962 pixels of 2.54 arcsec at dec +30."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = [f"RA---{projection}", f"DEC--{projection}"]
    wcs.wcs.crval = [ra_deg, 30.0]
    wcs.wcs.crpix = [2482.0, 2482.0]
    wcs.wcs.cdelt = [-2.54 / 3600, 2.54 / 3600]
    return wcs


def test_smooth_maps_interpolated_from_coarse_samples_are_exact_at_full_scale():
    """The drift beam of a full-scale image, and the pixel mapping from a mosaic's TAN grid to a tile 6 deg away,
    spline-interpolated from ~64 samples each way, agree with their exact values within 1e-6 and 5e-3 pixel."""
    from dsa110_continuum.image.products import coarse_primary_beam, sample_points, spline_weights
    from dsa110_continuum.sky.beam import drift_beam

    n = 4962
    observation = meridian_observation("full", 200.0, 30.0)
    tile = full_scale_wcs(200.0, "SIN")
    rng = np.random.default_rng(5)
    ys, xs = rng.integers(0, n, 2000), rng.integers(0, n, 2000)
    exact = drift_beam(*tile.pixel_to_world_values(xs, ys), observation.pointing_dec_deg, observation.times_mjd,
                       observation.freqs_hz, time_weights=observation.time_weights,
                       freq_weights=observation.freq_weights)
    pb = primary_beam_image(tile.to_header(), (n, n), observation)
    assert sample_points(n).size <= 65 and exact.min() < 0.2
    assert np.abs(pb[ys, xs] - exact).max() < 1e-6

    mosaic = full_scale_wcs(194.0, "TAN")
    mosaic.wcs.crpix = [2482.0 + 6 * 3600 / 2.54 * np.cos(np.deg2rad(30)), 2482.0]  # the tile fills the cutout
    rows = cols = sample_points(n)
    coarse = tile.world_to_pixel_values(*mosaic.pixel_to_world_values(*np.meshgrid(cols, rows)))
    exact_xy = tile.world_to_pixel_values(*mosaic.pixel_to_world_values(xs, ys))
    weights = spline_weights(rows, n)
    for coarse_map, exact_map in zip(coarse, exact_xy):
        interpolated = (weights @ coarse_map.astype(np.float32) @ weights.T)[ys, xs]
        assert np.abs(interpolated - exact_map).max() < 5e-3  # float32 maps: 0.002 px at any sampling


def test_the_mosaic_spline_sampler_is_scipys():
    """The regridding's cubic B-spline sampler gives what scipy's map_coordinates gives, edges included."""
    from scipy.ndimage import map_coordinates, spline_filter

    from dsa110_continuum.mosaic.combine import _sample_cubic_spline

    rng = np.random.default_rng(4)
    coefficients = spline_filter(rng.standard_normal((50, 60)), 3, mode="mirror").astype(np.float32)
    y = rng.uniform(-0.5, 49.5, (30, 40)).astype(np.float32)
    x = rng.uniform(-0.5, 59.5, (30, 40)).astype(np.float32)
    y[0, :4], x[0, :4] = [-0.5, 49.5, 0.0, 49.0], [-0.5, 59.5, 59.0, 0.0]
    expected = map_coordinates(coefficients, [y, x], order=3, mode="mirror", prefilter=False, output=np.float32)
    sampled = np.empty_like(y)
    _sample_cubic_spline(coefficients, y, x, sampled)
    np.testing.assert_allclose(sampled, expected, atol=1e-6)
    y[1, 0] = np.nan
    _sample_cubic_spline(coefficients, y, x, sampled)
    assert sampled[1, 0] == 0


def test_a_restored_source_is_the_restoring_beam_at_its_position_and_flux():
    """Drawn at a sub-pixel position: its peak there, half of it BMAJ / 2 away along BPA (east of north, as astropy
    offsets positions) and BMIN / 2 away across it, and its integrated flux equal to its peak in Jy/beam."""
    from astropy.coordinates import SkyCoord
    from scipy.ndimage import map_coordinates

    wcs = WCS(naxis=2)
    wcs.wcs.ctype, wcs.wcs.crval, wcs.wcs.crpix = ["RA---TAN", "DEC--TAN"], [150.0, 40.0], [101.0, 101.0]
    wcs.wcs.cdelt = [-2.0 / 3600, 2.0 / 3600]
    header = wcs.to_header()
    header.update(BMAJ=40.0 / 3600, BMIN=20.0 / 3600, BPA=30.0)
    centre = SkyCoord(150.0123, 40.0071, unit="deg")
    drawn, on_grid = restoring_beam_gaussians(header, (200, 200), [(centre.ra.deg, centre.dec.deg, 2.0),
                                                                   (151.0, 40.0, 5.0)])
    assert on_grid == [True, False]

    def at(position: SkyCoord) -> float:
        x, y = wcs.world_to_pixel(position)
        return float(map_coordinates(drawn.astype(float), [[float(y)], [float(x)]], order=3)[0])

    assert at(centre) == pytest.approx(2.0, rel=1e-3)
    for pa_deg, half_width_arcsec in ((30, 20.0), (210, 20.0), (120, 10.0), (300, 10.0)):
        offset = centre.directional_offset_by(pa_deg * u.deg, half_width_arcsec * u.arcsec)
        assert at(offset) == pytest.approx(1.0, rel=0.01), pa_deg
    beam_area_px = np.pi * 40.0 * 20.0 / (4 * np.log(2)) / 2.0 ** 2
    assert drawn.sum() / beam_area_px == pytest.approx(2.0, rel=0.005)
