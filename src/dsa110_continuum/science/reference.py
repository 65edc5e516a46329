"""Reference catalogues (NVSS-style) the user provides as CSV or FITS: positions and 1.4 GHz fluxes.

Column names and the flux unit are configurable; every problem names the file and the column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..records import InputError

FLUX_UNITS_JY = {"Jy": 1.0, "mJy": 1e-3, "uJy": 1e-6}


class ReferenceCatalogueError(InputError):
    """A reference catalogue that cannot be used; the message names the file and the column."""


@dataclass(frozen=True)
class Reference:
    """A reference catalogue's sources: names, ICRS positions (deg) and fluxes (Jy)."""

    path: str
    names: np.ndarray
    ra_deg: np.ndarray
    dec_deg: np.ndarray
    flux_jy: np.ndarray

    def __len__(self) -> int:
        return self.names.size


def read_reference(path: str | Path, *, columns: dict, flux_unit: str) -> Reference:
    """Read a reference catalogue; ``columns`` maps name, ra, dec and flux to the file's column names."""
    from astropy.table import Table

    path = Path(path)
    if flux_unit not in FLUX_UNITS_JY:
        raise ReferenceCatalogueError(f"{path}: flux unit {flux_unit!r} is not one of {', '.join(FLUX_UNITS_JY)}")
    try:
        table = Table.read(path, format="fits" if path.suffix.lower() in (".fits", ".fit") else "ascii.csv")
    except (OSError, ValueError) as err:
        raise ReferenceCatalogueError(f"{path}: cannot read the reference catalogue ({err})") from err
    missing = [f"{role} column {name!r}" for role, name in columns.items() if name and name not in table.colnames]
    if missing:
        raise ReferenceCatalogueError(f"{path}: no {', '.join(missing)} (columns are: {', '.join(table.colnames)}); "
                                      f"set science.reference_columns")
    if len(table) == 0:
        raise ReferenceCatalogueError(f"{path}: the reference catalogue has no sources")
    values = {}
    for role in ("ra", "dec", "flux"):
        try:
            values[role] = np.asarray(table[columns[role]], dtype=float)
        except (TypeError, ValueError) as err:
            raise ReferenceCatalogueError(f"{path}: column {columns[role]!r} ({role}) is not numeric ({err})") from err
        if not np.isfinite(values[role]).all():
            raise ReferenceCatalogueError(f"{path}: column {columns[role]!r} ({role}) has empty or non-finite values")
    names = (np.asarray(table[columns["name"]]).astype(str) if columns.get("name")
             else np.array([f"ref{k:06d}" for k in range(len(table))]))
    return Reference(str(path), names, values["ra"] % 360, values["dec"], values["flux"] * FLUX_UNITS_JY[flux_unit])


def reference_if_readable(paths: list[str], *, columns: dict, flux_unit: str, log, without: str) -> Reference | None:
    """The configured reference catalogue (``paths`` holds it or nothing), or None when there is none or it cannot
    be read: the science jobs report a bad catalogue, calibration and imaging go on ``without`` it (logged as a
    warning)."""
    if not paths:
        return None
    try:
        return read_reference(paths[0], columns=columns, flux_unit=flux_unit)
    except ReferenceCatalogueError as err:
        log.warning("%s: %s", without, err)
        return None
