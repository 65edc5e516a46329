"""Calibration with CASA: solve bandpass and phase-only gains on a calibrator transit and QA them.

Runs in casatools processes only (never beside python-casacore).
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np

from ..casa import casa_tools
from ..formats.ms import FIELD_MODEL_COLUMN
from ..records import InputError, save_figure
from ..sky.beam import beam_along_track
from ..sky.catalogue import Calibrator
from .bandpass import solve_bandpass



class SolveError(InputError):
    """The calibrator data could not be solved (a CASA task failed on them); recorded as a failed set."""


@contextmanager
def _casa_step(name: str):
    """CASA tools raise RuntimeError for what they cannot do with the data: a failed solve, not a crash."""
    try:
        yield
    except RuntimeError as err:
        raise SolveError(f"CASA {name} failed: {err}") from err


@dataclass(frozen=True)
class SolveSettings:
    refant_preference: tuple[str, ...] = ()
    minsnr: float = 5.0
    max_flagged_fraction: float = 0.25
    min_good_antennas: int = 4
    gain_solint: str = "inf"
    rfi_flagging: str = "rflag"  # CASA flagdata mode: rflag, tfcrop or none
    bandpass_solver: str = "stefcal"  # or "casa" (CASA's bandpass task; same table, ~20 s slower at full scale)


def _flagged_fraction_per_antenna(ms: str) -> dict[int, float]:
    """Fraction of cross-correlation data flagged, per antenna index present in the data."""
    tb = casa_tools().table()
    tb.open(ms)
    try:
        ant1, ant2, flag = tb.getcol("ANTENNA1"), tb.getcol("ANTENNA2"), tb.getcol("FLAG")
    finally:
        tb.close()
    cross = ant1 != ant2
    per_row = flag[:, :, cross].mean(axis=(0, 1))
    fractions = {}
    for ant in np.union1d(ant1[cross], ant2[cross]):
        rows = (ant1[cross] == ant) | (ant2[cross] == ant)
        fractions[int(ant)] = float(per_row[rows].mean())
    return fractions


def choose_refant(flagged: dict[int, float], names: list[str], preference=()) -> int:
    """The first preferred antenna (by name) with under half its data flagged, else the least flagged."""
    for name in preference:
        if name in names and names.index(name) in flagged and flagged[names.index(name)] < 0.5:
            return names.index(name)
    return min(flagged, key=lambda ant: (flagged[ant], ant))


def _write_point_source_model(ms: str, cal: Calibrator, pointing_dec_deg: float,
                              integration_times_s: np.ndarray) -> None:
    """MODEL_DATA = the calibrator's flux spectrum (CASA's Perley-Butler 2017 where CASA knows the source,
    else the catalogue power law) times the primary beam it drifts through, averaged over the
    integrations that were averaged into the data, at the phase centre; plus the field sources' model
    where the extraction wrote one (``FIELD_MODEL_COLUMN``).
    """
    from casatasks import setjy

    ct = casa_tools()
    if cal.casa_standard_name:
        tb = ct.table()
        tb.open(f"{ms}/FIELD", nomodify=False)
        tb.putcell("NAME", 0, cal.casa_standard_name)
        tb.close()
        setjy(vis=ms, field="0", standard="Perley-Butler 2017", usescratch=True, scalebychan=True)
    else:
        setjy(vis=ms, field="0", standard="manual", fluxdensity=[cal.flux_1400mhz_jy, 0, 0, 0],
              spix=[cal.spectral_index], reffreq="1.4GHz", usescratch=True, scalebychan=True)
    tb = ct.table()
    tb.open(f"{ms}/SPECTRAL_WINDOW")
    freqs_hz = tb.getcol("CHAN_FREQ")[:, 0]
    tb.close()
    tb.open(ms, nomodify=False)
    try:
        beam = beam_along_track(cal.ra_deg, cal.dec_deg, pointing_dec_deg, integration_times_s / 86400.0,
                                freqs_hz).mean(axis=0)
        model = tb.getcol("MODEL_DATA")  # (Npol, Nchan, Nrow)
        model *= beam[None, :, None]
        if FIELD_MODEL_COLUMN in tb.colnames():
            model += tb.getcol(FIELD_MODEL_COLUMN)
        tb.putcol("MODEL_DATA", model)
    finally:
        tb.close()


def _stefcal_bandpass_table(ms: str, caltable: str, *, refant: int, minsnr: float) -> None:
    """Solve the bandpass with StEFCal (bandpass.py) and write it as a CASA 'B Jones' table."""
    ct = casa_tools()
    tb = ct.table()
    tb.open(ms)
    columns = {c: tb.getcol(c) for c in ("DATA", "MODEL_DATA", "FLAG", "ANTENNA1", "ANTENNA2", "TIME", "INTERVAL",
                                         "SCAN_NUMBER", "FIELD_ID")}
    tb.close()
    tb.open(f"{ms}/ANTENNA")
    n_ant = tb.nrows()
    tb.close()
    as_rows = lambda a: np.transpose(a, (2, 1, 0))  # noqa: E731  CASA (pol, chan, row) -> (row, chan, pol)
    result = solve_bandpass(as_rows(columns["DATA"]), as_rows(columns["MODEL_DATA"]), as_rows(columns["FLAG"]),
                            columns["ANTENNA1"], columns["ANTENNA2"], n_ant, refant=refant, minsnr=minsnr)
    cb = ct.calibrater()
    cb.open(ms, addcorr=False, addmodel=False)
    cb.createcaltable(caltable, "Complex", "B Jones", False)
    cb.close()
    as_cells = lambda a: np.transpose(a, (2, 1, 0))  # noqa: E731  (ant, chan, pol) -> (pol, chan, ant)
    tb.open(caltable, nomodify=False)
    try:
        tb.addrows(n_ant)
        tb.putcol("TIME", np.full(n_ant, columns["TIME"].mean()))
        tb.putcol("INTERVAL", np.full(n_ant, columns["INTERVAL"].max()))
        tb.putcol("FIELD_ID", np.full(n_ant, columns["FIELD_ID"][0], dtype=np.int32))
        tb.putcol("SCAN_NUMBER", np.full(n_ant, columns["SCAN_NUMBER"][0], dtype=np.int32))
        for column in ("SPECTRAL_WINDOW_ID", "OBSERVATION_ID"):
            tb.putcol(column, np.zeros(n_ant, dtype=np.int32))
        tb.putcol("ANTENNA1", np.arange(n_ant, dtype=np.int32))
        tb.putcol("ANTENNA2", np.full(n_ant, refant, dtype=np.int32))
        tb.putcol("CPARAM", as_cells(result["gains"]).astype(np.complex64))
        tb.putcol("PARAMERR", as_cells(np.abs(result["gains"]) / np.maximum(result["snr"], 1e-30)).astype(np.float32))
        tb.putcol("FLAG", as_cells(result["flags"]))
        tb.putcol("SNR", as_cells(result["snr"]).astype(np.float32))
    finally:
        tb.close()


def _read_columns(table: str, *columns: str) -> list[np.ndarray]:
    tb = casa_tools().table()
    tb.open(table)
    try:
        return [tb.getcol(c) for c in columns]
    finally:
        tb.close()


def solution_qa(b_gain: np.ndarray, b_flag: np.ndarray, b_snr: np.ndarray, b_ant: np.ndarray, g_flag: np.ndarray,
                g_ant: np.ndarray, antennas_in_data: list[int], settings: SolveSettings) -> dict:
    """Figures and verdict of one solve from its tables' columns (CASA layout: (pol, chan, row)).

    An antenna is good with at most half its bandpass flagged and a gain solution; the solve fails
    with more than ``max_flagged_fraction`` of the bandpass flagged, or fewer than ``min_good_antennas``.
    """
    in_data = np.isin(b_ant, antennas_in_data)
    flagged_fraction = float(b_flag[:, :, in_data].mean()) if in_data.any() else 1.0
    good = sorted(int(a) for a in b_ant[in_data] if not b_flag[:, :, b_ant == a].mean() > 0.5
                  and not g_flag[:, :, g_ant == a].all())
    snr = b_snr[:, :, in_data][~b_flag[:, :, in_data]]
    # Phase scatter: channel-to-channel rms of the bandpass phase after removing each antenna's delay slope.
    scatter = []
    chans = np.arange(b_gain.shape[1])
    for k in np.nonzero(in_data)[0]:
        for pol in range(b_gain.shape[0]):
            ok = ~b_flag[pol, :, k]
            if ok.sum() > 3:
                phase = np.unwrap(np.angle(b_gain[pol, ok, k]))
                residual = phase - np.polyval(np.polyfit(chans[ok], phase, 1), chans[ok])
                scatter.append(np.rad2deg(residual.std()))
    reasons = []
    if flagged_fraction > settings.max_flagged_fraction:
        reasons.append(f"{flagged_fraction:.0%} of bandpass solutions flagged (limit {settings.max_flagged_fraction:.0%})")
    if len(good) < settings.min_good_antennas:
        reasons.append(f"only {len(good)} antennas with good solutions (minimum {settings.min_good_antennas})")
    return {
        "passed": not reasons,
        "reasons": reasons,
        "flagged_fraction": flagged_fraction,
        "n_good_antennas": len(good),
        "n_antennas_in_data": len(antennas_in_data),
        "median_snr": float(np.median(snr)) if snr.size else 0.0,
        "phase_scatter_deg": float(np.median(scatter)) if scatter else None,
    }


def solve(calibrator_ms: str, bandpass_table: str, gain_table: str, *, cal: Calibrator, transit_mjd: float,
          pointing_dec_deg: float, integration_times_mjd: list[float], settings: SolveSettings) -> dict:
    """Solve bandpass + phase-only gains on a calibrator observation; returns the QA record.

    ``calibrator_ms`` is the observation phased to the calibrator and averaged in time
    (``extract_calibrator``); ``integration_times_mjd`` are the integrations averaged into it. The
    tables are written beside their final names and renamed into place; a solve that cannot produce
    usable tables is a failed-QA record (its tables left empty), and raises SolveError only when a CASA
    task fails on the data.

    The solve flags the data and writes a model, so it works on a copy: a solve that is killed and run
    again (or retried) starts from the same data and makes the same tables.
    """
    work_ms = f"{bandpass_table}.partial.ms"
    shutil.rmtree(work_ms, ignore_errors=True)
    shutil.copytree(calibrator_ms, work_ms)
    try:
        return _solve_in_place(work_ms, bandpass_table, gain_table, cal=cal, transit_mjd=transit_mjd,
                               pointing_dec_deg=pointing_dec_deg, integration_times_mjd=integration_times_mjd,
                               settings=settings)
    finally:
        shutil.rmtree(work_ms, ignore_errors=True)


def _solve_in_place(calibrator_ms: str, bandpass_table: str, gain_table: str, *, cal: Calibrator,
                    transit_mjd: float, pointing_dec_deg: float, integration_times_mjd: list[float],
                    settings: SolveSettings) -> dict:
    from casatasks import bandpass, flagdata, gaincal

    record = {"calibrator": asdict(cal), "transit_mjd": transit_mjd, "pointing_dec_deg": pointing_dec_deg,
              "settings": asdict(settings)}
    with _casa_step("flagdata"):
        flagdata(vis=calibrator_ms, mode="manual", autocorr=True, flagbackup=False)
        if settings.rfi_flagging != "none":
            flagdata(vis=calibrator_ms, mode=settings.rfi_flagging, datacolumn="data", flagbackup=False)
    flagged = _flagged_fraction_per_antenna(calibrator_ms)
    usable = {ant: f for ant, f in flagged.items() if f < 1.0}
    record["data_flagged_fraction"] = float(np.mean(list(flagged.values()))) if flagged else 1.0
    if len(usable) < settings.min_good_antennas:
        return {**record, "passed": False, "reasons": [f"no usable data: {len(usable)} antennas with unflagged data"]}

    tb = casa_tools().table()
    tb.open(f"{calibrator_ms}/ANTENNA")
    names = list(tb.getcol("NAME"))
    tb.close()
    refant = choose_refant(usable, names, settings.refant_preference)
    record["refant"] = names[refant]
    with _casa_step("setjy"):
        _write_point_source_model(calibrator_ms, cal, pointing_dec_deg, np.asarray(integration_times_mjd) * 86400.0)

    bcal, gcal = f"{bandpass_table}.partial", f"{gain_table}.partial"
    for table in (bcal, gcal):
        shutil.rmtree(table, ignore_errors=True)
    # CASA reads a number as an antenna index (our antenna names are numbers too).
    with _casa_step("bandpass"):
        if settings.bandpass_solver == "casa":
            bandpass(vis=calibrator_ms, caltable=bcal, field="0", solint="inf", combine="scan", refant=str(refant),
                     minsnr=settings.minsnr, solnorm=False, bandtype="B")
        else:
            _stefcal_bandpass_table(calibrator_ms, bcal, refant=refant, minsnr=settings.minsnr)
    if not os.path.isdir(bcal):
        return {**record, "passed": False, "reasons": ["bandpass produced no table (no data above the SNR limit)"]}
    with _casa_step("gaincal"):
        gaincal(vis=calibrator_ms, caltable=gcal, field="0", solint=settings.gain_solint, calmode="p",
                gaintable=[bcal], refant=str(refant), minsnr=settings.minsnr)
    if not os.path.isdir(gcal):
        return {**record, "passed": False, "reasons": ["gaincal produced no table"]}
    qa = solution_qa(*_read_columns(bcal, "CPARAM", "FLAG", "SNR", "ANTENNA1"), *_read_columns(gcal, "FLAG", "ANTENNA1"),
                     sorted(usable), settings)
    for staged, final in ((bcal, bandpass_table), (gcal, gain_table)):
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staged, final)
    return {**record, **qa}


def plot_solutions(bandpass_table: str, gain_table: str, qa: dict, path: str) -> None:
    """A PNG of the bandpass (amplitude and phase per antenna against channel), or why there is none."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (amp_ax, phase_ax) = plt.subplots(2, 1, figsize=(8, 6), dpi=100, sharex=True)
    title = f"calibration set {qa.get('set_id')}: {qa['calibrator']['name']} " \
            f"{'passed' if qa['passed'] else 'FAILED ' + '; '.join(qa['reasons'])}"
    if os.path.isdir(bandpass_table) and os.listdir(bandpass_table):
        gains, flags = _read_columns(bandpass_table, "CPARAM", "FLAG")  # (pol, chan, antenna)
        for antenna in range(gains.shape[2]):
            good = ~flags[0, :, antenna]
            if good.any():
                channels = np.nonzero(good)[0]
                amp_ax.plot(channels, np.abs(gains[0, good, antenna]), lw=0.5)
                phase_ax.plot(channels, np.angle(gains[0, good, antenna], deg=True), lw=0.5)
    else:
        amp_ax.text(0.5, 0.5, "no solutions", ha="center", transform=amp_ax.transAxes)
    amp_ax.set_ylabel("|bandpass| (XX)")
    phase_ax.set_ylabel("phase (deg, XX)")
    phase_ax.set_xlabel("channel")
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path)
