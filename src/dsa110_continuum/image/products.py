"""The image products of one observation: FITS files with the headers users need, the drift primary beam,
the primary-beam-corrected image, QA figures and a quick-look PNG."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS, FITSFixedWarning
from scipy.interpolate import make_interp_spline

from .. import instrument as inst
from ..records import atomic_output, save_figure
from ..sky.beam import drift_beam

#: Samples per axis of maps smooth on degree scales (the drift beam, a mosaic's pixel mapping); cubic spline between.
SMOOTH_MAP_SAMPLES_PER_AXIS = 64
QUICKLOOK_PIXELS = 600
OBSGEO_AXES = "XYZLBH"


@dataclass(frozen=True)
class Observation:
    """What the products' headers and the primary beam need to know about the observation imaged."""

    group_id: str
    pointing_dec_deg: float  # apparent, as the correlator fringe-stops
    phase_centre_ra_deg: float
    phase_centre_dec_deg: float
    times_mjd: np.ndarray
    time_weights: np.ndarray
    freqs_hz: np.ndarray
    freq_weights: np.ndarray
    flagged_fraction: float

    def beam_record(self) -> dict:
        """What ``primary_beam_image`` needs, for the image's QA record (mosaics recompute the beam from it)."""
        return {"pointing_dec_deg": self.pointing_dec_deg, "times_mjd": self.times_mjd.tolist(),
                "time_weights": self.time_weights.tolist(), "freqs_hz": self.freqs_hz.tolist(),
                "freq_weights": self.freq_weights.tolist()}

    @classmethod
    def from_beam_record(cls, group_id: str, record: dict) -> "Observation":
        return cls(group_id, record["pointing_dec_deg"], float("nan"), float("nan"),
                   *(np.asarray(record[k]) for k in ("times_mjd", "time_weights", "freqs_hz", "freq_weights")),
                   float("nan"))


def read_plane(path: str | Path) -> tuple[np.ndarray, fits.Header]:
    """The 2D image plane of an imager's FITS file (degenerate frequency/Stokes axes dropped) and its header."""
    with fits.open(path) as hdul:
        header = hdul[0].header
        data = np.asarray(hdul[0].data, dtype=np.float32)
    return data.reshape(data.shape[-2:]), header


def product_header(imager_header: fits.Header, observation: Observation, *, imager: str, bunit: str) -> fits.Header:
    """A 2D celestial header with the restoring beam, frequency, mid-time and pointing of the observation."""
    imager_header = imager_header.copy()
    # Ours replace the imager's time stamps and site (CASA puts the site ~1.2 km from the Earth's centre)
    for key in ("DATE-OBS", "MJD-OBS", *(f"OBSGEO-{axis}" for axis in OBSGEO_AXES)):
        imager_header.remove(key, ignore_missing=True)
    header = WCS(imager_header).celestial.to_header()
    header["CRVAL1"] %= 360  # WSClean writes RA in (-180, 180]
    freq_hz = next((imager_header[f"CRVAL{i}"] for i in range(3, 5) if imager_header.get(f"CTYPE{i}") == "FREQ"),
                   float(np.average(observation.freqs_hz, weights=observation.freq_weights)))
    start, end = observation.times_mjd.min(), observation.times_mjd.max()
    mid = Time(0.5 * (start + end), format="mjd", scale="utc")
    for key in ("BMAJ", "BMIN", "BPA"):
        if key in imager_header:
            header[key] = imager_header[key]
    header.update(
        BUNIT=(bunit, "units of the pixel values"),
        RESTFRQ=(freq_hz, "[Hz] multi-frequency-synthesis frequency"),
        FREQ=(freq_hz, "[Hz] multi-frequency-synthesis frequency"),
        BANDWID=(float(observation.freqs_hz.max() - observation.freqs_hz.min()), "[Hz] band imaged"),
    )
    header["DATE-OBS"] = (mid.isot, "mid-time of the observation (UTC)")
    header["MJD-OBS"] = (mid.mjd, "[d] mid-time of the observation (UTC)")
    header["DATE-BEG"] = (Time(start, format="mjd").isot, "first integration")
    header["DATE-END"] = (Time(end, format="mjd").isot, "last integration")
    header["OBSRA"] = (observation.phase_centre_ra_deg, "[deg] phase centre RA (ICRS)")
    header["OBSDEC"] = (observation.phase_centre_dec_deg, "[deg] phase centre Dec (ICRS)")
    header["PNTDEC"] = (observation.pointing_dec_deg, "[deg] apparent declination the dishes point at")
    set_observatory(header)
    header["OBJECT"] = observation.group_id
    header["ORIGIN"] = f"dsa110_continuum ({imager})"
    return header


