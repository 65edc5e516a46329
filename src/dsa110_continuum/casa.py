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


def route_casa_log(path: str | None = None) -> None:
    """Keep CASA's logger off the terminal (its stale leap-second table notice is printed as SEVERE
    otherwise); with ``path``, CASA's messages go to that file, e.g. the job's log."""
    from casatasks import casalog

    casalog.showconsole(False)
    if path:
        casalog.setlogfile(path)


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
    tb.open(f"{ms_path}/PROCESSOR")
    summary["processor_types"] = list(tb.getcol("TYPE")) if tb.nrows() else []
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
        processor_ids=np.unique(tb.getcol("PROCESSOR_ID")).tolist(),
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
    p = sub.add_parser("solutions", help="bandpass x gain solutions per antenna")
    p.add_argument("bandpass_table")
    p.add_argument("gain_table")
    p = sub.add_parser("towards", help="visibilities rotated to a direction, averaged over time")
    p.add_argument("ms")
    p.add_argument("--ra-deg", type=float, required=True)
    p.add_argument("--dec-deg", type=float, required=True)
    p.add_argument("--work-dir", required=True)
    p = sub.add_parser("applycal", help="CASA applycal in place (bandpass nearest, gains linear); for cross-checks")
    p.add_argument("ms")
    p.add_argument("bandpass_table")
    p.add_argument("gain_table")
    p = sub.add_parser("flag", help="CASA flagdata in place (tfcrop or rflag on DATA)")
    p.add_argument("ms")
    p.add_argument("--mode", choices=["tfcrop", "rflag"], required=True)
    p = sub.add_parser("average", help="CASA mstransform: adjacent channels averaged into a new MS")
    p.add_argument("ms")
    p.add_argument("out")
    p.add_argument("--channels", type=int, required=True)
    p = sub.add_parser("dirty-peak", help="dirty image with tclean; JSON of its peak")
    p.add_argument("ms")
    p.add_argument("--image-prefix", required=True)
    p.add_argument("--imsize", type=int, default=256)
    p.add_argument("--cell-arcsec", type=float, default=20.0)
    args = parser.parse_args(argv)
    route_casa_log()
    if args.command == "summary":
        result = ms_summary(args.ms)
    elif args.command == "solutions":
        result = calibration_solutions(args.bandpass_table, args.gain_table)
    elif args.command == "applycal":
        from casatasks import applycal

        applycal(vis=args.ms, gaintable=[args.bandpass_table, args.gain_table], interp=["nearest", "linear"],
                 calwt=False, flagbackup=False)
        result = {"ms": args.ms}
    elif args.command == "flag":
        from casatasks import flagdata

        flagdata(vis=args.ms, mode=args.mode, datacolumn="data", flagbackup=False)
        result = {"ms": args.ms, "mode": args.mode}
    elif args.command == "average":
        from casatasks import mstransform

        mstransform(vis=args.ms, outputvis=args.out, datacolumn="data", chanaverage=True, chanbin=args.channels)
        result = {"ms": args.out, "channels_averaged": args.channels}
    elif args.command == "towards":
        result = visibilities_towards(args.ms, args.ra_deg, args.dec_deg, args.work_dir)
    else:
        result = dirty_image_peak(args.ms, args.image_prefix, imsize=args.imsize, cell_arcsec=args.cell_arcsec)
    json.dump(result, sys.stdout)



def calibration_solutions(bandpass_table: str, gain_table: str) -> dict:
    """Combined bandpass x phase-gain solutions per antenna (CASA's convention), for checks against the truth."""
    ct = casa_tools()
    tb = ct.table()
    tb.open(bandpass_table)
    bandpass, antennas, flags = tb.getcol("CPARAM"), tb.getcol("ANTENNA1"), tb.getcol("FLAG")
    tb.close()
    tb.open(gain_table)
    gains, gain_antennas = tb.getcol("CPARAM"), tb.getcol("ANTENNA1")
    tb.close()
    gain_by_antenna = {int(a): gains[:, 0, i] for i, a in enumerate(gain_antennas)}
    combined = np.stack([bandpass[:, :, i] * gain_by_antenna[int(a)][:, None] for i, a in enumerate(antennas)])
    return {"antennas": antennas.tolist(), "real": combined.real.tolist(), "imag": combined.imag.tolist(),
            "flagged": flags.transpose(2, 0, 1).tolist()}


def visibilities_towards(ms_path: str, ra_deg: float, dec_deg: float, work_dir: str) -> dict:
    """Cross-correlations rotated to (ra, dec) with CASA's phaseshift, averaged over time and polarisation.

    Returns per-baseline-per-channel mean visibilities (real, imag) and the channel frequencies.
    """
    import shutil

    from casatasks import phaseshift

    shifted = f"{work_dir}/towards.ms"
    shutil.rmtree(shifted, ignore_errors=True)
    phaseshift(vis=ms_path, outputvis=shifted, datacolumn="data", phasecenter=f"ICRS {ra_deg:.8f}deg {dec_deg:.8f}deg")
    tb = casa_tools().table()
    tb.open(shifted)
    data, flags = tb.getcol("DATA"), tb.getcol("FLAG")
    ant1, ant2 = tb.getcol("ANTENNA1"), tb.getcol("ANTENNA2")
    tb.close()
    tb.open(f"{shifted}/SPECTRAL_WINDOW")
    freqs = tb.getcol("CHAN_FREQ")[:, 0]
    tb.close()
    shutil.rmtree(shifted)
    cross = ant1 != ant2
    baselines = sorted(set(zip(ant1[cross].tolist(), ant2[cross].tolist())))
    mean = []
    for a1, a2 in baselines:
        rows = (ant1 == a1) & (ant2 == a2)
        d = np.ma.masked_array(data[:, :, rows], flags[:, :, rows])
        mean.append(d.mean(axis=(0, 2)).filled(np.nan))
    mean = np.array(mean)
    return {"baselines": baselines, "real": mean.real.tolist(), "imag": mean.imag.tolist(), "freqs_hz": freqs.tolist()}


if __name__ == "__main__":
    main()
