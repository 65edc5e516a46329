"""Unit tests for dsa110_continuum.calibrators."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import HADec, TETE, EarthLocation, SkyCoord
from astropy.time import Time
from astropy.utils import iers

from dsa110_continuum.calibrators import (
    Calibrator,
    CalibratorTransit,
    Solve,
    airy_power_beam,
    choose_calibration_set,
    flux_at_freq_jy,
    load_calibrator_catalogue,
    select_calibrator,
)

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "config" / "calibrators.csv"
SITE = EarthLocation.from_geodetic(-118.2856 * u.deg, 37.2334 * u.deg, 1183.0 * u.m)
C_M_S = 299_792_458.0
HEADER = "name,ra_deg,dec_deg,flux_1400mhz_jy,spectral_index,casa_standard_name\n"
SEC = 1.0 / 86400.0


@pytest.fixture(autouse=True)
def _offline_iers():
    with iers.conf.set_temp("auto_download", False):
        yield


@pytest.fixture(scope="module")
def catalogue() -> list[Calibrator]:
    with iers.conf.set_temp("auto_download", False):
        return load_calibrator_catalogue(CATALOGUE)


@pytest.fixture(scope="module")
def c3c286(catalogue) -> Calibrator:
    return next(c for c in catalogue if c.name == "3C286")


def _astropy_transit_mjd(cal: Calibrator, near_mjd: float) -> float:
    """Independent transit: iterate astropy's topocentric hour angle to zero."""
    coord = SkyCoord(cal.ra_deg * u.deg, cal.dec_deg * u.deg, frame="icrs")
    mjd = near_mjd
    for _ in range(4):
        frame = HADec(obstime=Time(mjd, format="mjd", scale="utc"), location=SITE)
        ha_rad = coord.transform_to(frame).ha.wrap_at(180 * u.deg).to_value(u.rad)
        mjd -= ha_rad / (2 * np.pi) * 0.9972695663
    return mjd


def _astropy_apparent_dec_deg(cal: Calibrator, mjd: float) -> float:
    coord = SkyCoord(cal.ra_deg * u.deg, cal.dec_deg * u.deg, frame="icrs")
    return coord.transform_to(TETE(obstime=Time(mjd, format="mjd", scale="utc"))).dec.deg


@pytest.fixture(scope="module")
def transit_3c286(c3c286) -> float:
    with iers.conf.set_temp("auto_download", False):
        return _astropy_transit_mjd(c3c286, Time("2025-06-15T03:00:00", scale="utc").mjd)


# ----------------------------------------------------------------------- shipped catalogue


def test_shipped_catalogue_contents(catalogue):
    by_name = {c.name: c for c in catalogue}
    for name in ("3C286", "3C48", "3C147", "3C138", "J0834+555"):
        assert name in by_name
    assert by_name["3C286"].ra_deg == pytest.approx(202.784533, abs=1e-5)
    assert by_name["3C286"].dec_deg == pytest.approx(30.509155, abs=1e-5)
    assert by_name["J0834+555"].dec_deg == pytest.approx(55.5725, abs=1e-3)
    assert by_name["3C48"].casa_standard_name == "3C48"
    assert by_name["J0834+555"].casa_standard_name is None
    assert all(not c.is_fallback and c.flux_1400mhz_jy >= 1.0 for c in catalogue)


# ----------------------------------------------------------------------- selection


def test_3c286_selected_at_its_transit(c3c286, catalogue, transit_3c286):
    result = select_calibrator(transit_3c286 - 150 * SEC, transit_3c286 + 160 * SEC, 30.5, catalogue)
    assert isinstance(result, CalibratorTransit)
    assert result.calibrator.name == "3C286"
    assert abs(result.transit_mjd - transit_3c286) * 86400 < 2.0
    assert 0.9 < result.pb_attenuation <= 1.0


def test_transit_time_independent_of_window_placement(catalogue, transit_3c286):
    early = select_calibrator(transit_3c286 - 290 * SEC, transit_3c286 + 10 * SEC, 30.5, catalogue)
    late = select_calibrator(transit_3c286 - 10 * SEC, transit_3c286 + 290 * SEC, 30.5, catalogue)
    assert early is not None and late is not None
    assert abs(early.transit_mjd - transit_3c286) * 86400 < 2.0
    assert abs(late.transit_mjd - transit_3c286) * 86400 < 2.0


