"""RFI flagging end to end: injected interference found, clean data left alone. The dec +20 imaging session
carries the RFI, so the imaging tests, which recover its sources' fluxes and positions, show the images unharmed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dsa110_continuum.naming import Products

pytestmark = pytest.mark.e2e


def flags_against_truth(session, group):
    from casacore import tables

    truth = np.load(session["truth_dir"] / "rfi_masks.npz")[group.replace(":", "-")]  # (time, baseline, freq)
    with tables.table(Products(session["out"]).calibrated_ms(group), ack=False) as ms:
        flags = ms.getcol("FLAG").any(axis=2)
        cross = ms.getcol("ANTENNA1") != ms.getcol("ANTENNA2")
    n_time, n_bl, _ = truth.shape
    flags = flags.reshape(n_time, n_bl, -1)[:, cross[:n_bl]]
    corrupted = truth[:, cross[:n_bl]]
    return flags[corrupted].mean(), flags[~corrupted].mean(), corrupted.mean()


def test_injected_rfi_is_flagged_and_clean_data_kept(imaging_runs):
    session = imaging_runs[20.0]
    assert session["run"].returncode == 0, session["run"].stderr[-3000:]
    for group in session["kept"]:
        found, false, _ = flags_against_truth(session, group)
        assert found >= 0.95 and false <= 0.02, (group, found, false)


def test_images_lose_only_the_data_rfi_hit(imaging_runs):
    """The flagged fraction the image QA reports is the injected RFI's share of the data (plus at most 2 %)."""
    session = imaging_runs[20.0]
    for group in session["kept"]:
        qa = json.loads(open(Products(session["out"]).image_qa(group)).read())
        injected = flags_against_truth(session, group)[2]
        assert injected > 0.001 and 0.95 * injected <= qa["flagged_fraction"] <= injected + 0.02, (group, injected, qa)
