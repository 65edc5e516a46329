"""Which calibrator transits in an observation (checked against astropy), and which set serves an observation."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import HADec, TETE, EarthLocation, SkyCoord
from astropy.time import Time
from astropy.utils import iers

from dsa110_continuum.calibrate.registry import CalibrationSet, registry, set_records, sets_in_window
from dsa110_continuum.calibrate.transits import CalibratorTransit, select_calibrator
from dsa110_continuum.sky.catalogue import Calibrator, load_calibrator_catalogue

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "config" / "calibrators.csv"
SITE = EarthLocation.from_geodetic(-118.2856 * u.deg, 37.2334 * u.deg, 1183.0 * u.m)
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


# ----------------------------------------------------------------------- calibration sets


def nearest_passed(t, sets, validity_hours=12.0):
    chosen = [s for s in sets_in_window(t, sets, validity_hours=validity_hours) if s.passed]
    return chosen[0].set_id if chosen else None


def test_choose_nearest_valid_set():
    t = 60000.5
    sets = [CalibrationSet("far", t - 0.3, True), CalibrationSet("near", t + 0.1, True),
            CalibrationSet("mid", t - 0.2, True)]
    assert nearest_passed(t, sets) == "near"
    assert [s.set_id for s in sets_in_window(t, sets, validity_hours=12)] == ["near", "mid", "far"]


def test_choose_falls_back_when_nearest_failed_qa():
    t = 60000.5
    sets = [CalibrationSet("near_bad", t + 0.01, False), CalibrationSet("next", t - 0.2, True),
            CalibrationSet("far", t + 0.4, True)]
    assert nearest_passed(t, sets) == "next"
    assert nearest_passed(t, [CalibrationSet("bad", t, False)]) is None
    assert nearest_passed(t, []) is None


def test_choose_validity_window():
    t = 60000.5
    assert nearest_passed(t, [CalibrationSet("x", t + 12.01 / 24, True)]) is None
    assert nearest_passed(t, [CalibrationSet("x", t - 12.0 / 24, True)]) == "x"
    assert nearest_passed(t, [CalibrationSet("x", t + 3 / 24, True)], validity_hours=2.0) is None


def test_choose_tie_breaks_are_deterministic():
    t = 60000.3  # |t - 60000.1| and |t - 60000.5| differ only by float rounding
    sets = [CalibrationSet("later", 60000.5, True), CalibrationSet("earlier", 60000.1, True)]
    assert nearest_passed(t, sets) == "earlier"
    assert nearest_passed(t, sets[::-1]) == "earlier"
    same = [CalibrationSet("b", 60000.4, True), CalibrationSet("a", 60000.4, True)]
    assert nearest_passed(t, same) == "a"
    assert nearest_passed(t, same[::-1]) == "a"


# ----------------------------------------------------------------------- registry

HOUR = 1 / 24.0


def group(group_id, mid_mjd, transit_mjd=None):
    """An index row."""
    return {"group_id": group_id, "mid_mjd": mid_mjd, "pointing_dec_deg": 30.5,
            "calibrator": None if transit_mjd is None else "CAL", "calibrator_transit_mjd": transit_mjd}


CALS = [group("c1", 100.0, 100.0), group("c2", 100.0 + 3 * HOUR, 100.0 + 3 * HOUR), group("c3", 101.0, 101.0)]


def passed(*set_ids):
    return {g["group_id"]: {"passed": g["group_id"] in set_ids, "reasons": [] if g["group_id"] in set_ids
                            else ["too many flags"]} for g in CALS}


def test_registry_assigns_the_nearest_set_that_passed():
    targets = [group("t1", 100.0 + 2 * HOUR), group("t2", 100.0 + 2 * HOUR)]
    result = registry(targets, CALS, passed("c1", "c2", "c3"), validity_hours=12)
    assert result["assignments"] == {"t1": "c2", "t2": "c2"}
    result = registry(targets, CALS, passed("c1", "c3"), validity_hours=12)
    assert result["assignments"]["t1"] == "c1"  # c2 failed QA: the next nearest


def test_registry_reports_sets_with_windows_and_verdicts():
    result = registry([group("t", 100.5)], CALS, {**passed("c3"), "c2": None} | {"c2": {"passed": False,
                      "reasons": ["only 2 antennas"]}}, validity_hours=12)
    by_id = {s["set_id"]: s for s in result["sets"]}
    assert by_id["c1"]["status"] == "failed" and by_id["c3"]["status"] == "passed"
    assert by_id["c2"]["reasons"] == ["only 2 antennas"]
    assert by_id["c3"]["valid_from_mjd"] == pytest.approx(100.5) and by_id["c3"]["valid_to_mjd"] == pytest.approx(101.5)
    assert result["assignments"] == {"t": "c3"}


def test_registry_says_why_an_observation_waits():
    result = registry([group("t", 100.5)], CALS, passed("c3"), validity_hours=11)
    assert result["awaiting_calibration"] == ["t"]
    assert "no calibration set within the window passed QA: c2 (too many flags)" in result["awaiting_reasons"]["t"]
    result = registry([group("t", 105.0)], CALS, {}, validity_hours=12)
    assert "no calibrator of the catalogue transited within 12 h at dec 30.5" in result["awaiting_reasons"]["t"]
    result = registry([group("t", 100.0)], CALS, {}, validity_hours=1)
    assert "c1 (not solved)" in result["awaiting_reasons"]["t"]


def test_set_records_say_why_unusable_raw_files_give_no_set():
    rows = [{**c, "problem": "x.hdf5: truncated" if c["group_id"] == "c3" else None} for c in CALS]
    records = set_records(rows, qa_for=lambda g: {"passed": True, "reasons": []},
                          extraction_failure_for=lambda g: "y.hdf5: cannot read" if g == "c2" else None)
    assert records["c1"]["passed"] and not records["c2"]["passed"] and not records["c3"]["passed"]
    assert records["c2"]["reasons"] == ["raw files unusable: y.hdf5: cannot read"]
    assert records["c3"]["reasons"] == ["raw files unusable: x.hdf5: truncated"]