@pytest.mark.parametrize("pointing_dec", [32.5, 28.4])
def test_not_selected_when_pointing_two_degrees_away(catalogue, transit_3c286, pointing_dec):
    assert select_calibrator(transit_3c286 - 150 * SEC, transit_3c286 + 150 * SEC,
                             pointing_dec, catalogue) is None


def test_not_selected_when_transit_outside_observation(catalogue, transit_3c286):
    ends_before = select_calibrator(transit_3c286 - 400 * SEC, transit_3c286 - 60 * SEC, 30.5, catalogue)
    starts_after = select_calibrator(transit_3c286 + 60 * SEC, transit_3c286 + 400 * SEC, 30.5, catalogue)
    assert ends_before is None and starts_after is None


def test_dec_offset_is_from_apparent_dec(c3c286, catalogue, transit_3c286):
    apparent_dec = _astropy_apparent_dec_deg(c3c286, transit_3c286)
    # Sanity: precession since J2000 moves 3C286 by > 0.1 deg in 2025.
    assert 0.1 < abs(apparent_dec - c3c286.dec_deg) < 0.3
    result = select_calibrator(transit_3c286 - 150 * SEC, transit_3c286 + 150 * SEC, 30.5, catalogue)
    assert result.dec_offset_deg == pytest.approx(apparent_dec - 30.5, abs=2.0 / 3600)
    assert abs(result.dec_offset_deg - (c3c286.dec_deg - 30.5)) > 0.1


def test_icrs_within_tolerance_but_apparent_not(c3c286, transit_3c286):
    apparent_dec = _astropy_apparent_dec_deg(c3c286, transit_3c286)
    span = (transit_3c286 - 150 * SEC, transit_3c286 + 150 * SEC)
    # Pointing 1.45 deg from the ICRS dec, on the side away from the apparent dec: rejected.
    side = np.sign(c3c286.dec_deg - apparent_dec)
    pointing = c3c286.dec_deg + side * 1.45
    assert abs(pointing - c3c286.dec_deg) <= 1.5 < abs(pointing - apparent_dec)
    assert select_calibrator(*span, pointing, [c3c286]) is None
    # Pointing 1.45 deg from the apparent dec, away from ICRS: accepted.
    pointing = apparent_dec - side * 1.45
    assert abs(pointing - c3c286.dec_deg) > 1.5
    result = select_calibrator(*span, pointing, [c3c286])
    assert result is not None
    assert abs(result.dec_offset_deg) == pytest.approx(1.45, abs=2.0 / 3600)


def test_choice_by_attenuated_flux_then_name(c3c286, transit_3c286):
    base = dict(ra_deg=c3c286.ra_deg, spectral_index=0.0)
    dec0 = c3c286.dec_deg
    bright_far = Calibrator(name="BrightFar", dec_deg=dec0 + 1.3, flux_1400mhz_jy=20.0, **base)
    faint_near = Calibrator(name="FaintNear", dec_deg=dec0, flux_1400mhz_jy=11.0, **base)
    pointing = _astropy_apparent_dec_deg(c3c286, transit_3c286)
    span = (transit_3c286 - 150 * SEC, transit_3c286 + 150 * SEC)
    result = select_calibrator(*span, pointing, [bright_far, faint_near])
    assert result.calibrator.name == "FaintNear"  # 20 Jy x ~0.5 < 11 Jy x ~1
    # Far away from the pointing the brighter wins if the beam does not hurt it as much.
    result = select_calibrator(*span, pointing + 0.65, [bright_far, faint_near])
    assert result.calibrator.name == "BrightFar"
    twin_a = Calibrator(name="Alpha", dec_deg=dec0, flux_1400mhz_jy=5.0, **base)
    twin_z = Calibrator(name="Zulu", dec_deg=dec0, flux_1400mhz_jy=5.0, **base)
    assert select_calibrator(*span, pointing, [twin_z, twin_a]).calibrator.name == "Alpha"
    assert select_calibrator(*span, pointing, [twin_a, twin_z]).calibrator.name == "Alpha"


def test_picks_the_calibrator_that_transits(catalogue):
    # 3C147 and 3C48 are not at 30.5 deg; 3C48 at its own dec transits in a window around
    # its transit, 3C286 must not be picked there.
    c3c48 = next(c for c in catalogue if c.name == "3C48")
    t = _astropy_transit_mjd(c3c48, Time("2025-10-01T08:00:00", scale="utc").mjd)
    result = select_calibrator(t - 150 * SEC, t + 150 * SEC, 33.3, catalogue)
    assert result.calibrator.name == "3C48"
    assert abs(result.transit_mjd - t) * 86400 < 2.0
    assert select_calibrator(t - 150 * SEC, t + 150 * SEC, 30.5, catalogue) is None


