"""Images and mosaics end to end (real Snakemake, WSClean and CASA), checked against the simulated sky."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import EarthLocation
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS

from dsa110_continuum import instrument as inst
from dsa110_continuum.image.measure import fit_source
from dsa110_continuum.image.products import read_plane
from dsa110_continuum.naming import Products
from dsa110_continuum.sky.beam import drift_beam
from helpers import fit_sources, offset_in_beams

pytestmark = pytest.mark.e2e
DECS = [20.0, 55.0]


def target(session):
    """The target's image directory, QA record and fitted sources (those inside the primary-beam cutoff)."""
    qa_path = Path(Products(session["out"]).image_qa(session["target"]))
    qa, image_dir = json.loads(qa_path.read_text()), qa_path.parent
    fitted, header = fit_sources(image_dir, session["sources"], qa["rms_jy"])
    inside = {name: fit for name, (fit, response) in fitted.items() if fit is not None and response >= qa["pb_cutoff"]}
    responses = {name: response for name, (_, response) in fitted.items()}
    return image_dir, qa, inside, responses, header


def at_the_site(header) -> bool:
    """The header's observatory (OBSGEO-X/Y/Z) is the array's reference position, to a metre."""
    site = EarthLocation.from_geocentric(*(header[f"OBSGEO-{axis}"] for axis in "XYZ"), unit="m").geodetic
    return (abs(site.lat.deg - inst.SITE_LAT_DEG) < 1e-5 and abs(site.lon.deg - inst.SITE_LON_DEG) < 1e-5
            and abs(site.height.to_value("m") - inst.SITE_HEIGHT_M) < 1)


@pytest.mark.parametrize("dec", DECS)
def test_the_workflow_images_every_calibrated_observation(imaging_runs, dec):
    session = imaging_runs[dec]
    assert session["run"].returncode == 0, session["run"].stderr[-3000:]
    paths = Products(session["out"])
    for group in session["kept"]:
        qa = json.loads(open(paths.image_qa(group)).read())
        assert qa["passed"], qa["reasons"]


@pytest.mark.parametrize("dec", DECS)
def test_sources_at_their_injected_positions_and_fluxes(imaging_runs, dec):
    """Positions within 1/5 of the beam, peak fluxes (the flux of a point source) within 3 % above 50 sigma and 5 %
    above 20 sigma (or 3x the fit's own noise, 1/SNR, where that is larger: at 34 sigma noise alone scatters a flux
    by 3 %), at the centre and where the drift beam is 0.3 east and west. A source there brightens or fades ~2x
    during the observation, which no imager can deconvolve; applying calibration takes that change out of the data
    for the reference catalogue's sources (the session's reference is its truth). Left in, east at +55 and west at
    +20 read 4.9 % and 6.2 % low, with 2.4-3.6x the residual rms. CLEAN works only in small discs around the
    catalogued positions: the peaks read 0.979-0.993 of the truth; the fits come out 3-5 % wider than the restoring
    beam, so their integrated fluxes read 1.02-1.04."""
    session = imaging_runs[dec]
    _, qa, fits_, responses, header = target(session)
    truth = {s.name: s for s in session["sources"]}
    assert {"centre", "east", "west"} <= set(fits_)
    assert 0.25 <= responses["east"] <= 0.35 and 0.25 <= responses["west"] <= 0.35
    checked = 0
    for name, fit in fits_.items():
        snr = fit.peak_jy * responses[name] / qa["rms_jy"]
        if snr < 20:
            continue
        tolerance = max(0.03 if snr >= 50 else 0.05, 3 / snr)
        assert fit.peak_jy / truth[name].flux_jy == pytest.approx(1, abs=tolerance), (name, fit)
        assert max(offset_in_beams(fit, truth[name], header)) < 0.2, (name, fit)
        checked += 1
    assert checked >= 4


