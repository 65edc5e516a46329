"""Which calibrator transits in which observation: apparent places, transit times, the beam-weighted choice.

Pure functions of an observation's index record and the calibrator catalogue.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from ..sky.beam import airy_power
from ..sky.catalogue import Calibrator
from ..sky.coords import apparent_radec_deg, transit_mjd

#: Margin on the ICRS declination pre-filter: precession, nutation and aberration stay well below
#: this for epochs within a century or two of J2000.
_PREFILTER_MARGIN_DEG = 2.0


@dataclass(frozen=True)
class CalibratorTransit:
    """A calibrator transit inside an observation.

    Attributes
    ----------
    calibrator : Calibrator
    transit_mjd : float
        UTC MJD at which the calibrator's apparent hour angle is zero.
    dec_offset_deg : float
        Calibrator apparent declination minus the pointing (apparent) declination, degrees.
    pb_attenuation : float
        Primary-beam power at ``|dec_offset_deg|`` on the meridian, at the ranking frequency.
    """

    calibrator: Calibrator
    transit_mjd: float
    dec_offset_deg: float
    pb_attenuation: float


def select_calibrator(obs_start_mjd: float, obs_end_mjd: float, pointing_dec_deg: float,
                      calibrators: Sequence[Calibrator], *, dec_tolerance_deg: float = 1.5,
                      freq_hz: float = 1.4e9) -> CalibratorTransit | None:
    """The best calibrator transiting the meridian during an observation, or None.

    Parameters
    ----------
    obs_start_mjd, obs_end_mjd : float
        Observation span, UTC MJD.
    pointing_dec_deg : float
        Apparent (of-date) declination the array is fringe-stopped at, degrees.
    calibrators : sequence of Calibrator
        ICRS catalogue.
    dec_tolerance_deg : float
        Keep calibrators with |apparent dec - pointing dec| <= this.
    freq_hz : float
        Frequency of the flux and primary-beam ranking.

    Returns
    -------
    CalibratorTransit or None
        Among candidates whose transit nearest mid-observation lies in [start, end], the one with
        the highest primary-beam-attenuated flux (ties: name). Apparent places are computed once,
        at mid-observation.
    """
    start, end = float(obs_start_mjd), float(obs_end_mjd)
    if not (math.isfinite(start) and math.isfinite(end)) or end < start:
        raise ValueError(f"bad observation span [{obs_start_mjd}, {obs_end_mjd}]")
    if not math.isfinite(pointing_dec_deg) or not -90 <= pointing_dec_deg <= 90:
        raise ValueError(f"bad pointing declination {pointing_dec_deg}")
    cals = [c for c in calibrators if abs(c.dec_deg - pointing_dec_deg) <= dec_tolerance_deg + _PREFILTER_MARGIN_DEG]
    if not cals:
        return None
    mid = 0.5 * (start + end)
    ra_app, dec_app = apparent_radec_deg([c.ra_deg for c in cals], [c.dec_deg for c in cals], mid)
    transits = transit_mjd(ra_app, mid)
    options = []
    for cal, dec_offset, t_mjd in zip(cals, dec_app - pointing_dec_deg, transits):
        if abs(dec_offset) > dec_tolerance_deg or not start <= t_mjd <= end:
            continue
        pb = float(airy_power(np.deg2rad(dec_offset), freq_hz)[0])
        options.append(((-cal.flux_at(freq_hz) * pb, cal.name),
                        CalibratorTransit(cal, float(t_mjd), float(dec_offset), pb)))
    return min(options, key=lambda item: item[0])[1] if options else None


def calibrator_in_observation(group_record: dict, calibrators: Sequence[Calibrator], *,
                              dec_tolerance_deg: float) -> dict | None:
    """The calibrator transit inside an indexed observation, as the index records it, or None."""
    if group_record.get("pointing_dec_deg") is None or group_record.get("start_mjd") is None:
        return None
    transit = select_calibrator(group_record["start_mjd"], group_record["end_mjd"], group_record["pointing_dec_deg"],
                                calibrators, dec_tolerance_deg=dec_tolerance_deg)
    return None if transit is None else asdict(transit)
