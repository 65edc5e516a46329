"""Simulate DSA-110 observations, written exactly as the correlator writes them, with their truth.

The sky (point sources with power-law spectra, seen through a meridian-pointed Airy beam) is computed
directly (checked against matvis in the tests); per-antenna complex gains with bandpass ripple, an SEFD-based thermal
noise and the correlator's meridian fringe-stopping are applied on top.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from .. import instrument as inst
from ..formats.uvh5 import write_dsa110_uvh5
from ..naming import format_timestamp, parse_timestamp, raw_filename
from ..sky.beam import airy_power, meridian_pointing_enu
from ..sky.catalogue import power_law_flux_jy
from ..sky.coords import angular_separation_deg, apparent_radec_deg


@dataclass(frozen=True)
class SkySource:
    name: str
    ra_deg: float
    dec_deg: float
    flux_jy: float  # at 1.4 GHz (for a variable source, its flux outside its bright observations)
    spectral_index: float = -0.7
    variability_factor: float = 1.0  # a variable source is this much brighter in every other observation

    def flux_at(self, freqs_hz):
        return power_law_flux_jy(self.flux_jy, self.spectral_index, freqs_hz)

    def in_observation(self, k: int) -> "SkySource":
        """The source as observation ``k`` of the session sees it (variable ones are brighter in odd ones)."""
        return replace(self, flux_jy=self.flux_jy * self.variability_factor) if k % 2 else self


@dataclass(frozen=True)
class RfiConfig:
    """Interference added to the cross-correlations of every observation, in units of the noise per visibility.

    Narrow-band lines (1-3 adjacent channels) on every baseline for the whole observation, and broadband
    bursts (1-2 integrations, every channel) on a fraction of the baselines. The corrupted samples are
    kept in the truth (``rfi_masks.npz``).
    """

    n_lines: int = 2
    n_bursts: int = 2
    burst_baseline_fraction: float = 0.3
    amplitude_sigma: tuple[float, float] = (5.0, 20.0)


@dataclass
class SimulationConfig:
    """What to simulate. Defaults are the full-scale instrument."""

    start_utc: str = "2025-06-01T00:00:00"
    n_observations: int = 1
    pointing_dec_deg: float = 30.5  # apparent (of-date), as the correlator uses it
    n_antennas: int = 96
    antennas: tuple[int, ...] | None = None  # station indices (0-116) to use instead of n_antennas spread evenly
    n_subbands: int = inst.N_SUBBANDS
    n_chan_per_subband: int = inst.N_CHAN_PER_SUBBAND
    n_integrations: int = inst.N_INTEGRATIONS
    seed: int = 20250601
    sefd_jy: float = 5800.0
    add_noise: bool = True
    apply_gains: bool = True
    n_field_sources: int = 10  # per observation's field of view
    field_radius_deg: float = 1.5
    field_flux_range_jy: tuple[float, float] = (0.05, 1.0)
    calibrators: list[SkySource] = field(default_factory=list)
    extra_sources: list[SkySource] = field(default_factory=list)
    gain_amp_rms: float = 0.1
    bandpass_ripple: float = 0.05
    delay_rms_ns: float = 1.0
    timestamp_jitter_s: int = 3
    rfi: RfiConfig | None = None
    n_variable_sources: int = 0  # field sources (the brightest-first by index) that vary by variability_factor
    variability_factor: float = 1.5
    # The reference catalogue written beside the truth (NVSS-style) misplaces and mis-scales the sky by these.
    reference_offset_arcsec: tuple[float, float] = (0.0, 0.0)  # (RA, Dec)
    reference_flux_scale: float = 1.0
    sky_radius_deg: float = 8.0  # sources farther from the pointing are left out of the simulation


def select_antennas(n_antennas: int) -> np.ndarray:
    """Antenna numbers (0-based) used: spread evenly over the core arms and the outriggers."""
    if not 2 <= n_antennas <= inst.N_STATIONS:
        raise ValueError(f"n_antennas must be between 2 and {inst.N_STATIONS}, got {n_antennas}")
    if n_antennas >= 96:
        # The real array has ~96 active: all but a deterministic set of dead core stations.
        dead = np.linspace(1, 101, inst.N_STATIONS - n_antennas).astype(int) if n_antennas < inst.N_STATIONS else []
        return np.setdiff1d(np.arange(inst.N_STATIONS), dead)
    return np.unique(np.round(np.linspace(0, inst.N_STATIONS - 1, n_antennas)).astype(int))


def observation_length_s(cfg: SimulationConfig) -> float:
    return cfg.n_integrations * inst.INTEGRATION_TIME_S


def start_for_transit(source: SkySource, date_utc: str, *, observation_index: int, n_integrations: int) -> str:
    """A session start (UTC, whole seconds) at which ``source`` transits in mid-observation ``observation_index``."""
    from astropy.time import Time
    import astropy.units as u

    loc = inst.site_location()
    t = Time(date_utc, scale="utc")
    for _ in range(3):
        ra_app_deg = float(np.ravel(apparent_radec_deg(source.ra_deg, source.dec_deg, t.mjd)[0])[0])
        ha_deg = ((t.sidereal_time("apparent", longitude=loc.lon).deg - ra_app_deg + 180.0) % 360.0) - 180.0
        t = t - (ha_deg / 360.0) * u.sday
    obs_s = n_integrations * inst.INTEGRATION_TIME_S
    start = t.to_datetime(timezone=timezone.utc) - timedelta(seconds=obs_s * (observation_index + 0.5))
    return format_timestamp(start.replace(microsecond=0))


def _field_centre_icrs(time_jd: float, dec_app_deg: float) -> tuple[float, float]:
    """ICRS position of the meridian at ``dec_app_deg`` (apparent) at a time, in degrees."""
    from astropy.coordinates import CIRS, ICRS, SkyCoord
    from astropy.time import Time
    import astropy.units as u

    t = Time(time_jd, format="jd", scale="utc")
    # CIRS right ascension is measured from the CIO, so the local meridian is at ERA + longitude.
    ra_cirs = (t.earth_rotation_angle(inst.SITE_LON_DEG * u.deg)).to(u.deg)
    icrs = SkyCoord(ra=ra_cirs, dec=dec_app_deg * u.deg, frame=CIRS(obstime=t)).transform_to(ICRS())
    return float(icrs.ra.deg), float(icrs.dec.deg)


def _random_field(rng, centre_ra_deg, centre_dec_deg, cfg: SimulationConfig, label: str) -> list[SkySource]:
    """Point sources uniform on the sky within the field radius, log-uniform in flux."""
    n = cfg.n_field_sources
    r_deg = cfg.field_radius_deg * np.sqrt(rng.uniform(0, 1, n))
    theta = rng.uniform(0, 2 * np.pi, n)
    dec = centre_dec_deg + r_deg * np.sin(theta)
    ra = centre_ra_deg + r_deg * np.cos(theta) / np.cos(np.deg2rad(dec))
    lo, hi = cfg.field_flux_range_jy
    flux = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    return [SkySource(f"{label}_src{i:03d}", float(ra[i] % 360.0), float(dec[i]), float(flux[i]))
            for i in range(n)]


def antenna_gains(rng, n_ant: int, freqs_hz: np.ndarray, cfg: SimulationConfig) -> np.ndarray:
    """Complex gains (Nant, Nfreq, Npol=2): amplitude scatter, random phase, a delay and a bandpass ripple."""
    shape = (n_ant, 1, 2)
    amp = 1.0 + cfg.gain_amp_rms * rng.standard_normal(shape)
    phase = rng.uniform(-np.pi, np.pi, shape)
    delay_s = cfg.delay_rms_ns * 1e-9 * rng.standard_normal(shape)
    ripple_period_hz = rng.uniform(20e6, 60e6, shape)
    ripple_phase = rng.uniform(0, 2 * np.pi, shape)
    f = (freqs_hz - freqs_hz.mean())[None, :, None]
    ripple = 1.0 + cfg.bandpass_ripple * np.sin(2 * np.pi * f / ripple_period_hz + ripple_phase)
    return amp * ripple * np.exp(1j * (phase + 2 * np.pi * delay_s * f))


def _baselines(ant_numbers: np.ndarray):
    idx1, idx2 = np.triu_indices(ant_numbers.size)
    return idx1, idx2


def point_source_visibilities(antenna_enu_m: np.ndarray, idx1: np.ndarray, idx2: np.ndarray, sources: list[SkySource],
                              freqs_hz: np.ndarray, times, pointing_dec_deg: float, *,
                              channels_per_chunk: int = 96) -> np.ndarray:
    """Stokes I visibilities (Ntime, Nbl, Nfreq) of point sources seen through the meridian-pointed Airy beam.

    V_ij(t, nu) = sum_s S_s(nu) P(theta_s(t), nu) exp(+2 pi i nu (x_j - x_i) . s(t) / c), with s(t) a source's
    topocentric direction (astropy, no refraction) and theta its angle from the pointing. The geometry is
    computed once per integration, not per channel; a unit test checks the result against matvis.
    """
    from astropy import units as u
    from astropy.coordinates import AltAz, SkyCoord

    vis = np.zeros((len(times), idx1.size, freqs_hz.size), dtype=np.complex64)
    if not sources:
        return vis
    coords = SkyCoord(ra=[s.ra_deg for s in sources] * u.deg, dec=[s.dec_deg for s in sources] * u.deg, frame="icrs")
    altaz = coords[None, :].transform_to(AltAz(obstime=times[:, None], location=inst.site_location()))
    alt, az = altaz.alt.rad, altaz.az.rad  # azimuth east of north
    direction = np.stack([np.cos(alt) * np.sin(az), np.cos(alt) * np.cos(az), np.sin(alt)], axis=-1)  # (T, S, ENU)
    pointing = meridian_pointing_enu(pointing_dec_deg, inst.SITE_LAT_DEG)
    beam = airy_power(np.arccos(np.clip(direction @ pointing, -1, 1)), freqs_hz)  # (T, S, F)
    flux = np.array([s.flux_at(freqs_hz) for s in sources])  # (S, F)
    delay_m = np.einsum("tsk,bk->tsb", direction, antenna_enu_m[idx2] - antenna_enu_m[idx1])
    for t in range(len(times)):
        for c0 in range(0, freqs_hz.size, channels_per_chunk):
            f = freqs_hz[c0:c0 + channels_per_chunk]
            phase = np.exp(2j * np.pi * delay_m[t][:, :, None] * (f / inst.SPEED_OF_LIGHT_M_S)[None, None, :])
            vis[t, :, c0:c0 + f.size] = np.einsum("sf,sbf->bf", flux[:, c0:c0 + f.size] * beam[t, :, c0:c0 + f.size], phase)
    return vis


def simulate_observation(cfg: SimulationConfig, *, start: datetime, sources: list[SkySource],
                         ant_numbers: np.ndarray, gains: np.ndarray, rng) -> dict:
    """Visibilities of one observation as the correlator records them (all subbands, ascending freq)."""
    from astropy.time import Time, TimeDelta

    freqs = inst.band_freqs_hz(cfg.n_subbands, cfg.n_chan_per_subband)
    times = Time(start) + TimeDelta((np.arange(cfg.n_integrations) + 0.5) * inst.INTEGRATION_TIME_S, format="sec")
    enu = inst.ecef_rel_to_enu_m(inst.station_positions_ecef_rel_m())[ant_numbers]
    idx1, idx2 = _baselines(ant_numbers)

    centre_ra, centre_dec = _field_centre_icrs(0.5 * (times[0].jd + times[-1].jd), cfg.pointing_dec_deg)
    near = [s for s in sources if angular_separation_deg(s.ra_deg, s.dec_deg, centre_ra, centre_dec) < cfg.sky_radius_deg]
    n_bl = idx1.size
    vis = point_source_visibilities(enu, idx1, idx2, near, freqs, times, cfg.pointing_dec_deg)

    baseline_enu = enu[idx2] - enu[idx1]
    s0 = meridian_pointing_enu(cfg.pointing_dec_deg, inst.SITE_LAT_DEG)
    w0_m = baseline_enu @ s0
    u_hat = np.array([1.0, 0.0, 0.0])
    v_hat = np.cross(s0, u_hat)
    uvw = np.stack([baseline_enu @ u_hat, baseline_enu @ v_hat, w0_m], axis=1)
    return {
        "model": vis,
        "w0_m": w0_m,
        "idx1": idx1,
        "idx2": idx2,
        "freqs_hz": freqs,
        "time_jd": np.repeat(times.jd, n_bl),
        "lst_rad": np.repeat(times.sidereal_time("apparent", longitude=inst.SITE_LON_DEG).rad, n_bl),
        "ant_1": np.tile(ant_numbers[idx1], cfg.n_integrations),
        "ant_2": np.tile(ant_numbers[idx2], cfg.n_integrations),
        "uvw": np.tile(uvw, (cfg.n_integrations, 1)).astype(np.float32),
        "field_centre_icrs_deg": (centre_ra, centre_dec),
        "n_bl": n_bl,
    }


def noise_sigma_jy(cfg: SimulationConfig) -> float:
    """Thermal noise of one cross-correlation sample, per real and imaginary part."""
    return cfg.sefd_jy / np.sqrt(2 * inst.channel_width_hz(cfg.n_chan_per_subband) * inst.INTEGRATION_TIME_S)


def interference(cfg: SimulationConfig, rng, n_time: int, autos: np.ndarray, n_freq: int):
    """RFI to add to one observation (Ntime, Nbl, Nfreq) complex, and the mask of the samples it corrupts."""
    rfi = cfg.rfi
    mask = np.zeros((n_time, autos.size, n_freq), dtype=bool)
    for _ in range(rfi.n_lines):
        first = rng.integers(0, n_freq - 2)
        mask[:, :, first:first + rng.integers(1, 4)] = True
    cross = np.nonzero(~autos)[0]
    for _ in range(rfi.n_bursts):
        start = rng.integers(0, n_time - 1)
        hit = rng.choice(cross, size=max(1, int(rfi.burst_baseline_fraction * cross.size)), replace=False)
        mask[start:start + rng.integers(1, 3), hit] = True
    mask[:, autos] = False
    amplitude = noise_sigma_jy(cfg) * rng.uniform(*rfi.amplitude_sigma, mask.shape)
    return np.where(mask, amplitude * np.exp(2j * np.pi * rng.uniform(size=mask.shape)), 0).astype(np.complex64), mask


def corrupt(cfg: SimulationConfig, model: np.ndarray, freqs_hz: np.ndarray, gains: np.ndarray,
            obs: dict, rng, rfi: np.ndarray | None = None) -> np.ndarray:
    """What the correlator records for true visibilities ``model`` (Ntime, Nbl, Nfreq), as (Nblts, Nfreq, 2).

    System noise (SEFD on the autocorrelations, thermal noise everywhere), antenna gains, interference
    (``rfi``, same shape as ``model``, both polarisations), then fringe-stopping to the meridian at the
    pointing declination. Antenna pair (i, j) has baseline
    x_j - x_i and visibility ~ exp(+2 pi i b.s / lambda), pyuvdata's convention.
    """
    idx1, idx2 = obs["idx1"], obs["idx2"]
    autos = idx1 == idx2
    vis = np.repeat(model[..., None], 2, axis=-1)
    vis[:, autos] += cfg.sefd_jy
    if cfg.add_noise:
        noise = noise_sigma_jy(cfg) * (rng.standard_normal(vis.shape, dtype=np.float32)
                               + 1j * rng.standard_normal(vis.shape, dtype=np.float32))
        noise[:, autos] = np.sqrt(2) * noise[:, autos].real
        vis += noise
    g = gains[:, None, :, :]
    vis *= (g[idx1] * np.conj(g[idx2])).transpose(1, 0, 2, 3)
    if rfi is not None:
        vis += rfi[..., None]
    vis *= np.exp(-2j * np.pi * obs["w0_m"][None, :, None, None] * freqs_hz[None, None, :, None] / inst.SPEED_OF_LIGHT_M_S)
    return vis.reshape(-1, freqs_hz.size, 2).astype(np.complex64)


def _header(cfg: SimulationConfig, obs: dict) -> dict:
    n_blts = obs["ant_1"].size
    ant_numbers = np.unique(np.concatenate([obs["ant_1"], obs["ant_2"]]))
    return {
        "latitude": inst.SITE_LAT_DEG,
        "longitude": inst.SITE_LON_DEG,
        "altitude": inst.SITE_HEIGHT_M,
        "telescope_name": inst.TELESCOPE_NAME,
        "instrument": inst.INSTRUMENT,
        "object_name": "search",
        "history": "DSA-110 observation simulated by dsa110_continuum",
        "phase_type": "drift",
        "vis_units": "uncalib",
        "x_orientation": "east",
        "Nants_data": int(ant_numbers.size),
        "Nants_telescope": inst.N_STATIONS,
        "Nbls": int(obs["n_bl"]),
        "Nblts": int(n_blts),
        "Nfreqs": cfg.n_chan_per_subband,
        "Npols": 2,
        "Nspws": 1,
        "Ntimes": cfg.n_integrations,
        "antenna_names": [str(n) for n in range(1, inst.N_STATIONS + 1)],
        "antenna_numbers": np.arange(inst.N_STATIONS),
        "antenna_positions": inst.station_positions_ecef_rel_m(),
        "ant_1_array": obs["ant_1"],
        "ant_2_array": obs["ant_2"],
        "time_array": obs["time_jd"],
        "lst_array": obs["lst_rad"],
        "integration_time": np.full(n_blts, inst.INTEGRATION_TIME_S),
        "uvw_array": obs["uvw"],
        "spw_array": np.array([0]),
        "channel_width": inst.channel_width_hz(cfg.n_chan_per_subband),
        "polarization_array": np.array(inst.POLARIZATIONS),
        "extra_keywords": {
            "phase_center_dec": float(np.deg2rad(cfg.pointing_dec_deg)),
            "ha_phase_center": 0.0,
            "phase_center_epoch": "HADEC",
        },
    }


def simulate_session(cfg: SimulationConfig, incoming_dir: str | Path, truth_dir: str | Path) -> dict:
    """Write ``cfg.n_observations`` observations of 16 (or ``n_subbands``) files each, plus the truth.

    Returns the truth record also written to ``truth_dir/session.json``.
    """
    from astropy.time import Time

    incoming_dir, truth_dir = Path(incoming_dir), Path(truth_dir)
    incoming_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    rng_rfi = np.random.default_rng([cfg.seed, 1])  # its own stream: the same data with and without RFI
    rfi_masks = {}
    ant_numbers = np.array(sorted(cfg.antennas)) if cfg.antennas else select_antennas(cfg.n_antennas)
    all_freqs = inst.band_freqs_hz(cfg.n_subbands, cfg.n_chan_per_subband)
    gains = antenna_gains(rng, ant_numbers.size, all_freqs, cfg)
    if not cfg.apply_gains:
        gains = np.ones_like(gains)

    start0 = parse_timestamp(cfg.start_utc)
    obs_len = timedelta(seconds=observation_length_s(cfg))
    sources = list(cfg.calibrators) + list(cfg.extra_sources)
    observations = []
    field = []
    for k in range(cfg.n_observations):
        centre = _field_centre_icrs(Time(start0 + (k + 0.5) * obs_len).jd, cfg.pointing_dec_deg)
        field += _random_field(rng, *centre, cfg, label=f"obs{k:03d}")
    variable = rng.choice(len(field), size=min(cfg.n_variable_sources, len(field)), replace=False)
    sources += [replace(s, variability_factor=cfg.variability_factor) if i in variable else s
                for i, s in enumerate(field)]

    for k in range(cfg.n_observations):
        start = start0 + k * obs_len
        obs = simulate_observation(cfg, start=start, sources=[s.in_observation(k) for s in sources],
                                   ant_numbers=ant_numbers, gains=gains, rng=rng)
        header = _header(cfg, obs)
        jitter = rng.integers(0, cfg.timestamp_jitter_s + 1, cfg.n_subbands)
        # The workflow names an observation after its earliest file.
        group_id = format_timestamp((start + timedelta(seconds=int(jitter.min()))).replace(microsecond=0))
        rfi = None
        if cfg.rfi is not None:
            rfi, rfi_masks[group_id] = interference(cfg, rng_rfi, cfg.n_integrations, obs["idx1"] == obs["idx2"],
                                                    all_freqs.size)
        files = []
        for sb in range(cfg.n_subbands):
            # sb00 is the top of the band; the correlator stores each subband's channels descending.
            chans = slice(all_freqs.size - (sb + 1) * cfg.n_chan_per_subband, all_freqs.size - sb * cfg.n_chan_per_subband)
            path = incoming_dir / raw_filename((start + timedelta(seconds=int(jitter[sb]))).replace(microsecond=0), sb)
            header["freq_array"] = obs["freqs_hz"][chans][::-1][None, :]
            vis = corrupt(cfg, obs["model"][:, :, chans], all_freqs[chans], gains[:, chans], obs, rng,
                          None if rfi is None else rfi[:, :, chans])
            write_dsa110_uvh5(path, vis=vis[:, ::-1], flags=np.zeros(vis.shape, dtype=bool), header=header)
            # As the correlator would have left it: written when the observation ended.
            written_s = (start + obs_len).timestamp()
            os.utime(path, (written_s, written_s))
            files.append(path.name)
        observations.append({
            "group_id": group_id,
            "files": files,
            "pointing_dec_deg": cfg.pointing_dec_deg,
            "field_centre_icrs_deg": list(obs["field_centre_icrs_deg"]),
            "time_jd": sorted(set(obs["time_jd"].tolist())),
        })

    truth = {
        "config": {k: v for k, v in asdict(cfg).items() if k not in ("calibrators", "extra_sources")},
        "variable_sources": [s.name for s in sources if s.variability_factor != 1.0],
        "noise_sigma_jy": noise_sigma_jy(cfg),
        "antenna_numbers": ant_numbers.tolist(),
        "observations": observations,
    }
    write_sky_model(truth_dir / "sky_model.csv", sources)
    write_reference_catalogue(truth_dir / "reference_catalogue.csv", [s for s in sources if s not in cfg.calibrators],
                              offset_arcsec=cfg.reference_offset_arcsec, flux_scale=cfg.reference_flux_scale)
    np.savez(truth_dir / "gains.npz", antenna_numbers=ant_numbers, freqs_hz=all_freqs, gains=gains)
    if rfi_masks:  # (Ntime, Nbaseline, Nfreq ascending) per observation, baselines in the files' order
        np.savez_compressed(truth_dir / "rfi_masks.npz", **{g.replace(":", "-"): m for g, m in rfi_masks.items()})
    (truth_dir / "session.json").write_text(json.dumps(truth, indent=1))
    return truth


def write_sky_model(path: Path, sources: list[SkySource]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "ra_deg", "dec_deg", "flux_1400mhz_jy", "spectral_index", "variability_factor"])
        for s in sources:
            writer.writerow([s.name, f"{s.ra_deg:.8f}", f"{s.dec_deg:.8f}", f"{s.flux_jy:.6f}", s.spectral_index,
                             s.variability_factor])


def read_sky_model(path: str | Path) -> list[SkySource]:
    with open(path, newline="") as handle:
        return [SkySource(r["name"], float(r["ra_deg"]), float(r["dec_deg"]), float(r["flux_1400mhz_jy"]),
                          float(r["spectral_index"]), float(r["variability_factor"])) for r in csv.DictReader(handle)]


def write_reference_catalogue(path: Path, sources: list[SkySource], *, offset_arcsec=(0.0, 0.0),
                              flux_scale: float = 1.0) -> None:
    """An NVSS-style catalogue of the sky (VizieR's column names; mJy), misplaced by ``offset_arcsec``
    (RA, Dec) and with fluxes times ``flux_scale``: a cross-match should find the opposite offset and
    1 / flux_scale as its flux ratio. A variable source is listed with its mean flux."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["NVSS", "RAJ2000", "DEJ2000", "S1.4", "e_S1.4"])
        for s in sources:
            mean_flux = s.flux_jy * (1 + s.variability_factor) / 2
            ra = s.ra_deg + offset_arcsec[0] / 3600 / np.cos(np.deg2rad(s.dec_deg))
            writer.writerow([s.name, f"{ra % 360:.8f}", f"{s.dec_deg + offset_arcsec[1] / 3600:.8f}",
                             f"{1e3 * mean_flux * flux_scale:.3f}", f"{0.03 * 1e3 * mean_flux * flux_scale:.3f}"])
