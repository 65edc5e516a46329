"""Image one calibrated observation: grid from its longest baseline, imager, drift-beam correction, QA.

Runs in python-casacore processes (tclean, when chosen, runs in a process of its own).
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass

import numpy as np

from .. import instrument as inst
from ..records import InputError, partial_path
from ..sky.beam import beam_along_track
from ..sky.catalogue import Calibrator
from .imagers import CleanMask, ImagingSettings, choose_imager, run_imager
from .products import (Observation, image_qa, primary_beam_image, product_header, read_plane,
                       restoring_beam_gaussians, write_fits, write_quicklook)


class NothingToImageError(InputError):
    """An observation with no unflagged cross-correlations."""


@dataclass(frozen=True)
class ImageGrid:
    size_px: int
    cell_arcsec: float


def image_grid(max_baseline_m: float, max_freq_hz: float, *, fov_deg: float, pixels_per_beam: float) -> ImageGrid:
    """Pixels small enough that the synthesised beam spans at least ``pixels_per_beam`` of them, enough of
    them (an even number) to span ``fov_deg``.

    No beam is narrower than the central lobe of the finest fringe (longest baseline, top of the band),
    whose half-power width is half the fringe spacing, lambda / (2 B). Sampling the beam any coarser
    loses peak flux: at 2.8 pixels across, a point source between pixels restores ~8 % low.
    """
    narrowest_beam_arcsec = math.degrees(inst.SPEED_OF_LIGHT_M_S / max_freq_hz / (2 * max_baseline_m)) * 3600
    cell = math.floor(100 * narrowest_beam_arcsec / pixels_per_beam) / 100
    size = 2 * math.ceil(fov_deg * 3600 / cell / 2)
    return ImageGrid(size, cell)


def read_observation(ms_path: str, *, group_id: str, pointing_dec_deg: float) -> tuple[Observation, float]:
    """What the products need from the MS (weights from the unflagged cross-correlations), and the longest
    unflagged baseline in metres."""
    from casacore import tables

    with tables.table(ms_path, ack=False) as ms:
        ant_1, ant_2, flags = ms.getcol("ANTENNA1"), ms.getcol("ANTENNA2"), ms.getcol("FLAG")
        times_s, uvw = ms.getcol("TIME"), ms.getcol("UVW")
    with tables.table(f"{ms_path}/SPECTRAL_WINDOW", ack=False) as spw:
        freqs_hz = spw.getcol("CHAN_FREQ")[0]
    with tables.table(f"{ms_path}/FIELD", ack=False) as field:
        ra_rad, dec_rad = field.getcol("PHASE_DIR")[0, 0]
    cross = ant_1 != ant_2
    good = ~flags[cross]  # (row, chan, pol)
    if not good.any():
        raise NothingToImageError(f"{ms_path}: every cross-correlation is flagged; nothing to image")
    unique_times, time_index = np.unique(times_s[cross], return_inverse=True)
    time_weights = np.bincount(time_index, weights=good.sum(axis=(1, 2)), minlength=unique_times.size)
    max_baseline_m = float(np.linalg.norm(uvw[cross][good.any(axis=(1, 2))], axis=1).max())
    observation = Observation(
        group_id=group_id, pointing_dec_deg=pointing_dec_deg, phase_centre_ra_deg=float(np.rad2deg(ra_rad) % 360),
        phase_centre_dec_deg=float(np.rad2deg(dec_rad)), times_mjd=unique_times / 86400.0, time_weights=time_weights,
        freqs_hz=freqs_hz, freq_weights=good.sum(axis=(0, 2)).astype(float), flagged_fraction=float(1 - good.mean()))
    return observation, max_baseline_m


def brightness_in_image_jy(source: Calibrator, observation: Observation) -> float:
    """A source's brightness in the image (Jy/beam): its spectrum through the beam it drifted through, averaged over
    the integrations and channels as the imager weights them (as ``primary_beam_image`` averages the beam)."""
    power = beam_along_track(source.ra_deg, source.dec_deg, observation.pointing_dec_deg, observation.times_mjd,
                             observation.freqs_hz)
    per_channel = np.average(power, axis=0, weights=observation.time_weights) * source.flux_at(observation.freqs_hz)
    return float(np.average(per_channel, weights=observation.freq_weights))


def image_observation(ms_path: str, outputs: dict[str, str], *, group_id: str, pointing_dec_deg: float,
                      settings: ImagingSettings, fov_deg: float, pixels_per_beam: float, pb_cutoff: float,
                      qa_thresholds: dict, subtracted: list[dict] = (), known_sources=None,
                      clean_mask_radius_beams: float = 0.5, threads: int = 1, mem_gb: float = 4.0,
                      log_path: str | None = None) -> dict:
    """Write the products named in ``outputs`` (image, pbcor, pb, residual, optionally psf and model, quicklook)
    and return the image's QA record.

    ``known_sources`` (RA and Dec arrays, deg) are where CLEAN may work: discs of ``clean_mask_radius_beams``
    narrowest synthesised beams (``pixels_per_beam`` cells) around each. Without them the imager grows its own mask.

    ``subtracted`` are the calibrated record's bright sources, subtracted from the data: those on the image are
    restored into it (and so into the PB-corrected image) as the restoring beam at their model brightness.
    """
    observation, max_baseline_m = read_observation(ms_path, group_id=group_id, pointing_dec_deg=pointing_dec_deg)
    grid = image_grid(max_baseline_m, observation.freqs_hz.max(), fov_deg=fov_deg, pixels_per_beam=pixels_per_beam)
    imager = choose_imager(settings.imager)
    work_dir = partial_path(outputs["image"], ".work")
    mask = None if known_sources is None else CleanMask(
        *(np.atleast_1d(np.asarray(v, float)) for v in known_sources),
        radius_arcsec=clean_mask_radius_beams * pixels_per_beam * grid.cell_arcsec,
        centre_deg=(observation.phase_centre_ra_deg, observation.phase_centre_dec_deg),
    ).on_grid(grid.size_px, grid.cell_arcsec)
    files = run_imager(ms_path, work_dir, size_px=grid.size_px, cell_arcsec=grid.cell_arcsec, settings=settings,
                       threads=threads, mem_gb=mem_gb, log_path=log_path, clean_mask=mask)
    planes = {product: read_plane(path) for product, path in files.items()}
    image, imager_header = planes["image"]
    header = product_header(imager_header, observation, imager=imager, bunit="Jy/beam")
    sources = [Calibrator(**s["calibrator"]) for s in subtracted]
    brightness = [(s.ra_deg, s.dec_deg, brightness_in_image_jy(s, observation)) for s in sources]
    drawn, on_grid = restoring_beam_gaussians(header, image.shape, brightness)
    image = image + drawn
    restored = [{"name": s.name, "ra_deg": s.ra_deg, "dec_deg": s.dec_deg, "apparent_flux_jy": b[2]}
                for s, b, on in zip(sources, brightness, on_grid) if on]
    pb = primary_beam_image(header, image.shape, observation)
    inside = pb >= pb_cutoff
    pbcor = np.where(inside, image / np.where(inside, pb, 1), np.nan)
    written = {"image": image, "pbcor": pbcor, "pb": pb, "residual": planes["residual"][0],
               "psf": planes["psf"][0], "model": planes["model"][0]}
    units = {"pb": "", "model": "Jy/pixel"}
    for product, path in outputs.items():
        if product in written:
            fits_header = product_header(imager_header, observation, imager=imager, bunit=units.get(product, "Jy/beam"))
            for source in restored if product in ("image", "pbcor") else ():
                fits_header.add_history(f"{source['name']}: subtracted from the data, restored as the restoring beam")
            write_fits(path, written[product], fits_header)
    qa = image_qa(image, planes["residual"][0], pb, header, pb_cutoff=pb_cutoff,
                  flagged_fraction=observation.flagged_fraction, thresholds=qa_thresholds)
    write_quicklook(outputs["quicklook"], image, header, rms_jy=qa["rms_jy"], pb=pb, pb_cutoff=pb_cutoff,
                    title=f"{group_id} ({imager}): rms {qa['rms_jy'] * 1e3:.1f} mJy/beam, beam "
                          f"{qa['beam_major_arcsec']:.0f}\" x {qa['beam_minor_arcsec']:.0f}\", primary beam {pb_cutoff} "
                          f"contour\n{'QA passed' if qa['passed'] else 'QA FAILED: ' + '; '.join(qa['reasons'])}")
    shutil.rmtree(work_dir, ignore_errors=True)
    return {"group_id": group_id, "imager": imager, "size_px": grid.size_px, "cell_arcsec": grid.cell_arcsec,
            "freq_hz": header["FREQ"], "mid_mjd": header["MJD-OBS"], "pointing_dec_deg": pointing_dec_deg,
            "phase_centre_ra_deg": observation.phase_centre_ra_deg,
            "phase_centre_dec_deg": observation.phase_centre_dec_deg, "pb_cutoff": pb_cutoff, **qa,
            "clean_mask_sources": None if mask is None else len(mask.ra_deg),
            "restored_sources": restored,
            "beam_model": observation.beam_record()}