def test_the_primary_beam_is_the_drift_beam_not_the_beam_at_mid_observation(imaging_runs):
    """At dec +20, where a source drifts furthest through the beam in an observation, the beam at the east and
    west sources averaged over the drift is 6 % above the beam at mid-observation; the pb image holds the
    former to 1 %, and the pbcor image is the image divided by it."""
    session = imaging_runs[20.0]
    image_dir, _, _, _, header = target(session)
    pb, _ = read_plane(image_dir / "pb.fits")
    image, _ = read_plane(image_dir / "image.fits")
    pbcor, _ = read_plane(image_dir / "pbcor.fits")
    times_mjd = np.array(session["target_truth"]["time_jd"]) - 2400000.5
    for name in ("east", "west"):
        source = next(s for s in session["sources"] if s.name == name)
        static = float(drift_beam(source.ra_deg, source.dec_deg, 20.0, [times_mjd.mean()], inst.band_freqs_hz()))
        drift = float(drift_beam(source.ra_deg, source.dec_deg, 20.0, times_mjd, inst.band_freqs_hz()))
        x, y = (int(round(float(v))) for v in WCS(header).celestial.world_to_pixel_values(source.ra_deg,
                                                                                            source.dec_deg))
        assert drift / static > 1.05, (name, drift / static)
        assert pb[y, x] == pytest.approx(drift, rel=0.01), name
        assert pbcor[y, x] == pytest.approx(image[y, x] / pb[y, x], rel=1e-4), name