def test_select_rejects_bad_span(catalogue):
    with pytest.raises(ValueError):
        select_calibrator(60001.0, 60000.0, 30.5, catalogue)
    assert select_calibrator(60000.0, 60000.1, 30.5, []) is None


def test_outside_iers_table_still_works(c3c286):
    # Far beyond the bundled IERS predictions: UT1-UTC is extrapolated, not an error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = Time("2045-03-01T00:00:00", scale="utc").mjd
        result = select_calibrator(start, start + 1.0, 30.4, [c3c286])
    assert result is not None and start <= result.transit_mjd <= start + 1.0


# ----------------------------------------------------------------------- flux and beam


def test_flux_power_law(c3c286):
    assert flux_at_freq_jy(c3c286, 1.4e9) == pytest.approx(c3c286.flux_1400mhz_jy)
    assert flux_at_freq_jy(c3c286, 2.8e9) == pytest.approx(
        c3c286.flux_1400mhz_jy * 2.0 ** c3c286.spectral_index)
    cal = Calibrator("X", 10.0, 20.0, 2.0, -0.7)
    freqs = np.array([0.7e9, 1.4e9, 2.8e9])
    np.testing.assert_allclose(flux_at_freq_jy(cal, freqs), 2.0 * np.array([2 ** 0.7, 1.0, 2 ** -0.7]))
    with pytest.raises(ValueError):
        flux_at_freq_jy(cal, 0.0)


def test_airy_beam_normalisation_and_half_power():
    freq = 1.4e9
    lam_over_d = C_M_S / freq / 4.65
    assert airy_power_beam(0.0, freq) == pytest.approx(1.0)
    assert airy_power_beam(0.5 * 1.02 * lam_over_d, freq) == pytest.approx(0.5, abs=0.02)
    assert airy_power_beam(0.5 * 1.029 * lam_over_d, freq) == pytest.approx(0.5, abs=2e-3)
    assert airy_power_beam(1.2197 * lam_over_d, freq) == pytest.approx(0.0, abs=1e-6)  # first null
    # FWHM ~2.7 deg at 1.4 GHz for the 4.65 m dish
    assert airy_power_beam(np.deg2rad(1.35), freq) == pytest.approx(0.5, abs=0.02)
    offsets = np.deg2rad(np.linspace(0, 2.5, 6))
    p = airy_power_beam(offsets, freq)
    assert p.shape == (6,) and np.all(np.diff(p) < 0)
    assert airy_power_beam(-0.01, freq) == pytest.approx(airy_power_beam(0.01, freq))
    # narrower at higher frequency
    assert airy_power_beam(0.02, 1.5e9) < airy_power_beam(0.02, 1.3e9)


# ----------------------------------------------------------------------- catalogue loading


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_missing_column_names_file_and_line(tmp_path):
    path = _write(tmp_path, "cat.csv", "name,ra_deg,dec_deg,flux_1400mhz_jy\nA,1,2,3\n")
    with pytest.raises(ValueError, match=r"cat\.csv, line 1: .*spectral_index"):
        load_calibrator_catalogue(path)


def test_non_numeric_value_names_file_and_line(tmp_path):
    path = _write(tmp_path, "bad.csv", HEADER + "A,10,20,5,-0.7,\nB,10,abc,5,-0.7,\n")
    with pytest.raises(ValueError, match=r"bad\.csv, line 3: .*dec_deg.*'abc'"):
        load_calibrator_catalogue(path)


def test_dec_out_of_range_names_file_and_line(tmp_path):
    text = HEADER + "\nA,10,20,5,-0.7,\n\nB,10,95.5,5,-0.7,\n"
    path = _write(tmp_path, "dec.csv", text)
    with pytest.raises(ValueError, match=r"dec\.csv, line 5: dec_deg 95\.5 outside"):
        load_calibrator_catalogue(path)


def test_wrong_field_count_and_duplicates(tmp_path):
    path = _write(tmp_path, "short.csv", HEADER + "A,10,20,5\n")
    with pytest.raises(ValueError, match=r"short\.csv, line 2: expected 6 fields"):
        load_calibrator_catalogue(path)
    path = _write(tmp_path, "dup.csv", HEADER + "A,10,20,5,-0.7,\nA,11,21,5,-0.7,\n")
    with pytest.raises(ValueError, match=r"dup\.csv, line 3: duplicate"):
        load_calibrator_catalogue(path)


