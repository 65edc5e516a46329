"""RFI flagging end to end: injected interference found, clean data left alone, images unharmed."""

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
    return flags[corrupted].mean(), flags[~corrupted].mean()


def test_injected_rfi_is_flagged_and_clean_data_kept(rfi_run):
    assert rfi_run["run"].returncode == 0, rfi_run["run"].stderr[-3000:]
    for group in rfi_run["kept"]:
        found, false = flags_against_truth(rfi_run, group)
        assert found >= 0.95 and false <= 0.02, (group, found, false)


def test_image_noise_with_rfi_is_that_without(rfi_run, imaging_runs):
    with_rfi = json.loads(open(Products(rfi_run["out"]).image_qa(rfi_run["target"])).read())
    without = json.loads(open(Products(imaging_runs[20.0]["out"]).image_qa(rfi_run["target"])).read())
    assert with_rfi["rms_jy"] == pytest.approx(without["rms_jy"], rel=0.10)
