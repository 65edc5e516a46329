"""Run an imager on a calibrated Measurement Set: WSClean (Debian's 3.x) or CASA tclean, same products.

Both make a Stokes I multi-frequency-synthesis image over the whole band with Briggs weighting, cleaned
to an automatic noise threshold inside a mask (discs around known sources, or an automatic mask), with w-terms
corrected (WSClean's wgridder, tclean's w-projection), and leave restored image, residual, PSF and model as FITS
in a work directory.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from ..records import InputError

IMAGERS = ("wsclean", "tclean")
PRODUCTS = ("image", "residual", "psf", "model")


class ImagingError(InputError):
    """The imager could not image the data; the message says why and where its log is."""


@dataclass(frozen=True)
class ImagingSettings:
    imager: str  # auto (WSClean when on PATH), wsclean or tclean
    robust: float
    niter: int
    mgain: float
    auto_threshold_sigma: float
    auto_mask_sigma: float
    max_averaging_loss: float  # WSClean's baseline-dependent averaging: amplitude lost at the image edge (0: off)
    wgridder_accuracy: float
    channels_per_average: int  # adjacent channels averaged into one before imaging (1: none)

    @classmethod
    def from_config(cls, image_config: dict, **overrides) -> ImagingSettings:
        """The settings from the config's ``image`` section."""
        return cls(**{field.name: image_config[field.name] for field in fields(cls)} | overrides)


@dataclass(frozen=True)
class CleanMask:
    """Discs of ``radius_arcsec`` around known sources, the only places CLEAN may put components (instead of an
    automatic mask). ``centre_deg`` is the image's phase centre, about which the imagers lay their grid."""

    ra_deg: np.ndarray
    dec_deg: np.ndarray
    radius_arcsec: float
    centre_deg: tuple[float, float]

    def grid_header(self, size_px: int, cell_arcsec: float):
        """The imagers' grid: SIN about the phase centre, reference pixel N/2 + 1 (FITS, 1-based)."""
        from astropy.io import fits

        return fits.Header({"NAXIS": 2, "NAXIS1": size_px, "NAXIS2": size_px, "CTYPE1": "RA---SIN",
                            "CTYPE2": "DEC--SIN", "CUNIT1": "deg", "CUNIT2": "deg", "CRPIX1": size_px / 2 + 1,
                            "CRPIX2": size_px / 2 + 1, "CRVAL1": self.centre_deg[0], "CRVAL2": self.centre_deg[1],
                            "CDELT1": -cell_arcsec / 3600, "CDELT2": cell_arcsec / 3600})

    def _xy(self, size_px: int, cell_arcsec: float) -> tuple[np.ndarray, np.ndarray]:
        from astropy.wcs import WCS

        x, y = WCS(self.grid_header(size_px, cell_arcsec)).world_to_pixel_values(self.ra_deg, self.dec_deg)
        return np.atleast_1d(x), np.atleast_1d(y)

    def on_grid(self, size_px: int, cell_arcsec: float) -> CleanMask | None:
        """The discs that reach the grid, or None if none does."""
        x, y = self._xy(size_px, cell_arcsec)
        reach = self.radius_arcsec / cell_arcsec
        keep = (x > -reach) & (y > -reach) & (x < size_px - 1 + reach) & (y < size_px - 1 + reach)
        return replace(self, ra_deg=self.ra_deg[keep], dec_deg=self.dec_deg[keep]) if keep.any() else None

    def pixels(self, size_px: int, cell_arcsec: float) -> np.ndarray:
        """The mask on the imagers' grid (y, x), True inside a disc."""
        x, y = self._xy(size_px, cell_arcsec)
        radius_px = self.radius_arcsec / cell_arcsec
        yy, xx = np.ogrid[:size_px, :size_px]
        mask = np.zeros((size_px, size_px), bool)
        for xc, yc in zip(x, y):
            x0, x1 = max(int(xc - radius_px), 0), min(int(xc + radius_px) + 2, size_px)
            y0, y1 = max(int(yc - radius_px), 0), min(int(yc + radius_px) + 2, size_px)
            if x0 < x1 and y0 < y1:
                mask[y0:y1, x0:x1] |= np.hypot(xx[:, x0:x1] - xc, yy[y0:y1] - yc) <= radius_px
        return mask

    def write_fits(self, path: str, size_px: int, cell_arcsec: float) -> str:
        """The mask as WSClean reads it (non-zero: CLEAN may put components there)."""
        from astropy.io import fits

        fits.PrimaryHDU(self.pixels(size_px, cell_arcsec).astype(np.float32),
                        self.grid_header(size_px, cell_arcsec)).writeto(path, overwrite=True)
        return path

    def write_crtf(self, path: str) -> str:
        """The mask as CASA region text (circles), as tclean reads it."""
        circles = [f"circle[[{ra:.8f}deg, {dec:.8f}deg], {self.radius_arcsec:.3f}arcsec]"
                   for ra, dec in zip(self.ra_deg, self.dec_deg)]
        Path(path).write_text("#CRTFv0\n" + "\n".join(circles) + "\n")
        return path


