"""The science products of one image or mosaic: its source catalogue, its cross-match with the reference
catalogue and (for an image) forced photometry at the reference positions."""

from __future__ import annotations

import numpy as np
from astropy.wcs import WCS

from ..image.measure import forced_fluxes
from ..image.products import read_plane
from ..records import write_csv_atomic, write_json_atomic
from .crossmatch import crossmatch
from .noise import local_rms_map
from .photometry import COLUMNS as PHOTOMETRY_COLUMNS
from .photometry import forced_photometry
from .reference import Reference
from .sources import find_sources, read_sources


def _sampler(plane: np.ndarray, header):
    """A function giving the plane's values at sky positions (NaN off the plane)."""
    wcs = WCS(header).celestial

    def at(ra_deg, dec_deg):
        x, y = wcs.world_to_pixel_values(ra_deg, dec_deg)
        xi, yi = np.round(np.atleast_1d(x)).astype(int), np.round(np.atleast_1d(y)).astype(int)
        inside = (xi >= 0) & (yi >= 0) & (xi < plane.shape[1]) & (yi < plane.shape[0])
        values = np.full(xi.shape, np.nan)
        values[inside] = plane[yi[inside], xi[inside]]
        return values

    return at


def measure(image: np.ndarray, image_path: str, noise: np.ndarray, header, outputs: dict, *,
            reference: Reference | None, freq_hz: float, settings: dict) -> dict:
    """Catalogue the (PB-corrected) image against its noise map and cross-match it; returns the cross-match.

    The cross-match's fluxes are the restoring beam's peak fitted where PyBDSF found each source (as in forced
    photometry), not PyBDSF's free Gaussians: those come out a few percent wider than the beam, so their
    integrated fluxes read high (a flux ratio of 0.93-0.94 where the truth is 0.909 in the science test mosaics)
    and their peaks low (0.88); the beam fitted at the same positions reads 0.907-0.913.
    """
    n_sources = find_sources(image_path, noise, outputs["sources"], freq_hz=freq_hz, **settings["source_finding"])
    if reference is None:
        record = {"n_sources": n_sources, "verdict": "no reference catalogue", "reasons": []}
    else:
        noise_at = _sampler(noise, header)
        sources = read_sources(outputs["sources"])
        flux_jy, flux_err_jy = forced_fluxes(image, header, sources["ra_deg"], sources["dec_deg"],
                                             rms_jy=noise_at(sources["ra_deg"], sources["dec_deg"]),
                                             cluster_beams=settings["photometry_cluster_beams"])
        record = crossmatch({**sources, "flux_jy": flux_jy, "flux_err_jy": flux_err_jy}, reference,
                            in_footprint=lambda ra, dec: np.isfinite(noise_at(ra, dec)), local_rms_jy=noise_at,
                            radius_arcsec=settings["match_radius_arcsec"], detection_sigma=settings["detection_sigma"],
                            thresholds=settings["validation"])
        record["reference"] = reference.path
    write_json_atomic(outputs["crossmatch"], record)
    return record


def measure_image(image_paths: dict, qa: dict, outputs: dict, *, reference: Reference | None,
                  settings: dict) -> dict:
    """Sources, cross-match and forced photometry of one observation's image (``image_paths``: its pbcor, pb
    and residual FITS), against the residual's local rms divided by the primary beam."""
    pbcor, header = read_plane(image_paths["pbcor"])
    pb, _ = read_plane(image_paths["pb"])
    residual, _ = read_plane(image_paths["residual"])
    inside = pb >= qa["pb_cutoff"]
    local_rms = local_rms_map(residual, header, box_beams=settings["noise_box_beams"])
    noise = np.where(inside, local_rms / np.where(inside, pb, 1), np.nan)
    record = measure(pbcor, image_paths["pbcor"], noise, header, outputs, reference=reference, freq_hz=qa["freq_hz"],
                     settings=settings)
    rows = [] if reference is None else forced_photometry(pbcor, pb, noise, header, reference,
                                                          pb_cutoff=qa["pb_cutoff"],
                                                          cluster_beams=settings["photometry_cluster_beams"])
    write_csv_atomic(outputs["photometry"], PHOTOMETRY_COLUMNS, rows)
    return {**record, "n_photometry": len(rows)}


def measure_mosaic(mosaic_path: str, noise_path: str, qa: dict, outputs: dict, *, reference: Reference | None,
                   settings: dict) -> dict:
    """Sources and cross-match of one mosaic, against its noise map."""
    mosaic, header = read_plane(mosaic_path)
    noise, _ = read_plane(noise_path)
    return measure(mosaic, mosaic_path, noise, header, outputs, reference=reference,
                   freq_hz=header.get("FREQ", 1.4e9), settings=settings)
