"""Calibrator catalogue, transit prediction and calibration-set choice.

Pure functions (numpy, astropy, erfa; scipy if available). Positions in the catalogue
are ICRS; the telescope fringe-stops on the meridian at a fixed *apparent* (of-date)
declination, so calibrator positions are converted to apparent coordinates before they
are compared with the pointing declination or used to predict a transit.
"""

from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import erfa
import numpy as np
from astropy import units as u
from astropy.time import Time
from astropy.utils import iers

__all__ = [
    "Calibrator",
    "CalibratorTransit",
    "Solve",
    "DEFAULT_SPECTRAL_INDEX",
    "load_calibrator_catalogue",
    "flux_at_freq_jy",
    "airy_power_beam",
    "apparent_radec_deg",
    "select_calibrator",
    "choose_calibration_set",
    "primary_beam_track",
    "angular_separation_deg",
]

#: Spectral index assumed for fallback sources whose file gives none.
DEFAULT_SPECTRAL_INDEX = -0.7
REFERENCE_FREQ_HZ = 1.4e9
SPEED_OF_LIGHT_M_S = 299_792_458.0
#: Length of a sidereal day in (UT1) solar days.
SIDEREAL_DAY_SOLAR_DAYS = 1.0 / 1.002737909350795
#: Margin on the ICRS declination pre-filter: precession+nutation+aberration stay well
#: below this for epochs within a century or two of J2000.
_PREFILTER_MARGIN_DEG = 2.0
#: Transit separations equal to within this are treated as ties.
_TIE_RESOLUTION_S = 1e-3

_REQUIRED_MAIN = ("name", "ra_deg", "dec_deg", "flux_1400mhz_jy", "spectral_index")
_REQUIRED_FALLBACK = ("name", "ra_deg", "dec_deg", "flux_1400mhz_jy")


@dataclass(frozen=True)
class Calibrator:
    """A calibrator source.

    Attributes
    ----------
    name : str
    ra_deg, dec_deg : float
        ICRS (J2000) position, degrees.
    flux_1400mhz_jy : float
        Flux density at 1.4 GHz, Jy.
    spectral_index : float
        alpha in S ∝ nu**alpha.
    casa_standard_name : str or None
        Name known to CASA setjy's 'Perley-Butler 2017' standard, or None.
    is_fallback : bool
        True if the source came from the fallback (user) list.
    """

    name: str
    ra_deg: float
    dec_deg: float
    flux_1400mhz_jy: float
    spectral_index: float
    casa_standard_name: str | None = None
    is_fallback: bool = False

    def __post_init__(self) -> None:
        for field in ("ra_deg", "dec_deg", "flux_1400mhz_jy", "spectral_index"):
            if not math.isfinite(getattr(self, field)):
                raise ValueError(f"calibrator {self.name!r}: {field} is not finite")
        if not -90.0 <= self.dec_deg <= 90.0:
            raise ValueError(f"calibrator {self.name!r}: dec_deg {self.dec_deg} outside [-90, 90]")
        if self.flux_1400mhz_jy <= 0:
            raise ValueError(f"calibrator {self.name!r}: flux_1400mhz_jy must be > 0")


@dataclass(frozen=True)
class CalibratorTransit:
    """A calibrator transit inside an observation.

    Attributes
    ----------
    calibrator : Calibrator
    transit_mjd : float
        UTC MJD at which the calibrator's apparent hour angle is zero.
    dec_offset_deg : float
        Calibrator apparent declination minus pointing (apparent) declination, degrees.
    pb_attenuation : float
        Airy power-beam response at ``|dec_offset_deg|``.
    """

    calibrator: Calibrator
    transit_mjd: float
    dec_offset_deg: float
    pb_attenuation: float


@dataclass(frozen=True)
class Solve:
    """A calibration solve: identifier, calibrator transit time (UTC MJD), QA verdict."""

    set_id: str
    transit_mjd: float
    passed_qa: bool


# --------------------------------------------------------------------------- catalogue


def _name_key(name: str) -> str:
    return "".join(name.split()).upper()