@functools.cache
def observatory_position() -> tuple[float, ...]:
    """The array's reference position as FITS's OBSGEO-X/Y/Z (geocentric ITRS, m) and the OBSGEO-L/B/H (deg, deg,
    m) wcslib derives from them on its own ellipsoid, so that astropy reads our headers back unchanged."""
    wcs = WCS(naxis=2)
    wcs.wcs.obsgeo = [*(float(v.to_value("m")) for v in inst.site_location().to_geocentric()), np.nan, np.nan, np.nan]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs.fix()
    return tuple(float(v) for v in wcs.wcs.obsgeo)


def set_observatory(header: fits.Header) -> None:
    """Name the telescope and give its reference position."""
    header["TELESCOP"] = "DSA-110"
    for axis, unit, value in zip(OBSGEO_AXES, ("m", "m", "m", "deg", "deg", "m"), observatory_position()):
        header[f"OBSGEO-{axis}"] = (value, f"[{unit}] array reference position")


def write_fits(path: str | Path, data: np.ndarray, header: fits.Header) -> None:
    """Write a FITS image atomically (temporary name, then rename): integers as 16-bit, anything else as 32-bit
    floats. It writes a big-endian copy, so other threads may read ``data`` meanwhile (astropy byteswaps the
    array it is given in place while writing)."""
    with atomic_output(path) as tmp:
        big_endian = data.astype(">i2" if np.issubdtype(data.dtype, np.integer) else ">f4")
        fits.PrimaryHDU(data=big_endian, header=header).writeto(tmp, overwrite=True)


