"""Positions on the sky: separations, apparent places, sidereal time and meridian transits.

Catalogue positions are ICRS. The telescope fringe-stops on the meridian at a fixed *apparent*
(of-date) declination, so positions are converted to apparent coordinates before they are compared
with a pointing or used to predict a transit. Never touches the network: astropy's bundled IERS
tables, extrapolated with a warning outside their range.
"""

from __future__ import annotations

import warnings

import erfa
import numpy as np
from astropy import units as u
from astropy.time import Time
from astropy.utils import iers

from .. import instrument as inst

#: Length of a sidereal day in (UT1) solar days.
SIDEREAL_DAY_SOLAR_DAYS = 1.0 / 1.002737909350795


def angular_separation_deg(ra1_deg, dec1_deg, ra2_deg, dec2_deg):
    """Great-circle distance between positions, degrees (erfa.seps; broadcasts)."""
    sep = erfa.seps(*(np.deg2rad(np.asarray(a, dtype=float)) for a in (ra1_deg, dec1_deg, ra2_deg, dec2_deg)))
    return np.rad2deg(sep)


def wrap_pi(angle_rad):
    """Angles wrapped into [-pi, pi)."""
    return (np.asarray(angle_rad) + np.pi) % (2 * np.pi) - np.pi


def local_apparent_sidereal_time_rad(mjd_utc, lon_deg: float = inst.SITE_LON_DEG) -> np.ndarray:
    """Local apparent sidereal time (rad) at UTC MJD(s).

    Outside the bundled IERS tables UT1-UTC is extrapolated (|UT1-UTC| < 0.9 s) with a warning.
    """
    t = Time(np.asarray(mjd_utc, dtype=float), format="mjd", scale="utc")
    with iers.conf.set_temp("auto_download", False):
        try:
            st = t.sidereal_time("apparent", longitude=lon_deg * u.deg)
        except (ValueError, IndexError):
            warnings.warn("IERS tables do not cover the observation time; extrapolating UT1-UTC", stacklevel=2)
            with iers.conf.set_temp("auto_max_age", None), \
                    iers.conf.set_temp("iers_degraded_accuracy", "ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                st = t.sidereal_time("apparent", longitude=lon_deg * u.deg)
    return np.asarray(st.to_value(u.rad))


def apparent_radec_deg(ra_deg, dec_deg, mjd_utc: float) -> tuple[np.ndarray, np.ndarray]:
    """Geocentric apparent (true equator and equinox of date) RA, Dec of ICRS positions.

    Precession-nutation, annual aberration and light deflection (erfa.atci13, split into its
    once-per-epoch part apci13 and its per-position part atciq); RA is referred to the true equinox,
    so it compares with apparent sidereal time.
    """
    tdb = Time(mjd_utc, format="mjd", scale="utc").tdb
    astrom, eo = erfa.apci13(tdb.jd1, tdb.jd2)
    ri, di = erfa.atciq(np.deg2rad(np.asarray(ra_deg, dtype=float)), np.deg2rad(np.asarray(dec_deg, dtype=float)),
                        0.0, 0.0, 0.0, 0.0, astrom)
    return np.rad2deg(np.mod(ri - eo, 2 * np.pi)), np.rad2deg(di)


def hour_angle_rad(ra_app_deg, mjd_utc, lon_deg: float = inst.SITE_LON_DEG) -> np.ndarray:
    """Apparent hour angle in [-pi, pi) of apparent right ascensions at UTC MJD(s)."""
    return wrap_pi(local_apparent_sidereal_time_rad(mjd_utc, lon_deg) - np.deg2rad(ra_app_deg))


def transit_mjd(ra_app_deg, near_mjd: float, lon_deg: float = inst.SITE_LON_DEG) -> np.ndarray:
    """UTC MJD of the meridian transit nearest ``near_mjd`` (one Newton refinement: < 1 ms error)."""
    rad_per_day = 2 * np.pi / SIDEREAL_DAY_SOLAR_DAYS
    transit = near_mjd - hour_angle_rad(ra_app_deg, near_mjd, lon_deg) / rad_per_day
    return transit - hour_angle_rad(ra_app_deg, transit, lon_deg) / rad_per_day


def offset_from_meridian_pointing_rad(ra_deg, dec_deg, pointing_dec_deg: float, mjd_utc) -> np.ndarray:
    """Angular distance of ICRS positions from the meridian at an apparent declination, per time.

    The dishes point at hour angle 0 and the apparent pointing declination; a source at hour angle
    HA is acos(sin dc sin dp + cos dc cos dp cos HA) from the beam centre. Broadcasts positions
    (shape S) against times (shape T) to (T, S).
    """
    mjd = np.atleast_1d(np.asarray(mjd_utc, dtype=float))
    ra_app, dec_app = apparent_radec_deg(ra_deg, dec_deg, float(np.median(mjd)))
    last = local_apparent_sidereal_time_rad(mjd)  # once per time, not per position
    hour_angle = wrap_pi(last[:, None] - np.deg2rad(np.atleast_1d(ra_app))[None, :])
    dc, dp = np.deg2rad(np.atleast_1d(dec_app))[None, :], np.deg2rad(pointing_dec_deg)
    cos_offset = np.sin(dc) * np.sin(dp) + np.cos(dc) * np.cos(dp) * np.cos(hour_angle)
    return np.arccos(np.clip(cos_offset, -1.0, 1.0))
