"""Helpers the tests share: tiny simulated sessions, real Snakemake runs, CASA in its own process."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from dsa110_continuum.simulate.session import SimulationConfig, SkySource, simulate_session

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: Twelve antennas spread over the core: baselines up to ~600 m, so images of the whole primary beam stay small.
CORE_ANTENNAS = tuple(int(k) for k in np.linspace(0, 101, 12).round())
TINY = SimulationConfig(n_observations=2, n_antennas=10, n_chan_per_subband=4, n_integrations=6,
                        start_utc="2025-06-01T04:40:00", pointing_dec_deg=30.5, n_field_sources=5)


def bright_source_near_centre(truth: dict, d_ra_deg=0.35, d_dec_deg=-0.25, flux_jy=8.0) -> SkySource:
    """A source offset from the first observation's phase centre (so the rephasing matters)."""
    ra, dec = truth["observations"][0]["field_centre_icrs_deg"]
    return SkySource("bright", ra + d_ra_deg, dec + d_dec_deg, flux_jy, 0.0)


def simulate(tmp: Path, cfg: SimulationConfig) -> tuple[Path, Path, dict]:
    incoming, truth_dir = tmp / "incoming", tmp / "truth"
    truth = simulate_session(cfg, incoming, truth_dir)
    return incoming, truth_dir, truth


def run_snakemake(workdir: Path, configfile: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run the real workflow (local executor, the repository's default profile) in ``workdir``, and check that
    every raw file in its incoming directory is byte-identical afterwards."""
    import yaml

    incoming = Path(yaml.safe_load(Path(configfile).read_text())["incoming_dir"])
    before = checksums(incoming)
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(configfile), "--cores", "2", *extra]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert checksums(incoming) == before, f"the workflow changed raw files in {incoming}"
    return run


def casa_json(*args: str) -> dict:
    """Run a dsa110_continuum.casa command in its own process (casatools and casacore never share one)."""
    out = subprocess.run([sys.executable, "-m", "dsa110_continuum.casa", *args], capture_output=True, text=True,
                         timeout=600, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def checksums(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def files_of(incoming: Path, group_index: int, truth: dict) -> list[Path]:
    return [incoming / name for name in truth["observations"][group_index]["files"]]


def write_catalogue(path: Path, sources: list[SkySource]) -> Path:
    lines = ["name,ra_deg,dec_deg,flux_1400mhz_jy,spectral_index,casa_standard_name"]
    lines += [f"{s.name},{s.ra_deg:.8f},{s.dec_deg:.8f},{s.flux_jy},{s.spectral_index}," for s in sources]
    path.write_text("\n".join(lines) + "\n")
    return path


def drift_beam_at(ra_deg, dec_deg, observation: dict, pointing_dec_deg: float) -> float:
    """The drift-averaged primary beam of a simulated observation (uniform weights) at a position."""
    from dsa110_continuum import instrument as inst
    from dsa110_continuum.sky.beam import drift_beam

    times_mjd = np.array(observation["time_jd"]) - 2400000.5
    return float(drift_beam(ra_deg, dec_deg, pointing_dec_deg, times_mjd, inst.band_freqs_hz()))


def ra_where_beam_is(level: float, side: int, dec_deg: float, observation: dict, pointing_dec_deg: float) -> float:
    """The RA east (side=+1) or west (-1) of an observation's centre at which its drift beam is ``level``."""
    from scipy.optimize import brentq

    ra0 = observation["field_centre_icrs_deg"][0]
    offset = brentq(lambda d: drift_beam_at(ra0 + side * d, dec_deg, observation, pointing_dec_deg) - level, 0.01, 15)
    return ra0 + side * offset


def fit_sources(image_dir: Path, sources, rms_jy: float, *, product="pbcor"):
    """Each source fitted in an image product: {name: (SourceFit or None, primary-beam response)}."""
    from dsa110_continuum.image.measure import fit_source
    from dsa110_continuum.image.products import read_plane

    image, header = read_plane(image_dir / f"{product}.fits")
    pb, _ = read_plane(image_dir / "pb.fits")
    from astropy.wcs import WCS

    wcs = WCS(header).celestial
    fitted = {}
    for s in sources:
        x, y = (int(round(float(v))) for v in wcs.world_to_pixel_values(s.ra_deg, s.dec_deg))
        response = float(pb[y, x]) if 0 <= y < pb.shape[0] and 0 <= x < pb.shape[1] else 0.0
        noise = rms_jy / response if product == "pbcor" and response > 0 else rms_jy
        fitted[s.name] = (fit_source(image, header, s.ra_deg, s.dec_deg, rms_jy=noise) if response > 0 else None,
                          response)
    return fitted, header


def offset_in_beams(fit, source, header) -> tuple[float, float]:
    """A fitted position's offset from the truth along the restoring beam's major and minor axes, in beams."""
    d_east = (fit.ra_deg - source.ra_deg) * np.cos(np.deg2rad(source.dec_deg))
    d_north = fit.dec_deg - source.dec_deg
    pa = np.deg2rad(header["BPA"])
    along = d_east * np.sin(pa) + d_north * np.cos(pa)
    across = d_east * np.cos(pa) - d_north * np.sin(pa)
    return abs(along) / header["BMAJ"], abs(across) / header["BMIN"]


CHROMIUM = Path("/usr/bin/chromium")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", "--force-device-scale-factor=1", f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def dump_dom(tmp_path: Path, page: Path) -> str:
    result = chromium(tmp_path, "--dump-dom", "--virtual-time-budget=5000", page.as_uri())
    assert result.returncode == 0 and "<html" in result.stdout, result.stderr[-2000:]
    return result.stdout