def baseline_averaging_wavelengths(max_loss: float, edge_offset_rad: float) -> float:
    """The uv distance (wavelengths) a baseline may travel while WSClean averages its visibilities.

    Averaging over a uv track of length d scales a source at offset l by sinc(pi d l) ~ 1 - (pi d l)^2 / 6,
    so a source at the image edge loses at most ``max_loss`` of its amplitude. Short baselines move slowly
    in uv and are averaged over many integrations; the longest are not averaged at all.
    """
    return math.sqrt(6 * max_loss) / (math.pi * edge_offset_rad)


def average_channels(ms_path: str, averaged_ms: str, channels: int, log_path: str | None) -> str:
    """``averaged_ms``: ``ms_path`` with every ``channels`` adjacent channels averaged into one (CASA's
    mstransform: flagged samples left out, a channel flagged only where all its inputs are)."""
    returncode = _run_logged([sys.executable, "-m", "dsa110_continuum.casa", "average", ms_path, averaged_ms,
                              "--channels", str(channels)], log_path, cwd=os.path.dirname(averaged_ms))
    if returncode != 0 or not os.path.isdir(averaged_ms):
        raise ImagingError(f"{ms_path}: averaging {channels} channels failed (exit {returncode}); see {log_path}")
    return averaged_ms


def _run_logged(cmd: list[str], log_path: str | None, cwd: str | Path) -> int:
    """Run ``cmd`` with its command line and output appended to ``log_path``; its exit status."""
    with open(log_path or os.devnull, "a") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        return subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=cwd).returncode


def choose_imager(requested: str) -> str:
    """The imager to use: ``auto`` means WSClean when it is on PATH, else tclean."""
    if requested == "auto":
        return "wsclean" if shutil.which("wsclean") else "tclean"
    if requested == "wsclean" and not shutil.which("wsclean"):
        raise ImagingError("imager 'wsclean' is configured but no wsclean is on PATH (install Debian's wsclean, or "
                           "set image.imager to tclean or auto)")
    return requested


def run_imager(ms_path: str, work_dir: str | Path, *, size_px: int, cell_arcsec: float, settings: ImagingSettings,
               threads: int = 1, mem_gb: float = 4.0, log_path: str | None = None,
               clean_mask: CleanMask | None = None) -> dict[str, str]:
    """Image ``ms_path``; returns the FITS path of each product in ``PRODUCTS`` (inside ``work_dir``). CLEAN works
    inside ``clean_mask`` where one is given, else inside the imager's automatic mask."""
    imager = choose_imager(settings.imager)
    ms_path = os.path.abspath(ms_path)
    work_dir = Path(work_dir).resolve()  # the imager runs inside it
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    prefix = str(work_dir / "img")
    if settings.channels_per_average > 1:
        ms_path = average_channels(ms_path, str(work_dir / "averaged.ms"), settings.channels_per_average, log_path)
    if imager == "wsclean":
        cmd = ["wsclean", "-name", prefix, "-size", str(size_px), str(size_px), "-scale", f"{cell_arcsec}asec",
               "-pol", "I", "-weight", "briggs", str(settings.robust), "-niter", str(settings.niter),
               "-mgain", str(settings.mgain), "-auto-threshold", str(settings.auto_threshold_sigma),
               *(["-fits-mask", clean_mask.write_fits(f"{prefix}-clean-mask.fits", size_px, cell_arcsec)]
                 if clean_mask else ["-auto-mask", str(settings.auto_mask_sigma)]),
               "-use-wgridder", "-wgridder-accuracy",
               str(settings.wgridder_accuracy), "-data-column", "DATA",
               "-no-update-model-required", "-no-dirty", "-j", str(threads), "-abs-mem", f"{mem_gb:.1f}",
               "-temp-dir", str(work_dir)]
        if settings.max_averaging_loss > 0:
            track = baseline_averaging_wavelengths(settings.max_averaging_loss,
                                                   math.radians(size_px * cell_arcsec / 2 / 3600))
            cmd += ["-baseline-averaging", f"{track:.3f}"]
        cmd.append(ms_path)
        files = {p: f"{prefix}-{p}.fits" for p in PRODUCTS}
    else:
        request = {"ms": ms_path, "prefix": prefix, "size_px": size_px, "cell_arcsec": cell_arcsec,
                   "settings": asdict(settings), "casa_log": log_path,
                   "clean_mask": clean_mask.write_crtf(f"{prefix}.clean-mask.crtf") if clean_mask else None}
        cmd = [sys.executable, "-m", "dsa110_continuum.image.tclean", json.dumps(request)]
        files = {p: f"{prefix}.{p}.fits" for p in PRODUCTS}
    returncode = _run_logged(cmd, log_path, cwd=work_dir)
    missing = [p for p, f in files.items() if not os.path.exists(f)]
    if returncode != 0 or missing:
        raise ImagingError(f"{ms_path}: {imager} failed (exit {returncode}; missing {', '.join(missing) or 'nothing'})"
                           f"; see {log_path}")
    return files
