"""Helpers the tests share: tiny simulated sessions, real Snakemake runs, CASA in its own process."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from dsa110_continuum.simulate.session import SimulationConfig, SkySource, simulate_session

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
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
    """Run the real workflow (local executor, the repository's default profile) in ``workdir``."""
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(configfile), "--cores", "2", *extra]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1800)


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
