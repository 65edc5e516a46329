"""The DSA-110's fixed numbers (site, dishes, band, correlator) and its station coordinates."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

SITE_LAT_DEG = 37.2334
SITE_LON_DEG = -118.2856
SITE_HEIGHT_M = 1183.0
TELESCOPE_NAME = "OVRO_MMA"
INSTRUMENT = "DSA"
DISH_DIAMETER_M = 4.65
N_STATIONS = 117
N_SUBBANDS = 16
N_CHAN_PER_SUBBAND = 48
CHANNEL_WIDTH_HZ = 244140.625
# Centre of the highest channel of sb00; sb15's lowest channel is ~1311.5 MHz.
TOP_CHANNEL_FREQ_HZ = 1498.75e6
SUBBAND_WIDTH_HZ = N_CHAN_PER_SUBBAND * CHANNEL_WIDTH_HZ
INTEGRATION_TIME_S = 12.884902
N_INTEGRATIONS = 24
POLARIZATIONS = (-5, -6)  # XX, YY (AIPS numbering, as pyuvdata uses)
MISSING_ELEVATION_M = 1182.6
SPEED_OF_LIGHT_M_S = 299792458.0
#: Catalogue fluxes and spectral indices refer to this frequency (NVSS, VLA calibrator list).
REFERENCE_FREQ_HZ = 1.4e9


@dataclass(frozen=True)
class Stations:
    """Station numbers (1..117), names ("1".."117") and WGS84 geodetic positions."""

    numbers: np.ndarray
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    height_m: np.ndarray

    @property
    def names(self) -> list[str]:
        return [str(n) for n in self.numbers]


@lru_cache(maxsize=1)
def load_stations() -> Stations:
    """Read the shipped DSA-110 station table (WGS84, dated 2022-02-15)."""
    path = resources.files("dsa110_continuum") / "data" / "DSA110_Station_Coordinates.csv"
    numbers, lats, lons, heights = [], [], [], []
    with path.open() as handle:
        for row in csv.reader(handle):
            if len(row) < 4 or not re.fullmatch(r"DSA-\d{3}", row[1].strip()):
                continue
            numbers.append(int(row[1].removeprefix("DSA-")))
            lats.append(float(row[2]))
            lons.append(float(row[3]))
            heights.append(float(row[4]) if len(row) > 4 and row[4].strip() else MISSING_ELEVATION_M)
    order = np.argsort(numbers)
    return Stations(
        numbers=np.asarray(numbers)[order],
        lat_deg=np.asarray(lats)[order],
        lon_deg=np.asarray(lons)[order],
        height_m=np.asarray(heights)[order],
    )


def site_location():
    """The array reference position as an astropy EarthLocation."""
    import astropy.units as u
    from astropy.coordinates import EarthLocation

    return EarthLocation.from_geodetic(SITE_LON_DEG * u.deg, SITE_LAT_DEG * u.deg, SITE_HEIGHT_M * u.m)


def station_positions_ecef_rel_m() -> np.ndarray:
    """Station ECEF positions relative to the site, shape (117, 3), in metres (pyuvdata's convention)."""
    import astropy.units as u
    from astropy.coordinates import EarthLocation

    st = load_stations()
    loc = EarthLocation.from_geodetic(st.lon_deg * u.deg, st.lat_deg * u.deg, st.height_m * u.m)
    site = site_location()
    xyz = np.stack([loc.x.to_value(u.m), loc.y.to_value(u.m), loc.z.to_value(u.m)], axis=1)
    return xyz - np.array([site.x.to_value(u.m), site.y.to_value(u.m), site.z.to_value(u.m)])


def ecef_rel_to_enu_m(ecef_rel_m: np.ndarray, lat_deg: float = SITE_LAT_DEG, lon_deg: float = SITE_LON_DEG) -> np.ndarray:
    """Rotate site-relative ECEF vectors (N, 3) into local East-North-Up."""
    lat, lon = np.deg2rad(lat_deg), np.deg2rad(lon_deg)
    rot = np.array(
        [
            [-np.sin(lon), np.cos(lon), 0.0],
            [-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)],
            [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)],
        ]
    )
    return ecef_rel_m @ rot.T


def subband_freqs_hz(subband: int, n_chan: int = N_CHAN_PER_SUBBAND) -> np.ndarray:
    """Channel centres of one subband, in the order the correlator stores them (descending).

    Fewer channels than 48 (for tests) keep the subband's 11.7 MHz span with wider channels.
    """
    width = channel_width_hz(n_chan)
    top_edge = TOP_CHANNEL_FREQ_HZ + CHANNEL_WIDTH_HZ / 2 - subband * SUBBAND_WIDTH_HZ
    return top_edge - width * (np.arange(n_chan) + 0.5)


def band_freqs_hz(n_subbands: int = N_SUBBANDS, n_chan: int = N_CHAN_PER_SUBBAND) -> np.ndarray:
    """All channel centres of ``n_subbands`` subbands, ascending."""
    return np.sort(np.concatenate([subband_freqs_hz(sb, n_chan) for sb in range(n_subbands)]))


def channel_width_hz(n_chan: int = N_CHAN_PER_SUBBAND) -> float:
    """Channel width when a subband is split into ``n_chan`` channels."""
    return SUBBAND_WIDTH_HZ / n_chan
