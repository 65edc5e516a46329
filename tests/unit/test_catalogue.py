"""Calibrator catalogue files: contents, errors that name file and line, the fallback list, spectra."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dsa110_continuum.sky.catalogue import Calibrator, CatalogueError, load_calibrator_catalogue

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "config" / "calibrators.csv"
HEADER = "name,ra_deg,dec_deg,flux_1400mhz_jy,spectral_index,casa_standard_name\n"


@pytest.fixture(scope="module")
def catalogue() -> list[Calibrator]:
    return load_calibrator_catalogue(CATALOGUE)


@pytest.fixture(scope="module")
def c3c286(catalogue) -> Calibrator:
    return next(c for c in catalogue if c.name == "3C286")



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


def test_flux_power_law(c3c286):
    assert c3c286.flux_at(1.4e9) == pytest.approx(c3c286.flux_1400mhz_jy)
    assert c3c286.flux_at(2.8e9) == pytest.approx(
        c3c286.flux_1400mhz_jy * 2.0 ** c3c286.spectral_index)
    cal = Calibrator("X", 10.0, 20.0, 2.0, -0.7)
    freqs = np.array([0.7e9, 1.4e9, 2.8e9])
    np.testing.assert_allclose(cal.flux_at(freqs), 2.0 * np.array([2 ** 0.7, 1.0, 2 ** -0.7]))
    with pytest.raises(ValueError):
        cal.flux_at(0.0)



def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name, text, message", [
    ("cat.csv", "name,ra_deg,dec_deg,flux_1400mhz_jy\nA,1,2,3\n", r"cat\.csv, line 1: .*spectral_index"),
    ("bad.csv", HEADER + "A,10,20,5,-0.7,\nB,10,abc,5,-0.7,\n", r"bad\.csv, line 3: .*dec_deg.*'abc'"),
    ("dec.csv", HEADER + "\nA,10,20,5,-0.7,\n\nB,10,95.5,5,-0.7,\n", r"dec\.csv, line 5: dec_deg 95\.5 outside"),
    ("short.csv", HEADER + "A,10,20,5\n", r"short\.csv, line 2: expected 6 fields"),
    ("dup.csv", HEADER + "A,10,20,5,-0.7,\nA,11,21,5,-0.7,\n", r"dup\.csv, line 3: duplicate"),
])
def test_a_bad_catalogue_is_named_with_its_line_and_cause(tmp_path, name, text, message):
    with pytest.raises(CatalogueError, match=message):
        load_calibrator_catalogue(_write(tmp_path, name, text))


def test_bad_fallback_file_is_named(tmp_path):
    main = _write(tmp_path, "main.csv", HEADER + "A,10,20,5,-0.7,\n")
    fb = _write(tmp_path, "vla.csv", "name,ra_deg,dec_deg\nB,1,2\n")
    with pytest.raises(CatalogueError, match=r"vla\.csv, line 1: .*flux_1400mhz_jy"):
        load_calibrator_catalogue(main, fallback_path=fb)
    fb = _write(tmp_path, "vla2.csv", "name,ra_deg,dec_deg,flux_1400mhz_jy\nB,1,-91,2\n")
    with pytest.raises(CatalogueError, match=r"vla2\.csv, line 2: dec_deg"):
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