def _read_rows(path: Path) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """Header column map and (line number, fields) of the data rows of a CSV file.

    Blank lines and lines starting with ``#`` are skipped; line numbers are 1-based.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read calibrator file: {exc}") from exc
    header: dict[str, int] | None = None
    rows: list[tuple[int, list[str]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            fields = [f.strip() for f in next(csv.reader([line]))]
        except csv.Error as exc:
            raise ValueError(f"{path}, line {lineno}: malformed CSV: {exc}") from exc
        if header is None:
            header = {}
            for i, col in enumerate(fields):
                key = col.lower()
                if key in header:
                    raise ValueError(f"{path}, line {lineno}: duplicate column {col!r} in header")
                header[key] = i
            continue
        rows.append((lineno, fields))
    if header is None:
        raise ValueError(f"{path}, line 1: empty file, no header line")
    return header, rows


def _parse_float(path: Path, lineno: int, column: str, value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise ValueError(
            f"{path}, line {lineno}: column {column!r}: non-numeric value {value!r}"
        ) from None
    if not math.isfinite(x):
        raise ValueError(f"{path}, line {lineno}: column {column!r}: value {value!r} is not finite")
    return x


def _parse_file(path: Path, *, fallback: bool) -> list[tuple[int, Calibrator]]:
    header, rows = _read_rows(path)
    required = _REQUIRED_FALLBACK if fallback else _REQUIRED_MAIN
    header_line = 1
    missing = [c for c in required if c not in header]
    if missing:
        raise ValueError(
            f"{path}, line {header_line}: header lacks required column(s) {', '.join(missing)} "
            f"(need {', '.join(required)})"
        )
    n_cols = len(header)
    seen: dict[str, int] = {}
    out: list[tuple[int, Calibrator]] = []
    for lineno, fields in rows:
        if len(fields) != n_cols:
            raise ValueError(
                f"{path}, line {lineno}: expected {n_cols} fields as in the header, found {len(fields)}"
            )
        name = fields[header["name"]]
        if not name:
            raise ValueError(f"{path}, line {lineno}: empty name")
        key = _name_key(name)
        if key in seen:
            raise ValueError(
                f"{path}, line {lineno}: duplicate calibrator name {name!r} (first on line {seen[key]})"
            )
        seen[key] = lineno
        ra = _parse_float(path, lineno, "ra_deg", fields[header["ra_deg"]])
        dec = _parse_float(path, lineno, "dec_deg", fields[header["dec_deg"]])
        flux = _parse_float(path, lineno, "flux_1400mhz_jy", fields[header["flux_1400mhz_jy"]])
        if not 0.0 <= ra < 360.0:
            raise ValueError(f"{path}, line {lineno}: ra_deg {ra} outside [0, 360)")
        if not -90.0 <= dec <= 90.0:
            raise ValueError(f"{path}, line {lineno}: dec_deg {dec} outside [-90, 90]")
        if flux <= 0.0:
            raise ValueError(f"{path}, line {lineno}: flux_1400mhz_jy {flux} must be > 0")
        alpha_text = fields[header["spectral_index"]] if "spectral_index" in header else ""
        if alpha_text == "":
            if not fallback:
                raise ValueError(f"{path}, line {lineno}: column 'spectral_index' is empty")
            alpha = DEFAULT_SPECTRAL_INDEX
        else:
            alpha = _parse_float(path, lineno, "spectral_index", alpha_text)
        casa = fields[header["casa_standard_name"]] if "casa_standard_name" in header else ""
        out.append((lineno, Calibrator(
            name=name, ra_deg=ra, dec_deg=dec, flux_1400mhz_jy=flux, spectral_index=alpha,
            casa_standard_name=casa or None, is_fallback=fallback,
        )))
    return out


def angular_separation_deg(ra1, dec1, ra2, dec2) -> np.ndarray:
    """Great-circle distance between positions in degrees (haversine: exact for small separations)."""
    ra1, dec1, ra2, dec2 = (np.deg2rad(np.asarray(a, dtype=float)) for a in (ra1, dec1, ra2, dec2))
    s = (np.sin((dec2 - dec1) / 2) ** 2
         + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2)
    return np.rad2deg(2 * np.arcsin(np.sqrt(np.clip(s, 0.0, 1.0))))


def load_calibrator_catalogue(
    path: str | Path,
    *,
    fallback_path: str | Path | None = None,
    fallback_min_flux_jy: float = 1.0,
    fallback_match_radius_arcsec: float = 60.0,
) -> list[Calibrator]:
    """Load the calibrator catalogue, optionally extended by a fallback list.

    Parameters
    ----------
    path : str or Path
        CSV with columns name, ra_deg, dec_deg, flux_1400mhz_jy, spectral_index and
        optionally casa_standard_name (empty = not known to CASA). Extra columns are ignored.
    fallback_path : str or Path, optional
        A larger user list with at least name, ra_deg, dec_deg, flux_1400mhz_jy
        (spectral_index defaults to ``DEFAULT_SPECTRAL_INDEX``; casa_standard_name optional).
    fallback_min_flux_jy : float
        Only fallback sources with flux_1400mhz_jy >= this are used.
    fallback_match_radius_arcsec : float
        Fallback sources whose name (case and spaces ignored) is in the main catalogue, or
        lying within this radius of a main-catalogue source, are dropped.

    Returns
    -------
    list of Calibrator
        Main catalogue in file order, then the accepted fallback sources in file order.

    Raises
    ------
    ValueError
        For a bad file (missing column, non-numeric value, dec outside [-90, 90], ...);
        the message names the file and line.
    """
    main = [cal for _, cal in _parse_file(Path(path), fallback=False)]
    if fallback_path is None:
        return main
    extra = [cal for _, cal in _parse_file(Path(fallback_path), fallback=True)]
    main_keys = {_name_key(c.name) for c in main}
    main_ra = np.array([c.ra_deg for c in main])
    main_dec = np.array([c.dec_deg for c in main])
    accepted: list[Calibrator] = []
    for cal in extra:
        if cal.flux_1400mhz_jy < fallback_min_flux_jy or _name_key(cal.name) in main_keys:
            continue
        if main and np.any(angular_separation_deg(main_ra, main_dec, cal.ra_deg, cal.dec_deg)
                           <= fallback_match_radius_arcsec / 3600.0):
            continue
        accepted.append(cal)
    return main + accepted


# --------------------------------------------------------------------------- flux, beam


def flux_at_freq_jy(cal: Calibrator, freq_hz):
    """Power-law flux density S = S_1.4GHz (nu / 1.4 GHz)**alpha, Jy (scalar or array)."""
    freq = np.asarray(freq_hz, dtype=float)
    if np.any(~(freq > 0)):
        raise ValueError("freq_hz must be positive")
    s = cal.flux_1400mhz_jy * (freq / REFERENCE_FREQ_HZ) ** cal.spectral_index
    return float(s) if s.ndim == 0 else s


def _j1(x: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import j1
    except ImportError:  # pragma: no cover - scipy is installed in the pipeline env
        # Integral representation J1(x) = (1/pi) int_0^pi cos(t - x sin t) dt.
        t = np.linspace(0.0, np.pi, 2001)
        vals = np.cos(t[None, :] - x.reshape(-1, 1) * np.sin(t[None, :]))
        return (np.trapz(vals, t, axis=1) / np.pi).reshape(x.shape)
    return j1(x)


def airy_power_beam(offset_rad, freq_hz, dish_diameter_m: float = 4.65):
    """Normalised Airy power pattern (2 J1(x)/x)**2, x = pi D sin(offset) / lambda.

    Parameters
    ----------
    offset_rad : float or array
        Angle from the beam centre, radians.
    freq_hz : float or array
        Frequency, Hz (broadcast against ``offset_rad``).
    dish_diameter_m : float
        Dish diameter, m.

    Returns
    -------
    float or ndarray
        Power response, 1 on axis; FWHM ≈ 1.03 lambda / D.
    """
    offset = np.asarray(offset_rad, dtype=float)
    freq = np.asarray(freq_hz, dtype=float)
    if np.any(~(freq > 0)) or not dish_diameter_m > 0:
        raise ValueError("freq_hz and dish_diameter_m must be positive")
    wavelength_m = SPEED_OF_LIGHT_M_S / freq
    x = np.pi * dish_diameter_m * np.sin(offset) / wavelength_m
    x, _ = np.broadcast_arrays(x, freq)
    ax = np.abs(np.atleast_1d(x)).astype(float)
    small = ax < 1e-8
    safe = np.where(small, 1.0, ax)
    p = np.where(small, 1.0, (2.0 * _j1(safe) / safe) ** 2)
    p = p.reshape(np.shape(x))
    return float(p) if p.ndim == 0 else p


# --------------------------------------------------------------------------- transits


def _wrap_pi(a: np.ndarray) -> np.ndarray:
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


def _last_rad(mjd_utc, lon_deg: float) -> np.ndarray:
    """Local apparent sidereal time (rad) at UTC MJD(s), never touching the network.

    Uses astropy's IERS tables (bundled copy); outside their range UT1-UTC is
    extrapolated (|UT1-UTC| < 0.9 s) with a warning instead of an error.
    """
    t = Time(np.asarray(mjd_utc, dtype=float), format="mjd", scale="utc")
    with iers.conf.set_temp("auto_download", False):
        try:
            st = t.sidereal_time("apparent", longitude=lon_deg * u.deg)
        except (ValueError, IndexError):
            warnings.warn(
                "IERS tables do not cover the observation time; extrapolating UT1-UTC",
                stacklevel=3,
            )
            with iers.conf.set_temp("auto_max_age", None), \
                    iers.conf.set_temp("iers_degraded_accuracy", "ignore"), \
                    warnings.catch_warnings():
                warnings.simplefilter("ignore")
                st = t.sidereal_time("apparent", longitude=lon_deg * u.deg)
    return np.asarray(st.to_value(u.rad))


def apparent_radec_deg(ra_deg, dec_deg, mjd_utc: float) -> tuple[np.ndarray, np.ndarray]:
    """Geocentric apparent (true equator and equinox of date) RA, Dec of ICRS positions.

    Includes precession-nutation, annual aberration and light deflection (erfa atci13);
    RA is referred to the true equinox, so it can be compared with apparent sidereal time.
    """
    t = Time(mjd_utc, format="mjd", scale="utc")
    tdb = t.tdb
    ri, di, eo = erfa.atci13(
        np.deg2rad(np.asarray(ra_deg, dtype=float)), np.deg2rad(np.asarray(dec_deg, dtype=float)),
        0.0, 0.0, 0.0, 0.0, tdb.jd1, tdb.jd2,
    )
    ra_app = np.mod(ri - eo, 2 * np.pi)
    return np.rad2deg(ra_app), np.rad2deg(di)


def select_calibrator(
    obs_start_mjd: float,
    obs_end_mjd: float,
    pointing_dec_deg: float,
    calibrators: Sequence[Calibrator],
    *,
    site_lon_deg: float = -118.2856,
    site_lat_deg: float = 37.2334,
    site_height_m: float = 1183.0,
    dec_tolerance_deg: float = 1.5,
    freq_hz: float = 1.4e9,
) -> CalibratorTransit | None:
    """Best calibrator transiting the meridian during an observation, or None.

    Parameters
    ----------
    obs_start_mjd, obs_end_mjd : float
        Observation span, UTC MJD.
    pointing_dec_deg : float
        Apparent (of-date) declination the array is fringe-stopped at, degrees.
    calibrators : sequence of Calibrator
        ICRS catalogue.
    site_lon_deg, site_lat_deg, site_height_m : float
        Site (east longitude). Latitude and height only affect the sub-arcsecond diurnal
        terms, which are neglected; they are accepted for interface stability.
    dec_tolerance_deg : float
        Keep calibrators with |apparent dec - pointing dec| <= this.
    freq_hz : float
        Frequency for the flux and primary-beam ranking.

    Returns
    -------
    CalibratorTransit or None
        Among candidates whose transit nearest mid-observation lies in [start, end], the one
        with the highest primary-beam-attenuated flux (ties: name).

    Notes
    -----
    Apparent positions are computed once, at mid-observation, for all candidates; the
    transit is when local apparent sidereal time equals the apparent RA.
    """
    del site_lat_deg, site_height_m  # geocentric apparent place; diurnal terms < 1 arcsec
    start, end = float(obs_start_mjd), float(obs_end_mjd)
    if not (math.isfinite(start) and math.isfinite(end)) or end < start:
        raise ValueError(f"bad observation span [{obs_start_mjd}, {obs_end_mjd}]")
    if not math.isfinite(pointing_dec_deg) or not -90 <= pointing_dec_deg <= 90:
        raise ValueError(f"bad pointing declination {pointing_dec_deg}")
    cals = list(calibrators)
    if not cals:
        return None
    ra = np.array([c.ra_deg for c in cals], dtype=float)
    dec = np.array([c.dec_deg for c in cals], dtype=float)
    pre = np.nonzero(np.abs(dec - pointing_dec_deg) <= dec_tolerance_deg + _PREFILTER_MARGIN_DEG)[0]
    if pre.size == 0:
        return None

    mid = 0.5 * (start + end)
    ra_app_deg, dec_app_deg = apparent_radec_deg(ra[pre], dec[pre], mid)
    dec_offset = dec_app_deg - pointing_dec_deg
    keep = np.abs(dec_offset) <= dec_tolerance_deg
    if not np.any(keep):
        return None
    idx, ra_app, dec_offset = pre[keep], np.deg2rad(ra_app_deg[keep]), dec_offset[keep]

    # Nearest transit to mid, then one Newton refinement (LAST at the estimate).
    rad_per_day = 2 * np.pi / SIDEREAL_DAY_SOLAR_DAYS
    ha_mid = _wrap_pi(_last_rad(mid, site_lon_deg) - ra_app)
    transit = mid - ha_mid / rad_per_day
    ha_est = _wrap_pi(_last_rad(transit, site_lon_deg) - ra_app)
    transit = transit - ha_est / rad_per_day

    inside = (transit >= start) & (transit <= end)
    if not np.any(inside):
        return None
    options = []
    for i, t_mjd, doff in zip(idx[inside], transit[inside], dec_offset[inside]):
        cal = cals[i]
        pb = float(airy_power_beam(np.deg2rad(abs(doff)), freq_hz))
        score = flux_at_freq_jy(cal, freq_hz) * pb
        options.append(((-score, cal.name), CalibratorTransit(
            calibrator=cal, transit_mjd=float(t_mjd), dec_offset_deg=float(doff),
            pb_attenuation=pb)))
    return min(options, key=lambda item: item[0])[1]


# --------------------------------------------------------------------------- solves


def choose_calibration_set(
    target_mid_mjd: float,
    solves: Iterable[Solve],
    *,
    validity_hours: float = 12.0,
) -> Solve | None:
    """Nearest QA-passed solve within the validity window, or None.

    Parameters
    ----------
    target_mid_mjd : float
        Mid time of the observation to calibrate, UTC MJD.
    solves : iterable of Solve
    validity_hours : float
        A solve serves observations with |transit - target| <= this.

    Returns
    -------
    Solve or None
        Smallest |transit - target| among solves that passed QA; separations equal within
        1 ms are ties, broken by earlier transit, then set_id.
    """
    window_s = validity_hours * 3600.0 + _TIE_RESOLUTION_S
    best_key = None
    best: Solve | None = None
    for s in solves:
        if not s.passed_qa:
            continue
        sep_s = abs(s.transit_mjd - target_mid_mjd) * 86400.0
        if not sep_s <= window_s:
            continue
        key = (round(sep_s / _TIE_RESOLUTION_S), s.transit_mjd, s.set_id)
        if best_key is None or key < best_key:
            best_key, best = key, s
    return best


def primary_beam_track(cal: Calibrator, pointing_dec_deg: float, mjd_utc, freq_hz, *,
                       site_lon_deg: float = -118.2856, dish_diameter_m: float = 4.65) -> np.ndarray:
    """Primary-beam power at a calibrator as it drifts through the meridian beam, shape (Ntime, Nfreq).

    The dishes point at hour angle 0 and the (apparent) pointing declination; a calibrator at
    hour angle HA is at angular distance acos(sin dc sin dp + cos dc cos dp cos HA) from the
    beam centre.
    """
    mjd = np.atleast_1d(np.asarray(mjd_utc, dtype=float))
    ra_app, dec_app = apparent_radec_deg(cal.ra_deg, cal.dec_deg, float(np.median(mjd)))
    hour_angle = _wrap_pi(_last_rad(mjd, site_lon_deg) - np.deg2rad(ra_app))
    dc, dp = np.deg2rad(dec_app), np.deg2rad(pointing_dec_deg)
    cos_offset = np.sin(dc) * np.sin(dp) + np.cos(dc) * np.cos(dp) * np.cos(hour_angle)
    offset = np.arccos(np.clip(cos_offset, -1.0, 1.0))
    return airy_power_beam(offset[:, None], np.atleast_1d(freq_hz)[None, :], dish_diameter_m)