def sample_points(n: int) -> np.ndarray:
    """About ``SMOOTH_MAP_SAMPLES_PER_AXIS`` evenly spaced pixel indices of an axis of ``n`` pixels, ends included:
    enough for a cubic spline through them to give the drift beam of a 3.5-deg image within 1e-6."""
    step = max(1, -(-n // SMOOTH_MAP_SAMPLES_PER_AXIS))
    return np.unique(np.append(np.arange(0, n, step), n - 1))


def spline_weights(samples: np.ndarray, n: int) -> np.ndarray:
    """The (n, samples) matrix that interpolates values at pixel indices ``samples`` onto all ``n`` pixels of an
    axis with a cubic spline; ``wy @ coarse @ wx.T`` interpolates a smoothly varying 2-D map in two products."""
    if samples.size == 1:
        return np.ones((n, 1), dtype=np.float32)
    spline = make_interp_spline(samples, np.eye(samples.size), k=min(3, samples.size - 1))
    weights = spline(np.arange(n))
    weights[np.abs(weights) < 1e-9] = 0  # they decay ~4x per sample: spare float32 products of denormals
    return weights.astype(np.float32)


def coarse_primary_beam(wcs: WCS, rows: np.ndarray, cols: np.ndarray, observation: Observation) -> np.ndarray:
    """The drift-averaged primary beam at the pixels ``rows`` x ``cols`` of a grid."""
    ra, dec = wcs.pixel_to_world_values(*np.meshgrid(cols, rows))
    return drift_beam(ra, dec, observation.pointing_dec_deg, observation.times_mjd, observation.freqs_hz,
                      time_weights=observation.time_weights, freq_weights=observation.freq_weights).astype(np.float32)


def primary_beam_image(header: fits.Header, shape: tuple[int, int], observation: Observation) -> np.ndarray:
    """The drift-averaged primary beam on an image's pixel grid (sampled coarsely, interpolated cubically)."""
    rows, cols = sample_points(shape[0]), sample_points(shape[1])
    coarse = coarse_primary_beam(WCS(header).celestial, rows, cols, observation)
    return spline_weights(rows, shape[0]) @ coarse @ spline_weights(cols, shape[1]).T


def restoring_beam_gaussians(header: fits.Header, shape: tuple[int, int], sources) -> tuple[np.ndarray, list[bool]]:
    """Point sources, (ra_deg, dec_deg, Jy/beam) each, drawn as the header's restoring beam (BMAJ, BMIN, BPA east
    of north) at their positions on the image grid, out to 3 BMAJ, and which of them are on the grid (the others
    are left out).

    Hand-written for sub-pixel positions (radio-beam's kernels are centred on a pixel).
    """
    wcs = WCS(header).celestial
    scale_deg = wcs.pixel_scale_matrix  # pixel offsets -> (east, north) in deg on the tangent plane
    major, minor, pa = header["BMAJ"], header["BMIN"], np.deg2rad(header["BPA"])
    reach = int(np.ceil(3 * major / np.abs(scale_deg).max()))
    drawn, on_grid = np.zeros(shape, dtype=np.float32), []
    for ra_deg, dec_deg, peak in sources:
        x0, y0 = (float(v) for v in wcs.world_to_pixel_values(ra_deg, dec_deg))
        on_grid.append(-0.5 <= x0 < shape[1] - 0.5 and -0.5 <= y0 < shape[0] - 0.5)
        if not on_grid[-1]:
            continue
        rows = slice(max(0, round(y0) - reach), min(shape[0], round(y0) + reach + 1))
        cols = slice(max(0, round(x0) - reach), min(shape[1], round(x0) + reach + 1))
        y, x = np.mgrid[rows, cols]
        east, north = np.tensordot(scale_deg, np.stack([x - x0, y - y0]), axes=1)
        along, across = east * np.sin(pa) + north * np.cos(pa), east * np.cos(pa) - north * np.sin(pa)
        drawn[rows, cols] += peak * np.exp(-4 * np.log(2) * ((along / major) ** 2 + (across / minor) ** 2))
    return drawn, on_grid


def robust_rms(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation of the finite values (the rms for Gaussian noise)."""
    finite = values[np.isfinite(values)]
    return float(1.4826 * np.median(np.abs(finite - np.median(finite)))) if finite.size else float("nan")


def image_qa(image: np.ndarray, residual: np.ndarray, pb: np.ndarray, header: fits.Header, *, pb_cutoff: float,
             flagged_fraction: float, thresholds: dict) -> dict:
    """Figures and verdict of one image: rms (MAD of the residual inside the cutoff), peak, dynamic range,
    restoring beam, flagged and blanked fractions; failed when a figure passes its threshold."""
    inside = pb >= pb_cutoff
    rms = robust_rms(residual[inside])
    peak = float(np.nanmax(image[inside])) if inside.any() else float("nan")
    beam_arcsec = [header.get(k, float("nan")) * 3600 for k in ("BMAJ", "BMIN")]
    qa = {"rms_jy": rms, "peak_jy": peak, "dynamic_range": peak / rms if rms > 0 else float("nan"),
          "beam_major_arcsec": beam_arcsec[0], "beam_minor_arcsec": beam_arcsec[1], "beam_pa_deg": header.get("BPA"),
          "flagged_fraction": flagged_fraction, "blanked_fraction": float(1 - inside.mean())}
    reasons = []
    if not np.isfinite(rms) or rms > thresholds["max_rms_jy"]:
        reasons.append(f"rms {rms * 1e3:.1f} mJy/beam above {thresholds['max_rms_jy'] * 1e3:.1f}")
    if flagged_fraction > thresholds["max_flagged_fraction"]:
        reasons.append(f"{flagged_fraction:.0%} of the data flagged (limit {thresholds['max_flagged_fraction']:.0%})")
    if not beam_arcsec[0] <= thresholds["max_beam_arcsec"]:
        reasons.append(f"restoring beam {beam_arcsec[0]:.0f} arcsec (limit {thresholds['max_beam_arcsec']:.0f})")
    if not qa["dynamic_range"] >= thresholds["min_dynamic_range"]:
        reasons.append(f"dynamic range {qa['dynamic_range']:.1f} below {thresholds['min_dynamic_range']}")
    return {**qa, "passed": not reasons, "reasons": reasons}


def write_quicklook(path: str | Path, image: np.ndarray, header: fits.Header, *, rms_jy: float, title: str,
                    pb: np.ndarray | None = None, pb_cutoff: float | None = None) -> None:
    """A PNG of an image on its sky grid: asinh stretch from -3 to 30 rms, the primary-beam cutoff contour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import AsinhNorm

    step = max(1, max(image.shape) // QUICKLOOK_PIXELS)  # a PNG needs no more pixels than it shows
    fig = plt.figure(figsize=(7, 6.2), dpi=100)
    ax = fig.add_subplot(projection=WCS(header).celestial[::step, ::step])
    shown = ax.imshow(image[::step, ::step], origin="lower", cmap="inferno",
                      norm=AsinhNorm(linear_width=max(rms_jy, 1e-9), vmin=-3 * rms_jy, vmax=30 * rms_jy))
    if pb is not None:
        ax.contour(pb[::step, ::step], levels=[pb_cutoff], colors="cyan", linewidths=0.6)
    ax.set_xlabel("RA (ICRS)")
    ax.set_ylabel("Dec (ICRS)")
    ax.set_title(title, fontsize=9)
    fig.colorbar(shown, ax=ax, label=header.get("BUNIT", ""))
    save_figure(fig, path)
