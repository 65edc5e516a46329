"""Known sources taken out of the data as they drift through the beam: calibrators entirely, reference-catalogue
sources only their change through the beam; the rest of the sky untouched. This process may import
python-casacore but never casatools."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dsa110_continuum.calibrate.apply import BrightSources, bright_source_model
from dsa110_continuum.calibrate.point_sources import PointSources, apparent_flux_jy, visibility_model
from dsa110_continuum.convert.stream import Observation
from dsa110_continuum.simulate.session import SimulationConfig, SkySource, simulate_session
from dsa110_continuum.sky.catalogue import Calibrator

CFG = SimulationConfig(n_observations=1, antennas=tuple(int(k) for k in np.linspace(0, 101, 8).round()),
                       n_chan_per_subband=3, n_integrations=12, start_utc="2025-06-01T04:40:00",
                       pointing_dec_deg=30.5, n_field_sources=6, field_flux_range_jy=(0.5, 2.0), add_noise=False,
                       apply_gains=False)


def as_point_source(c: Calibrator) -> PointSources:
    return PointSources(c.ra_deg, c.dec_deg, c.flux_1400mhz_jy, c.spectral_index)


def _data(incoming) -> tuple[Observation, list]:
    observation = Observation(sorted(incoming.glob("*.hdf5")))
    return observation, list(observation.blocks(4))


@pytest.fixture(scope="module")
def skies(tmp_path_factory):
    """The same field simulated noiseless with and without two 10 Jy sources: one 1 deg east of the centre, one
    2.6 deg west (outside an image, in the beam's skirt)."""
    tmp = tmp_path_factory.mktemp("bright")
    probe = simulate_session(replace(CFG, n_field_sources=0), tmp / "probe_in", tmp / "probe")
    ra, dec = probe["observations"][0]["field_centre_icrs_deg"]
    cos_dec = np.cos(np.deg2rad(dec))
    inside = Calibrator("INSIDE", ra + 1.0 / cos_dec, dec + 0.1, 10.0, -0.5)
    outside = Calibrator("OUTSIDE", ra - 2.6 / cos_dec, dec, 10.0, -0.9)
    far = Calibrator("FAR", ra + 60.0, dec, 30.0, -0.7)  # in no beam: left alone
    simulate_session(replace(CFG, extra_sources=[SkySource(c.name, c.ra_deg, c.dec_deg, c.flux_1400mhz_jy,
                                                           c.spectral_index) for c in (inside, outside)]),
                     tmp / "bright_in", tmp / "bright_truth")
    simulate_session(CFG, tmp / "field_in", tmp / "field_truth")
    return {"with": _data(tmp / "bright_in"), "without": _data(tmp / "field_in"), "inside": inside,
            "calibrators": (far, outside, inside)}


def _left_and_before(skies, model, also_expected=None):
    """|data - model - field-only data| and |data - field-only data| over the valid samples."""
    observation, blocks = skies["with"]
    left, before = [], []
    for block, field_only in zip(blocks, skies["without"][1]):
        expected = field_only.data + (0 if also_expected is None else also_expected(block)[:, :, None])
        valid = ~block.flags
        left.append(np.abs(block.data - model(block)[:, :, None] - expected)[valid])
        before.append(np.abs(block.data - expected)[valid])
    return np.max(np.concatenate(left)), np.max(np.concatenate(before))


def test_calibrators_are_subtracted_as_they_drift_through_the_beam(skies):
    """What is left is the rest of the sky, as simulated without them, to 1e-3 of their brightness."""
    observation, _ = skies["with"]
    model, summary = bright_source_model(observation, BrightSources(skies["calibrators"], 0.01))
    assert [r["calibrator"]["name"] for r in summary["bright_sources"]] == ["OUTSIDE", "INSIDE"]
    scale_jy = apparent_flux_jy(observation, as_point_source(skies["inside"])).mean()
    left, before = _left_and_before(skies, model)
    assert before > 0.5 * scale_jy and left < 1e-3 * scale_jy


def test_a_field_sources_drift_is_taken_out_and_its_average_kept(skies):
    """A reference-catalogue source keeps its brightness averaged over the observation, channel by channel: what is
    left is the rest of the sky plus that source, constant in time (the calibrator, and the catalogue's entry for
    it, are subtracted entirely)."""
    observation, _ = skies["with"]
    inside, outside = as_point_source(skies["inside"]), skies["calibrators"][1]
    catalogue = PointSources([inside.ra_deg[0], outside.ra_deg + 5 / 3600], [inside.dec_deg[0], outside.dec_deg],
                             [inside.flux_jy[0], 9.0], [inside.spectral_index[0], -0.7])
    model, summary = bright_source_model(observation, BrightSources((outside,), 0.01, catalogue, 0.05))
    assert summary["n_field_sources_steadied"] == 1
    response = apparent_flux_jy(observation, inside)
    assert response[0, :, 0].max() > 1.3 * response[0, :, 0].min()  # it brightens 40 % as it nears the meridian
    constant = visibility_model(observation, inside, np.broadcast_to(response.mean(axis=1, keepdims=True),
                                                                     response.shape))
    left, before = _left_and_before(skies, model, constant)
    assert before > 0.2 * response.mean() and left < 1e-3 * response.mean()


def test_a_field_source_off_the_image_is_subtracted_entirely(skies):
    """The western source, 2.6 deg from the centre, lies off a 3.5 deg image, where no imager can clean it: as a
    reference-catalogue source it is subtracted entirely; the eastern one, on the image, keeps its average."""
    observation, _ = skies["with"]
    inside, outside = (as_point_source(c) for c in skies["calibrators"][2:0:-1])
    catalogue = PointSources.concatenate(inside, outside)
    model, summary = bright_source_model(observation, BrightSources((), 0.01, catalogue, 0.05, 1.75))
    assert (summary["n_field_sources_steadied"], summary["n_field_sources_subtracted"]) == (1, 1)
    response = apparent_flux_jy(observation, inside)
    constant = visibility_model(observation, inside, np.broadcast_to(response.mean(axis=1, keepdims=True),
                                                                     response.shape))
    left, before = _left_and_before(skies, model, constant)
    assert before > 0.2 * response.mean() and left < 1e-3 * response.mean()


def test_nothing_bright_enough_leaves_the_data_alone(skies):
    observation, _ = skies["with"]
    assert bright_source_model(observation, BrightSources(skies["calibrators"][:1], 0.01)) == \
        (None, {"bright_sources": [], "n_field_sources_steadied": 0, "n_field_sources_subtracted": 0})
