"""Calibration tables that cannot be used are named with the cause (python-casacore; no casatools here)."""

import numpy as np
import pytest

from dsa110_continuum.calibrate.apply import _per_antenna
from dsa110_continuum.formats.caltable import CalibrationTableError, read_caltable


def test_missing_table_is_named(tmp_path):
    with pytest.raises(CalibrationTableError, match=f"{tmp_path}/none.bcal: calibration table does not exist"):
        read_caltable(str(tmp_path / "none.bcal"))


def test_corrupt_table_is_named(tmp_path):
    bad = tmp_path / "bandpass.bcal"
    bad.mkdir()
    (bad / "table.dat").write_bytes(b"\x00garbage")
    with pytest.raises(CalibrationTableError, match=f"{bad}: calibration table cannot be read"):
        read_caltable(str(bad))


def test_empty_table_is_named(tmp_path):
    from casacore import tables

    desc = tables.maketabdesc([tables.makescacoldesc("ANTENNA1", 0)])
    tables.table(str(tmp_path / "empty.bcal"), desc, nrow=0, ack=False).close()
    with pytest.raises(CalibrationTableError, match="calibration table is empty"):
        read_caltable(str(tmp_path / "empty.bcal"))


def test_gains_interpolate_linearly_in_time_nearest_in_frequency():
    solutions = {"antenna": np.array([0, 0]), "time_s": np.array([0.0, 10.0]),
                 "gain": np.array([[[1 + 0j], [2 + 0j]], [[3 + 0j], [4 + 0j]]]),  # (time, chan, pol)
                 "flag": np.zeros((2, 2, 1), bool), "freqs_hz": np.array([1.0e9, 1.1e9])}
    gains, flags = _per_antenna(solutions, 2, np.array([0.99e9, 1.06e9]), np.array([-5.0, 5.0, 15.0]))
    assert np.allclose(gains[:, 0, :, 0], [[1, 2], [2, 3], [3, 4]])
    assert flags[:, 1].all() and not flags[:, 0].any()  # antenna 1 has no solutions: flagged
