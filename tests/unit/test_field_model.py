"""The calibrator's field modelled beside it: the extracted MS's field model equals what the field sources put
in the data. This process may import python-casacore but never casatools."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dsa110_continuum import instrument as inst
from dsa110_continuum.calibrate.extract import extract_calibrator, field_sources_around
from dsa110_continuum.formats.ms import FIELD_MODEL_COLUMN
from dsa110_continuum.simulate.session import SimulationConfig, SkySource, read_sky_model, simulate_session
from dsa110_continuum.sky.beam import beam_along_track
from dsa110_continuum.sky.catalogue import Calibrator

CFG = SimulationConfig(n_observations=1, antennas=tuple(int(k) for k in np.linspace(0, 101, 8).round()),
                       n_chan_per_subband=3, n_integrations=12, start_utc="2025-06-01T04:40:00",
                       pointing_dec_deg=30.5, n_field_sources=6, field_flux_range_jy=(0.5, 2.0), add_noise=False,
                       apply_gains=False)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """A noiseless calibrator observation extracted with the rest of its sky as field model."""
    from casacore import tables

    tmp = tmp_path_factory.mktemp("field")
    probe = simulate_session(replace(CFG, n_field_sources=0), tmp / "probe_in", tmp / "probe")
    ra, dec = probe["observations"][0]["field_centre_icrs_deg"]
    calibrator = Calibrator(name="CAL", ra_deg=ra + 0.2, dec_deg=dec + 0.1, flux_1400mhz_jy=10.0, spectral_index=0.0)
    truth = simulate_session(replace(CFG, calibrators=[SkySource("CAL", ra + 0.2, dec + 0.1, 10.0, 0.0)]), tmp / "in",
                             tmp / "truth")
    sky = read_sky_model(tmp / "truth" / "sky_model.csv")
    field = field_sources_around(calibrator, [s.ra_deg for s in sky], [s.dec_deg for s in sky],
                                 [s.flux_jy for s in sky], match_radius_arcsec=10, spectral_index=-0.7,
                                 min_apparent_flux_jy=0.0)
    record = extract_calibrator(sorted((tmp / "in").glob("*.hdf5")), tmp / "cal.ms", calibrator,
                                n_subbands=inst.N_SUBBANDS, field_sources=field)
    with tables.table(str(tmp / "cal.ms"), ack=False) as t:
        columns = {c: t.getcol(c) for c in ("DATA", FIELD_MODEL_COLUMN, "FLAG")}
    with tables.table(str(tmp / "cal.ms" / "SPECTRAL_WINDOW"), ack=False) as t:
        freqs_hz = t.getcol("CHAN_FREQ")[0]
    return {"record": record, "field": field, "sky": sky, "calibrator": calibrator, "freqs_hz": freqs_hz,
            "times_mjd": np.array(truth["observations"][0]["time_jd"]) - 2400000.5, **columns}


def test_the_calibrator_is_not_part_of_its_field(extracted):
    n_modelled = extracted["record"]["n_field_sources_modelled"]
    assert extracted["field"].ra_deg.size == len(extracted["sky"]) - 1 == n_modelled
    assert not np.any(np.isclose(extracted["field"].flux_jy, 10.0))


def test_data_minus_the_field_model_is_the_calibrator_alone(extracted):
    """With the field's model taken away, what is left is a 10 Jy point at the phase centre seen through the
    beam it drifts through: real, and the same on every baseline."""
    valid = ~extracted["FLAG"]
    field_model, data = extracted[FIELD_MODEL_COLUMN], extracted["DATA"]
    left = (data - field_model)[valid]
    expected = 10.0 * beam_along_track(extracted["calibrator"].ra_deg, extracted["calibrator"].dec_deg,
                                       CFG.pointing_dec_deg, extracted["times_mjd"], extracted["freqs_hz"]).mean(axis=0)
    expected = np.broadcast_to(expected[None, :, None], data.shape)[valid]
    assert np.sqrt(np.mean(np.abs(field_model[valid]) ** 2)) > 0.05 * np.mean(expected)  # the field matters
    assert np.max(np.abs(left - expected)) < 1e-3 * np.mean(expected)
