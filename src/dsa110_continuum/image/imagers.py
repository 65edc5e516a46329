"""Run an imager on a calibrated Measurement Set: WSClean (Debian's 3.x) or CASA tclean, same products.

Both make a Stokes I multi-frequency-synthesis image over the whole band with Briggs weighting, cleaned
to an automatic noise threshold inside an automatic mask, with w-terms corrected (WSClean's wgridder,
tclean's w-projection), and leave restored image, residual, PSF and model as FITS in a work directory.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

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

    @classmethod
    def from_config(cls, image_config: dict, **overrides) -> ImagingSettings:
        """The settings from the config's ``image`` section."""
        return cls(**{field.name: image_config[field.name] for field in fields(cls)} | overrides)


def baseline_averaging_wavelengths(max_loss: float, edge_offset_rad: float) -> float:
    """The uv distance (wavelengths) a baseline may travel while WSClean averages its visibilities.

    Averaging over a uv track of length d scales a source at offset l by sinc(pi d l) ~ 1 - (pi d l)^2 / 6,
    so a source at the image edge loses at most ``max_loss`` of its amplitude. Short baselines move slowly
    in uv and are averaged over many integrations; the longest are not averaged at all.
    """
    return math.sqrt(6 * max_loss) / (math.pi * edge_offset_rad)


def choose_imager(requested: str) -> str:
    """The imager to use: ``auto`` means WSClean when it is on PATH, else tclean."""
    if requested == "auto":
        return "wsclean" if shutil.which("wsclean") else "tclean"
    if requested == "wsclean" and not shutil.which("wsclean"):
        raise ImagingError("imager 'wsclean' is configured but no wsclean is on PATH (install Debian's wsclean, or "
                           "set image.imager to tclean or auto)")
    return requested


def run_imager(ms_path: str, work_dir: str | Path, *, size_px: int, cell_arcsec: float, settings: ImagingSettings,
               threads: int = 1, mem_gb: float = 4.0, log_path: str | None = None) -> dict[str, str]:
    """Image ``ms_path``; returns the FITS path of each product in ``PRODUCTS`` (inside ``work_dir``)."""
    imager = choose_imager(settings.imager)
    ms_path = os.path.abspath(ms_path)
    work_dir = Path(work_dir).resolve()  # the imager runs inside it
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    prefix = str(work_dir / "img")
    if imager == "wsclean":
        cmd = ["wsclean", "-name", prefix, "-size", str(size_px), str(size_px), "-scale", f"{cell_arcsec}asec",
               "-pol", "I", "-weight", "briggs", str(settings.robust), "-niter", str(settings.niter),
               "-mgain", str(settings.mgain), "-auto-threshold", str(settings.auto_threshold_sigma),
               "-auto-mask", str(settings.auto_mask_sigma), "-use-wgridder", "-wgridder-accuracy",
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
                   "settings": asdict(settings), "casa_log": log_path}
        cmd = [sys.executable, "-m", "dsa110_continuum.image.tclean", json.dumps(request)]
        files = {p: f"{prefix}.{p}.fits" for p in PRODUCTS}
    with open(log_path or os.devnull, "a") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=work_dir)
    missing = [p for p, f in files.items() if not os.path.exists(f)]
    if done.returncode != 0 or missing:
        raise ImagingError(f"{ms_path}: {imager} failed (exit {done.returncode}; missing {', '.join(missing) or 'nothing'})"
                           f"; see {log_path}")
    return files
