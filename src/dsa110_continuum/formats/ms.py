"""Write CASA Measurement Sets with python-casacore, block by block, atomically.

The main table has pyuvdata's column layout (no WEIGHT_SPECTRUM); the subtables come from pyuvdata's
MS writers for a metadata-only UVData. Never import casatools in this module: it runs in
python-casacore processes.
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import instrument as inst

#: A calibrator MS's model visibilities of the other sources in its field, which the solve adds to MODEL_DATA.
FIELD_MODEL_COLUMN = "FIELD_MODEL_DATA"


@dataclass
class RowColumns:
    """The per-row metadata of an MS main table (MS conventions: uvw of ANTENNA2 - ANTENNA1 negated)."""

    ant_1: np.ndarray
    ant_2: np.ndarray
    interval_s: np.ndarray
    time_s: np.ndarray  # MJD seconds
    uvw_m: np.ndarray

    @property
    def n_rows(self) -> int:
        return self.ant_1.size


def _create_main_table(path: str, n_rows: int, n_chan: int, n_pol: int):
    """An empty MS with DATA/FLAG tiled per subband.

    Tiles of (pol, 48 channels, 1024 rows) match how the converter writes: measured 2.6x faster than
    casacore's default tiling for a full-scale observation.
    """
    from casacore import tables

    desc = tables.required_ms_desc("MAIN")
    data = tables.makearrcoldesc("DATA", 0j, valuetype="complex", ndim=2, datamanagertype="TiledShapeStMan",
                                 datamanagergroup="TiledData", comment="The data column")
    del data["desc"]["shape"]
    desc.update(tables.maketabdesc(data))
    desc["FLAG"].update(dataManagerType="TiledShapeStMan", dataManagerGroup="TiledFlag")
    desc["UVW"].update(dataManagerType="TiledColumnStMan", dataManagerGroup="TiledUVW")
    for key in ("WEIGHT", "SIGMA"):
        desc[key].update(dataManagerType="TiledShapeStMan", dataManagerGroup=f"Tiled{key.title()}")
    tile = np.array([n_pol, min(n_chan, inst.N_CHAN_PER_SUBBAND), 1024], dtype=np.int32)
    dminfo = tables.makedminfo(desc, {"TiledData": {"DEFAULTTILESHAPE": tile},
                                      "TiledFlag": {"DEFAULTTILESHAPE": tile}})
    ms = tables.default_ms(path, desc, dminfo)
    ms.addrows(n_rows)
    return ms


#: An MS's size: complex64 DATA and a boolean FLAG per sample; time, uvw, antennas, weights... per row; and
#: room for the subtables and casacore's temporary copies.
BYTES_PER_SAMPLE, BYTES_PER_ROW, SPARE_BYTES = 9, 200, 4 * 2**20


def _check_free_space(ms_path: Path, size_bytes: int) -> None:
    """Fail with ENOSPC before writing an MS that cannot fit: casacore aborts the process on a full disk."""
    free = shutil.disk_usage(ms_path.parent).free
    if free < size_bytes + SPARE_BYTES:
        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (an MS of ~{size_bytes / 2**20:.0f} MB, "
                      f"{free / 2**20:.0f} MB free)", str(ms_path))


class MeasurementSetWriter:
    """Write an MS at ``ms_path`` via ``<ms_path>.partial``, renamed into place only when complete.

    ``uvd`` is a metadata-only UVData describing the observation (antennas, band, phase centre), and
    ``pol_order`` the CASA order of its polarisations. Use as a context manager: write the DATA/FLAG
    blocks, then ``finish`` with the row metadata.
    """

    def __init__(self, ms_path: str | Path, uvd, pol_order, *, n_rows: int):
        self.ms_path = Path(ms_path)
        self.tmp = self.ms_path.with_name(self.ms_path.name + ".partial")
        self.uvd, self.pol_order = uvd, pol_order
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.ms_path.parent.mkdir(parents=True, exist_ok=True)
        _check_free_space(self.ms_path, n_rows * uvd.Nfreqs * uvd.Npols * BYTES_PER_SAMPLE + n_rows * BYTES_PER_ROW)
        self.table = _create_main_table(str(self.tmp), n_rows, uvd.Nfreqs, uvd.Npols)
        self.finished = False

    def __enter__(self):
        return self

    def write(self, start_row: int, data: np.ndarray, flags: np.ndarray) -> None:
        self.table.putcol("DATA", data, startrow=start_row, nrow=data.shape[0])
        self.table.putcol("FLAG", flags, startrow=start_row, nrow=data.shape[0])

    def write_column(self, name: str, data: np.ndarray) -> None:
        """Add a complex (Nrow, Nchan, Npol) column besides DATA, with all its rows."""
        from casacore import tables

        self.table.addcols(tables.maketabdesc(tables.makearrcoldesc(name, 0j, valuetype="complex", ndim=2,
                                                                    shape=list(data.shape[1:]))))
        self.table.putcol(name, data)

    def finish(self, rows: RowColumns, before_rename=None) -> None:
        """Write the row metadata and subtables, then rename the MS into place.

        ``before_rename(staged_path)``, if given, may still change the complete MS (e.g. flag it) first.
        """
        from pyuvdata.utils.io import ms as ms_utils

        ms, n_pol = self.table, self.uvd.Npols
        ms.putcol("WEIGHT", np.ones((rows.n_rows, n_pol), dtype=np.float32))
        ms.putcol("SIGMA", np.ones((rows.n_rows, n_pol), dtype=np.float32))
        ms.putcol("ANTENNA1", rows.ant_1)
        ms.putcol("ANTENNA2", rows.ant_2)
        ms.putcol("INTERVAL", rows.interval_s)
        ms.putcol("EXPOSURE", rows.interval_s)
        ms.putcol("TIME", rows.time_s)
        ms.putcol("TIME_CENTROID", rows.time_s)
        ms.putcol("UVW", rows.uvw_m)
        ms.putcol("SCAN_NUMBER", np.ones(rows.n_rows, dtype=np.int32))
        ms.putcol("FLAG_ROW", rows.ant_1 == rows.ant_2)
        ms.putcolkeyword("DATA", "QuantumUnits", "Jy")
        ms.putkeyword("pyuvdata_flip_conj", True)
        ms.close()
        tmp = str(self.tmp)
        for writer in (ms_utils.write_ms_antenna, ms_utils.write_ms_data_description, ms_utils.write_ms_feed,
                       ms_utils.write_ms_field, ms_utils.write_ms_history, ms_utils.write_ms_observation,
                       ms_utils.write_ms_source, ms_utils.write_ms_spectral_window):
            writer(tmp, uvobj=self.uvd)
        ms_utils.write_ms_polarization(tmp, pol_order=self.pol_order, uvobj=self.uvd)
        _fill_casa_conventions(tmp)
        if before_rename is not None:
            before_rename(tmp)
        if self.ms_path.exists():
            shutil.rmtree(self.ms_path)
        os.replace(self.tmp, self.ms_path)
        self.finished = True

    def __exit__(self, *exc):
        if not self.finished:
            self.table.close()
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False


def _fill_casa_conventions(ms_path: str) -> None:
    """MS fields pyuvdata leaves empty that CASA tasks read: the telescope name, antenna type and the processor
    every row's PROCESSOR_ID (0) names."""
    from casacore import tables

    with tables.table(ms_path + "/OBSERVATION", readonly=False, ack=False) as obs:
        obs.putcol("TELESCOPE_NAME", [inst.TELESCOPE_NAME] * obs.nrows())
    with tables.table(ms_path + "/ANTENNA", readonly=False, ack=False) as ant:
        ant.putcol("TYPE", ["GROUND-BASED"] * ant.nrows())
    with tables.table(ms_path + "/PROCESSOR", readonly=False, ack=False) as processor:
        processor.addrows(1)
        for column, value in (("TYPE", "CORRELATOR"), ("SUB_TYPE", inst.INSTRUMENT), ("TYPE_ID", -1),
                              ("MODE_ID", -1), ("FLAG_ROW", False)):
            processor.putcell(column, 0, value)