def test_bad_fallback_file_is_named(tmp_path):
    main = _write(tmp_path, "main.csv", HEADER + "A,10,20,5,-0.7,\n")
    fb = _write(tmp_path, "vla.csv", "name,ra_deg,dec_deg\nB,1,2\n")
    with pytest.raises(ValueError, match=r"vla\.csv, line 1: .*flux_1400mhz_jy"):
        load_calibrator_catalogue(main, fallback_path=fb)
    fb = _write(tmp_path, "vla2.csv", "name,ra_deg,dec_deg,flux_1400mhz_jy\nB,1,-91,2\n")
    with pytest.raises(ValueError, match=r"vla2\.csv, line 2: dec_deg"):
        load_calibrator_catalogue(main, fallback_path=fb)


def test_fallback_filtering(tmp_path):
    main = _write(tmp_path, "main.csv", HEADER
                  + "3C286,202.78453326667,30.50915523611,15.08,-0.501,3C286\n")
    fb = _write(tmp_path, "vla.csv",
                "name,ra_deg,dec_deg,flux_1400mhz_jy\n"
                "J0001+0000,0.5,0.1,0.99\n"
                "J0002+0000,0.6,0.2,1.0\n"
                "3c 286,203.0,30.6,15.0\n"
                "J1331+3030,202.78453,30.50916,15.0\n"
                "J0003+0000,0.7,0.3,4.5\n")
    cals = load_calibrator_catalogue(main, fallback_path=fb)
    names = [c.name for c in cals]
    assert names == ["3C286", "J0002+0000", "J0003+0000"]
    extra = cals[1]
    assert extra.is_fallback and extra.casa_standard_name is None
    assert extra.spectral_index == pytest.approx(-0.7)
    assert not cals[0].is_fallback
    higher = load_calibrator_catalogue(main, fallback_path=fb, fallback_min_flux_jy=2.0)
    assert [c.name for c in higher] == ["3C286", "J0003+0000"]


def test_fallback_with_full_columns(tmp_path):
    main = _write(tmp_path, "main.csv", HEADER + "A,10,20,5,-0.7,\n")
    fb = _write(tmp_path, "user.csv", HEADER + "B,50,20,3,-0.2,3C999\nC,60,20,3,,\n")
    cals = load_calibrator_catalogue(main, fallback_path=fb)
    assert [(c.name, c.spectral_index, c.casa_standard_name) for c in cals[1:]] == [
        ("B", -0.2, "3C999"), ("C", -0.7, None)]


# ----------------------------------------------------------------------- calibration sets


def test_choose_nearest_valid_solve():
    t = 60000.5
    solves = [Solve("far", t - 0.3, True), Solve("near", t + 0.1, True), Solve("mid", t - 0.2, True)]
    assert choose_calibration_set(t, solves).set_id == "near"


def test_choose_falls_back_when_nearest_failed_qa():
    t = 60000.5
    solves = [Solve("near_bad", t + 0.01, False), Solve("next", t - 0.2, True), Solve("far", t + 0.4, True)]
    assert choose_calibration_set(t, solves).set_id == "next"
    assert choose_calibration_set(t, [Solve("bad", t, False)]) is None
    assert choose_calibration_set(t, []) is None


def test_choose_validity_window():
    t = 60000.5
    assert choose_calibration_set(t, [Solve("x", t + 12.01 / 24, True)]) is None
    assert choose_calibration_set(t, [Solve("x", t - 12.0 / 24, True)]).set_id == "x"
    assert choose_calibration_set(t, [Solve("x", t + 3 / 24, True)], validity_hours=2.0) is None


def test_choose_tie_breaks_are_deterministic():
    t = 60000.3  # |t - 60000.1| and |t - 60000.5| differ only by float rounding
    solves = [Solve("later", 60000.5, True), Solve("earlier", 60000.1, True)]
    assert choose_calibration_set(t, solves).set_id == "earlier"
    assert choose_calibration_set(t, solves[::-1]).set_id == "earlier"
    same = [Solve("b", 60000.4, True), Solve("a", 60000.4, True)]
    assert choose_calibration_set(t, same).set_id == "a"
    assert choose_calibration_set(t, same[::-1]).set_id == "a"
