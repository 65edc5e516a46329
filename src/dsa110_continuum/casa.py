"""Offline CASA (casatools/casatasks) helpers. Never import python-casacore alongside this module.

Run as ``python -m dsa110_continuum.casa summary MS`` or ``... dirty-peak MS`` to get JSON from a
separate process, which is how code that also uses python-casacore talks to CASA.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import resources
from pathlib import Path

import numpy as np


def site_config_path() -> str:
    return str(resources.files("dsa110_continuum") / "data" / "casasiteconfig.py")


def use_offline_casa() -> None:
    """Point CASA at the casadata wheel with auto-updates off; call before importing casatools."""
    if "casatools" in sys.modules and os.environ.get("CASASITECONFIG") != site_config_path():
        raise RuntimeError("casatools was imported before use_offline_casa(); CASA may try the network")
    os.environ["CASASITECONFIG"] = site_config_path()


def casa_tools():
    """The casatools module, imported with the offline site configuration."""
    import casatools

    return casatools


# Importing this module prepares CASA: whatever imports casatools or casatasks after it stays offline.
use_offline_casa()


def ms_summary(ms_path: str) -> dict:
    """What a user checks first in an MS: channels, band, phase centre, antennas, times, telescope."""
    ct = casa_tools()
    tb = ct.table()
    summary = {}
    tb.open(f"{ms_path}/SPECTRAL_WINDOW")
    freqs = tb.getcol("CHAN_FREQ")[:, 0]
    summary.update(n_spw=tb.nrows(), n_channels=int(freqs.size), freqs_hz=freqs.tolist(),
                   channel_width_hz=float(tb.getcol("CHAN_WIDTH")[0, 0]))
    tb.close()
    tb.open(f"{ms_path}/FIELD")
    phase_dir = tb.getcol("PHASE_DIR")[:, 0, 0]
    frame = tb.getcolkeyword("PHASE_DIR", "MEASINFO").get("Ref", "")
    summary.update(phase_centre_ra_deg=float(np.rad2deg(phase_dir[0]) % 360.0),
                   phase_centre_dec_deg=float(np.rad2deg(phase_dir[1])), phase_centre_frame=frame,
                   field_names=list(tb.getcol("NAME")))
    tb.close()
    tb.open(f"{ms_path}/ANTENNA")
    summary.update(antenna_names=list(tb.getcol("NAME")), antenna_diameters_m=tb.getcol("DISH_DIAMETER").tolist(),
                   antenna_mounts=list(tb.getcol("MOUNT")), antenna_positions_m=tb.getcol("POSITION").T.tolist())
    tb.close()
    tb.open(f"{ms_path}/OBSERVATION")
    summary["telescope_name"] = str(tb.getcol("TELESCOPE_NAME")[0])
    tb.close()
    tb.open(ms_path)
    ant1, ant2 = tb.getcol("ANTENNA1"), tb.getcol("ANTENNA2")
    flags = tb.getcol("FLAG")
    autos = ant1 == ant2
    summary.update(
        n_rows=tb.nrows(),
        times_mjd_s=np.unique(tb.getcol("TIME")).tolist(),
        antennas_in_data=sorted(set(ant1.tolist()) | set(ant2.tolist())),
        autocorrelations_flagged=bool(flags[:, :, autos].all()) if autos.any() else True,
        cross_flagged_fraction=float(flags[:, :, ~autos].mean()),
        data_columns=[c for c in tb.colnames() if c.endswith("DATA")],
    )
    tb.close()
    me = ct.measures()
    summary["telescope_known_to_casa"] = bool(me.observatory(summary["telescope_name"]))
    return summary


def dirty_image_peak(ms_path: str, image_prefix: str, *, imsize: int = 256, cell_arcsec: float = 20.0) -> dict:
    """Make a natural-weighted dirty image with tclean and return its brightest pixel's ICRS position."""
    casa_tools()
    from casatasks import tclean

    tclean(vis=ms_path, imagename=image_prefix, imsize=imsize, cell=f"{cell_arcsec}arcsec", niter=0,
           specmode="mfs", gridder="standard", weighting="natural", pblimit=-1.0)
    return image_peak(f"{image_prefix}.image")


def image_peak(image_path: str) -> dict:
    """Position (deg) and value of an image's maximum pixel."""
    ct = casa_tools()
    ia = ct.image()
    ia.open(image_path)
    try:
        stats = ia.statistics()
        pixel = stats["maxpos"]
        world = ia.coordsys().toworld(pixel, "n")["numeric"]
        unit = ia.coordsys().units()
    finally:
        ia.close()
    to_deg = {"rad": np.rad2deg(1.0), "deg": 1.0, "arcsec": 1 / 3600.0, "arcmin": 1 / 60.0}
    return {"ra_deg": float(world[0] * to_deg[unit[0]] % 360.0), "dec_deg": float(world[1] * to_deg[unit[1]]),
            "peak": float(stats["max"][0]), "rms": float(stats["rms"][0]), "pixel": [int(p) for p in pixel]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dsa110_continuum.casa", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("summary", help="JSON summary of a Measurement Set")
    p.add_argument("ms")
    p = sub.add_parser("dirty-peak", help="dirty image with tclean; JSON of its peak")
    p.add_argument("ms")
    p.add_argument("--image-prefix", required=True)
    p.add_argument("--imsize", type=int, default=256)
    p.add_argument("--cell-arcsec", type=float, default=20.0)
    args = parser.parse_args(argv)
    if args.command == "summary":
        result = ms_summary(args.ms)
    else:
        result = dirty_image_peak(args.ms, args.image_prefix, imsize=args.imsize, cell_arcsec=args.cell_arcsec)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
