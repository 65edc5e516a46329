"""Source catalogues of PB-corrected images and mosaics, made with PyBDSF against a given noise map.

The noise map is the one the product carries: a mosaic's noise map, or an image's local rms (``noise``)
divided by its primary beam (the corrected image's noise grows as the beam falls).
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits

from ..records import write_csv_atomic

COLUMNS = ["source_id", "ra_deg", "dec_deg", "ra_err_arcsec", "dec_err_arcsec", "peak_jy", "peak_err_jy", "flux_jy",
           "flux_err_jy", "major_arcsec", "minor_arcsec", "pa_deg", "code"]


def find_sources(image_path: str, noise: np.ndarray, out_csv: str, *, freq_hz: float, thresh_isl: float,
                 thresh_pix: float) -> int:
    """Run PyBDSF on ``image_path`` with ``noise`` as its rms map; write the source list as CSV (atomically) and
    return how many sources it holds (an image without sources gives a CSV with the header only)."""
    import bdsf

    header = fits.getheader(image_path)
    # PyBDSF reads the maps from the image's directory and writes its log beside the image: it works on a link
    # in a scratch directory, which keeps the product directories clean.
    with tempfile.TemporaryDirectory(prefix="pybdsf-") as tmp:
        image_link = os.path.join(tmp, "image.fits")
        os.symlink(os.path.abspath(image_path), image_link)
        fits.PrimaryHDU(np.zeros_like(noise, dtype=np.float32), header).writeto(os.path.join(tmp, "mean.fits"))
        fits.PrimaryHDU(noise.astype(np.float32), header).writeto(os.path.join(tmp, "rms.fits"))
        image = bdsf.process_image(image_link, thresh_isl=thresh_isl, thresh_pix=thresh_pix, frequency=freq_hz,
                                   rmsmean_map_filename=["mean.fits", "rms.fits"], quiet=True, ncores=1,
                                   output_all=False)
        rows = []
        if image.nsrc:
            raw = os.path.join(tmp, "srl.csv")
            image.write_catalog(outfile=raw, format="csv", catalog_type="srl", clobber=True)
            rows = _read_pybdsf_csv(raw)
    write_csv_atomic(out_csv, COLUMNS, rows)
    return len(rows)


def _read_pybdsf_csv(path: str) -> list[dict]:
    """PyBDSF's source list (degrees, Jy) in our columns (arcsec, RA in [0, 360))."""
    with open(path) as handle:
        lines = [line for line in handle
                 if line.strip() and (not line.startswith("#") or line.startswith("# Source_id"))]
    reader = csv.reader([lines[0].lstrip("# ")] + lines[1:], skipinitialspace=True)
    names = [n.strip() for n in next(reader)]
    rows = []
    for values in reader:
        if not values:
            continue
        r = dict(zip(names, (v.strip() for v in values)))
        rows.append({"source_id": int(r["Source_id"]), "ra_deg": float(r["RA"]) % 360, "dec_deg": float(r["DEC"]),
                     "ra_err_arcsec": 3600 * float(r["E_RA"]), "dec_err_arcsec": 3600 * float(r["E_DEC"]),
                     "peak_jy": float(r["Peak_flux"]), "peak_err_jy": float(r["E_Peak_flux"]),
                     "flux_jy": float(r["Total_flux"]), "flux_err_jy": float(r["E_Total_flux"]),
                     "major_arcsec": 3600 * float(r["Maj"]), "minor_arcsec": 3600 * float(r["Min"]),
                     "pa_deg": float(r["PA"]), "code": r["S_Code"]})
    return rows


def read_sources(path: str | Path) -> dict[str, np.ndarray]:
    """A source catalogue CSV as columns of numbers (code as strings)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {c: np.array([r[c] for r in rows], dtype=str if c == "code" else float) for c in COLUMNS}