def test_products_carry_what_users_need(imaging_runs):
    session = imaging_runs[20.0]
    image_dir, qa, _, _, _ = target(session)
    mid = Time(np.mean(session["target_truth"]["time_jd"]), format="jd")
    for product in ("image", "pbcor", "pb", "residual", "psf"):
        header = fits.getheader(image_dir / f"{product}.fits")
        assert header["NAXIS"] == 2 and header["CTYPE1"].startswith("RA---") and 0 <= header["CRVAL1"] < 360
        assert abs(Time(header["DATE-OBS"]).jd - mid.jd) * 86400 < 1 and header["MJD-OBS"] == pytest.approx(mid.mjd)
        assert header["FREQ"] == pytest.approx(1.405e9, rel=0.01) and header["PNTDEC"] == pytest.approx(20.0)
        assert header["BMAJ"] > header["BMIN"] > 0 and at_the_site(header)
    ra, dec = session["target_truth"]["field_centre_icrs_deg"]
    header = fits.getheader(image_dir / "image.fits")
    assert header["OBSRA"] == pytest.approx(ra, abs=1e-3) and header["OBSDEC"] == pytest.approx(dec, abs=1e-3)
    pb, _ = read_plane(image_dir / "pb.fits")
    pbcor, _ = read_plane(image_dir / "pbcor.fits")
    assert pb.max() > 0.95 and np.isnan(pbcor[pb < qa["pb_cutoff"]]).all() and np.isfinite(pbcor[pb > 0.5]).all()
    assert qa["blanked_fraction"] == pytest.approx(float((pb < qa["pb_cutoff"]).mean()), abs=1e-6)
    for key in ("rms_jy", "peak_jy", "dynamic_range", "beam_major_arcsec", "flagged_fraction"):
        assert np.isfinite(qa[key])
    assert (image_dir / "quicklook.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def image_target_again(session, out: Path, imager: str, *overlays: Path) -> dict:
    """The target imaged by the command line into ``out`` with the session's config (plus ``overlays``); its QA."""
    paths = Products(session["out"])
    group = session["target"]
    done = subprocess.run([str(sys.executable).replace("python", "dsa110-continuum"), "image",
                           paths.calibrated_ms(group), "--record", paths.calibrated_record(group), "--out", str(out),
                           "--imager", imager, "--configfile", str(session["tmp"] / "config.yaml"), *map(str, overlays)],
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    qa = json.loads(done.stdout)
    assert qa["imager"] == imager
    return qa


def test_tclean_and_wsclean_agree(imaging_runs, tmp_path):
    """CASA tclean on the same calibrated MS: the same sources within 5 % and 1/5 beam."""
    session = imaging_runs[55.0]
    tclean_qa = image_target_again(session, tmp_path, "tclean")
    _, qa, wsclean_fits, _, _ = target(session)
    tclean_fits, header = fit_sources(tmp_path, session["sources"], tclean_qa["rms_jy"])
    assert at_the_site(header)
    for name in ("centre", "east", "west"):
        ours, theirs = wsclean_fits[name], tclean_fits[name][0]
        assert theirs.flux_jy / ours.flux_jy == pytest.approx(1, abs=0.05), name
        assert max(offset_in_beams(theirs, ours, header)) < 0.2, name


def test_channels_averaged_before_imaging_keep_positions_and_fluxes(imaging_runs, tmp_path):
    """Four channels averaged into one before WSClean grids them (image.channels_per_average, a speed setting):
    the same sources within 1 % and 1/20 beam, bandwidth smearing included, from 192 channels instead of 768."""
    session = imaging_runs[55.0]
    overlay = tmp_path / "averaging.yaml"
    overlay.write_text("image: {channels_per_average: 4}\n")
    averaged_qa = image_target_again(session, tmp_path, "wsclean", overlay)
    assert "1311-1499 (192)" in (tmp_path / "imager.log").read_text()
    _, qa, full_fits, _, _ = target(session)
    averaged_fits, header = fit_sources(tmp_path, session["sources"], averaged_qa["rms_jy"])
    for name in ("centre", "east", "west"):
        ours, theirs = full_fits[name], averaged_fits[name][0]
        assert theirs.flux_jy / ours.flux_jy == pytest.approx(1, abs=0.01), name
        assert max(offset_in_beams(theirs, ours, header)) < 0.05, name
    assert averaged_qa["rms_jy"] == pytest.approx(qa["rms_jy"], rel=0.05)


def test_mosaic_windows_slide_and_the_trailing_one_waits(imaging_runs):
    session = imaging_runs[20.0]
    g = session["groups"]
    plan = json.loads(open(Products(session["out"]).mosaic_plan(g[0][:10])).read())
    windows = {w["window_id"]: w for w in plan["windows"]}
    assert [w["members"] for w in plan["windows"]] == [[g[0], g[1]], [g[1], g[2]], [g[2], g[3]], [g[3]]]
    assert windows[g[3]]["waiting"] == "waits for later observations"
    assert all(windows[w]["waiting"] is None for w in g[:3])


def test_mosaic_recovers_a_source_seen_by_two_tiles_with_less_noise(imaging_runs):
    """The source between the last two observations: flux within 3 %; in the overlap the mosaic's noise is
    below either tile's primary-beam-corrected noise there."""
    session = imaging_runs[20.0]
    paths = Products(session["out"])
    window = session["groups"][2]
    qa = json.loads(open(paths.mosaic_qa(window)).read())
    assert qa["used"] == session["groups"][2:] and qa["n_tiles"] == 2
    mosaic, header = read_plane(paths.mosaic_product(window, "mosaic"))
    noise, _ = read_plane(paths.mosaic_product(window, "noise"))
    assert at_the_site(header)
    source = next(s for s in session["sources"] if s.name == "between")
    x, y = (int(round(float(v))) for v in WCS(header).celestial.world_to_pixel_values(source.ra_deg, source.dec_deg))
    fit = fit_source(mosaic, header, source.ra_deg, source.dec_deg, rms_jy=float(noise[y, x]))
    assert fit.flux_jy / source.flux_jy == pytest.approx(1, abs=0.03), fit
    for group in session["groups"][2:]:
        tile_qa = json.loads(open(paths.image_qa(group)).read())
        tile_pb = float(drift_beam(source.ra_deg, source.dec_deg, 20.0, tile_qa["beam_model"]["times_mjd"],
                                   tile_qa["beam_model"]["freqs_hz"], time_weights=tile_qa["beam_model"]["time_weights"],
                                   freq_weights=tile_qa["beam_model"]["freq_weights"]))
        assert noise[y, x] < tile_qa["rms_jy"] / tile_pb
