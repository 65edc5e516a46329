"""Calibrator catalogues: the array's list and an optional larger fallback list (CSV files).

Positions are ICRS; fluxes are at 1.4 GHz with a power-law spectral index. Every problem in a file is
reported with the file, the line and the column.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import instrument as inst
from ..records import InputError
from .coords import angular_separation_deg


class CatalogueError(InputError):
    """A catalogue file that cannot be used; the message names the file, line and column."""


#: Spectral index assumed for fallback sources whose file gives none.
DEFAULT_SPECTRAL_INDEX = -0.7
_REQUIRED_MAIN = ("name", "ra_deg", "dec_deg", "flux_1400mhz_jy", "spectral_index")
_REQUIRED_FALLBACK = ("name", "ra_deg", "dec_deg", "flux_1400mhz_jy")


@dataclass(frozen=True)
class Calibrator:
    """A calibrator source.

    Attributes
    ----------
    name : str
    ra_deg, dec_deg : float
        ICRS (J2000) position, degrees.
    flux_1400mhz_jy : float
        Flux density at 1.4 GHz, Jy.
    spectral_index : float
        alpha in S ∝ nu**alpha.
    casa_standard_name : str or None
        Name known to CASA setjy's 'Perley-Butler 2017' standard, or None.
    is_fallback : bool
        True if the source came from the fallback (user) list.
    """

    name: str
    ra_deg: float
    dec_deg: float
    flux_1400mhz_jy: float
    spectral_index: float
    casa_standard_name: str | None = None
    is_fallback: bool = False

    def __post_init__(self) -> None:
        for field in ("ra_deg", "dec_deg", "flux_1400mhz_jy", "spectral_index"):
            if not math.isfinite(getattr(self, field)):
                raise ValueError(f"calibrator {self.name!r}: {field} is not finite")
        if not -90.0 <= self.dec_deg <= 90.0:
            raise ValueError(f"calibrator {self.name!r}: dec_deg {self.dec_deg} outside [-90, 90]")
        if self.flux_1400mhz_jy <= 0:
            raise ValueError(f"calibrator {self.name!r}: flux_1400mhz_jy must be > 0")

    def flux_at(self, freq_hz):
        """Flux density (Jy) at frequencies, from the power law."""
        return power_law_flux_jy(self.flux_1400mhz_jy, self.spectral_index, freq_hz)


def _name_key(name: str) -> str:
    return "".join(name.split()).upper()


def _read_rows(path: Path) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """Header column map and (line number, fields) of the data rows of a CSV file.

    Blank lines and lines starting with ``#`` are skipped; line numbers are 1-based.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read calibrator file: {exc}") from exc
    header: dict[str, int] | None = None
    rows: list[tuple[int, list[str]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            fields = [f.strip() for f in next(csv.reader([line]))]
        except csv.Error as exc:
            raise CatalogueError(f"{path}, line {lineno}: malformed CSV: {exc}") from exc
        if header is None:
            header = {}
            for i, col in enumerate(fields):
                key = col.lower()
                if key in header:
                    raise CatalogueError(f"{path}, line {lineno}: duplicate column {col!r} in header")
                header[key] = i
            continue
        rows.append((lineno, fields))
    if header is None:
        raise CatalogueError(f"{path}, line 1: empty file, no header line")
    return header, rows


def _parse_float(path: Path, lineno: int, column: str, value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise CatalogueError(
            f"{path}, line {lineno}: column {column!r}: non-numeric value {value!r}"
        ) from None
    if not math.isfinite(x):
        raise CatalogueError(f"{path}, line {lineno}: column {column!r}: value {value!r} is not finite")
    return x


def _parse_file(path: Path, *, fallback: bool) -> list[Calibrator]:
    header, rows = _read_rows(path)
    required = _REQUIRED_FALLBACK if fallback else _REQUIRED_MAIN
    missing = [c for c in required if c not in header]
    if missing:
        raise CatalogueError(
            f"{path}, line 1: header lacks required column(s) {', '.join(missing)} "
            f"(need {', '.join(required)})"
        )
    n_cols = len(header)
    seen: dict[str, int] = {}
    out: list[Calibrator] = []
    for lineno, fields in rows:
        if len(fields) != n_cols:
            raise CatalogueError(
                f"{path}, line {lineno}: expected {n_cols} fields as in the header, found {len(fields)}"
            )
        name = fields[header["name"]]
        if not name:
            raise CatalogueError(f"{path}, line {lineno}: empty name")
        key = _name_key(name)
        if key in seen:
            raise CatalogueError(
                f"{path}, line {lineno}: duplicate calibrator name {name!r} (first on line {seen[key]})"
            )
        seen[key] = lineno
        ra = _parse_float(path, lineno, "ra_deg", fields[header["ra_deg"]])
        dec = _parse_float(path, lineno, "dec_deg", fields[header["dec_deg"]])
        flux = _parse_float(path, lineno, "flux_1400mhz_jy", fields[header["flux_1400mhz_jy"]])
        if not 0.0 <= ra < 360.0:
            raise CatalogueError(f"{path}, line {lineno}: ra_deg {ra} outside [0, 360)")
        if not -90.0 <= dec <= 90.0:
            raise CatalogueError(f"{path}, line {lineno}: dec_deg {dec} outside [-90, 90]")
        if flux <= 0.0:
            raise CatalogueError(f"{path}, line {lineno}: flux_1400mhz_jy {flux} must be > 0")
        alpha_text = fields[header["spectral_index"]] if "spectral_index" in header else ""
        if alpha_text == "":
            if not fallback:
                raise CatalogueError(f"{path}, line {lineno}: column 'spectral_index' is empty")
            alpha = DEFAULT_SPECTRAL_INDEX
        else:
            alpha = _parse_float(path, lineno, "spectral_index", alpha_text)
        casa = fields[header["casa_standard_name"]] if "casa_standard_name" in header else ""
        out.append(Calibrator(
            name=name, ra_deg=ra, dec_deg=dec, flux_1400mhz_jy=flux, spectral_index=alpha,
            casa_standard_name=casa or None, is_fallback=fallback,
        ))
    return out


#: Two catalogue entries this close are one source.
SAME_SOURCE_ARCSEC = 60.0


def load_calibrator_catalogue(
    path: str | Path,
    *,
    fallback_path: str | Path | None = None,
    fallback_min_flux_jy: float = 1.0,
    fallback_match_radius_arcsec: float = SAME_SOURCE_ARCSEC,
) -> list[Calibrator]:
    """Load the calibrator catalogue, optionally extended by a fallback list.

    Parameters
    ----------
    path : str or Path
        CSV with columns name, ra_deg, dec_deg, flux_1400mhz_jy, spectral_index and
        optionally casa_standard_name (empty = not known to CASA). Extra columns are ignored.
    fallback_path : str or Path, optional
        A larger user list with at least name, ra_deg, dec_deg, flux_1400mhz_jy
        (spectral_index defaults to ``DEFAULT_SPECTRAL_INDEX``; casa_standard_name optional).
    fallback_min_flux_jy : float
        Only fallback sources with flux_1400mhz_jy >= this are used.
    fallback_match_radius_arcsec : float
        Fallback sources whose name (case and spaces ignored) is in the main catalogue, or
        lying within this radius of a main-catalogue source, are dropped.

    Returns
    -------
    list of Calibrator
        Main catalogue in file order, then the accepted fallback sources in file order.

    Raises
    ------
    CatalogueError
        For a bad file (missing column, non-numeric value, dec outside [-90, 90], ...);
        the message names the file and line.
    """
    main = _parse_file(Path(path), fallback=False)
    if fallback_path is None:
        return main
    extra = _parse_file(Path(fallback_path), fallback=True)
    main_keys = {_name_key(c.name) for c in main}
    main_ra = np.array([c.ra_deg for c in main])
    main_dec = np.array([c.dec_deg for c in main])
    accepted: list[Calibrator] = []
    for cal in extra:
        if cal.flux_1400mhz_jy < fallback_min_flux_jy or _name_key(cal.name) in main_keys:
            continue
        if main and np.any(angular_separation_deg(main_ra, main_dec, cal.ra_deg, cal.dec_deg)
                           <= fallback_match_radius_arcsec / 3600.0):
            continue
        accepted.append(cal)
    return main + accepted


def power_law_flux_jy(flux_1400mhz_jy: float, spectral_index: float, freq_hz):
    """S = S_1.4GHz (nu / 1.4 GHz)**alpha, Jy (scalar or array)."""
    freq = np.asarray(freq_hz, dtype=float)
    if np.any(~(freq > 0)):
        raise ValueError("freq_hz must be positive")
    flux = flux_1400mhz_jy * (freq / inst.REFERENCE_FREQ_HZ) ** spectral_index
    return float(flux) if flux.ndim == 0 else flux
