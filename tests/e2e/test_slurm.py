"""The workflow on a real SLURM cluster through profiles/slurm (snakemake-executor-plugin-slurm).

Needs the one-node test cluster (`tools/slurm-cluster start`; `make test` starts it) and is skipped without it.
One run of a tiny session (a calibrator transit and a target) in which the image jobs ask for too little
memory on their first attempt: SLURM kills them (the cluster enforces --mem through jobacct_gather/linux with
OverMemoryKill) and Snakemake resubmits them once with the doubled memory of attempt 2. Alongside, the same
session runs locally, and the two must agree. A second run is broken on purpose: one of its SLURM jobs is
killed, then Snakemake itself, and cron must neither duplicate nor disturb the jobs left on the cluster.

What SLURM did is taken from SLURM itself: a thread polls `squeue --states=all` every second for the whole
run (finished jobs stay visible for MinJobAge, 300 s on the test cluster, but polling keeps every state
without relying on it), and the plugin's per-job logs (.snakemake/slurm_logs) are kept.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from dsa110_continuum.naming import Products
from dsa110_continuum.simulate.session import SkySource
from helpers import BIN, CORE_ANTENNAS, REPO, TINY, files_of, simulate, write_catalogue

pytestmark = [pytest.mark.e2e, pytest.mark.slurm]

CLUSTER = REPO / "tools" / "slurm-cluster"
PROFILE = REPO / "profiles" / "slurm"
# The image job's memory on attempt 1: its SLURM step (the in-job Snakemake plus the imaging script and
# WSClean) peaks at ~600 MB here (sampled with sstat), so attempt 1 is killed and attempt 2 (900) fits.
IMAGE_MEM_MB = 450
INDEX_RUNTIME_MIN = 5
SLURM_TIMEOUT_S = 900  # hard limit (SIGKILL) on the whole SLURM run; it takes ~5 minutes
LOCAL_TIMEOUT_S = 900
LOCAL_RULES = {"plan_day", "day_index", "day_status", "calibrator_catalogue", "calibration_registry", "mosaic_plan",
               "products_database"}
FAILED_STATES = {"OUT_OF_MEMORY", "FAILED", "CANCELLED"}


def slurm_unavailable() -> str | None:
    """Why the SLURM tests cannot run here, or None."""
    if shutil.which("sinfo") is None:
        return ("SLURM client tools (sinfo) are not on PATH: `tools/slurm-cluster install` and "
                "`tools/slurm-cluster start` set up the test cluster (`make test` does both)")
    try:
        status = subprocess.run([str(CLUSTER), "status"], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "`tools/slurm-cluster status` did not answer within 60 s"
    if status.returncode != 0:
        return (f"the SLURM test cluster is not running ({status.stderr.strip() or status.stdout.strip()}): "
                "start it with `tools/slurm-cluster start`")
    return None


class SqueuePoller(threading.Thread):
    """Every SLURM job's states, partition, memory, CPUs, time limit, name and comment, polled each second."""

    FIELDS = ("jobid", "state", "partition", "min_memory", "cpus", "time_limit", "name", "comment", "reason",
              "workdir")
    FORMAT = "%i|%T|%P|%m|%C|%l|%j|%k|%r|%Z"

    def __init__(self):
        super().__init__(daemon=True)
        self.jobs: dict[str, dict] = {}
        self._stop_event = threading.Event()

    def poll(self):
        try:
            out = subprocess.run(["squeue", "--states=all", "--noheader", f"--format={self.FORMAT}"],
                                 capture_output=True, text=True, timeout=20).stdout
        except subprocess.TimeoutExpired:
            return
        for line in out.splitlines():
            row = dict(zip(self.FIELDS, (part.strip() for part in line.split("|"))))
            if len(row) != len(self.FIELDS):
                continue
            job = self.jobs.setdefault(row["jobid"], {"states": []})
            job.update({k: v for k, v in row.items() if k != "state"})
            if not job["states"] or job["states"][-1] != row["state"]:
                job["states"].append(row["state"])

    def run(self):
        while not self._stop_event.is_set():
            self.poll()
            self._stop_event.wait(1.0)

    def stop(self):
        self._stop_event.set()
        self.join(timeout=30)
        self.poll()


def small_session(tmp: Path) -> dict:
    """Two consecutive observations at dec +40 with twelve core antennas: a 20 Jy calibrator transits in the
    first, a 2 Jy source sits near the second's centre. 128 channels instead of 768 (hence no RFI flagging,
    and a looser image rms limit: the noise is sqrt(6) higher than with the real channels)."""
    cfg = replace(TINY, n_observations=2, n_integrations=24, n_chan_per_subband=8, n_field_sources=0,
                  pointing_dec_deg=40.0, antennas=CORE_ANTENNAS)
    probe = simulate(tmp / "probe", replace(cfg, add_noise=False))[2]
    first, second = probe["observations"]
    calibrator = SkySource("TESTCAL", first["field_centre_icrs_deg"][0], first["field_centre_icrs_deg"][1] + 0.1,
                           20.0, 0.0)
    ra, dec = second["field_centre_icrs_deg"]
    source = SkySource("centre", ra + 0.05 / np.cos(np.deg2rad(dec)), dec + 0.05, 2.0, 0.0)
    incoming_all, _, truth = simulate(tmp / "sim", replace(cfg, calibrators=[calibrator], extra_sources=[source]))
    incoming = tmp / "incoming"
    incoming.mkdir()
    for k in range(2):
        for path in files_of(incoming_all, k, truth):
            shutil.copy2(path, incoming / path.name)
    config = {"incoming_dir": str(incoming), "ingest": {"min_file_age_s": 0},
              "calibration": {"catalogue": str(write_catalogue(tmp / "calibrators.csv", [calibrator]))},
              "flag": {"flagger": "none"}, "image": {"fov_deg": 1.5, "qa": {"max_rms_jy": 0.5}},
              "mosaic": {"window_size": 2, "window_overlap": 1}}
    return {"config": config, "groups": [o["group_id"] for o in truth["observations"]], "incoming": incoming}


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake_env() -> dict:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    """The session through `--profile profiles/slurm` (with a local run of it alongside, for comparison)."""
    reason = slurm_unavailable()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("slurm")
    session = small_session(tmp)

    slurm_dir, local_dir = tmp / "slurm", tmp / "local"
    slurm_dir.mkdir()
    local_dir.mkdir()
    slurm_config = write_config(tmp / "slurm.yaml", {
        **session["config"], "output_dir": str(slurm_dir / "results"),
        # Index jobs and images one CPU each, so that the two image jobs share the two-CPU node.
        "resources": {"index_group": {"mem_mb": 1000, "runtime_min": INDEX_RUNTIME_MIN},
                      "image": {"mem_mb": IMAGE_MEM_MB, "runtime_min": 10, "threads": 1}}})
    local_config = write_config(tmp / "local.yaml", {**session["config"], "output_dir": str(local_dir / "results")})

    snakemake = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile")]
    local_log = tmp / "local.log"
    with open(local_log, "w") as log:
        local = subprocess.Popen(["timeout", "-s", "KILL", str(LOCAL_TIMEOUT_S), *snakemake, "--directory",
                                  str(local_dir), "--configfile", str(local_config), "--cores", "1"],
                                 cwd=REPO, env=snakemake_env(), stdout=log, stderr=subprocess.STDOUT)

    # `--workflow-profile none`: else profiles/default (the local profile) applies too and overrides this one.
    slurm_cmd = ["timeout", "-s", "KILL", str(SLURM_TIMEOUT_S), *snakemake, "--directory", str(slurm_dir),
                 "--configfile", str(slurm_config), "--workflow-profile", "none", "--profile", str(PROFILE),
                 "--slurm-keep-successful-logs", "--verbose"]
    slurm_log = tmp / "slurm.log"
    poller = SqueuePoller()
    poller.start()
    start = time.monotonic()
    try:
        with open(slurm_log, "w") as log:
            returncode = subprocess.run(slurm_cmd, cwd=REPO, env=snakemake_env(), stdout=log,
                                        stderr=subprocess.STDOUT, timeout=SLURM_TIMEOUT_S + 60).returncode
    except subprocess.TimeoutExpired:
        returncode = None
    wall_time_s = time.monotonic() - start
    text = slurm_log.read_text()
    run_id = re.search(r"SLURM run ID: (\S+)", text)
    run_id = run_id.group(1) if run_id else None
    if run_id and returncode != 0:  # a killed run leaves its jobs behind: cancel this run's, and only these
        subprocess.run(["scancel", f"--name={run_id}"], capture_output=True, timeout=60)
    poller.stop()
    try:
        local_returncode = local.wait(timeout=LOCAL_TIMEOUT_S + 60)
    except subprocess.TimeoutExpired:
        local.kill()
        local_returncode = None

    jobs = {jobid: job for jobid, job in poller.jobs.items() if run_id and job.get("name") == run_id}
    sbatch = [re.sub(r' --wrap=".*', "", line.split("sbatch call: ", 1)[1])
              for line in text.splitlines() if "sbatch call: " in line]
    (slurm_dir / "sbatch_calls.txt").write_text("\n".join(sbatch) + "\n")
    (slurm_dir / "wall_time_s.txt").write_text(f"{wall_time_s:.1f}\n")
    (slurm_dir / "slurm_jobs.json").write_text(json.dumps(jobs, indent=1))
    return {"tmp": tmp, "dir": slurm_dir, "out": slurm_dir / "results", "local_out": local_dir / "results",
            "returncode": returncode, "log": text, "local_returncode": local_returncode,
            "local_log": local_log.read_text(), "wall_time_s": wall_time_s, "run_id": run_id, "jobs": jobs,
            "sbatch": sbatch, "groups": session["groups"], "session": session}


def failure_context(run) -> str:
    return f"returncode {run['returncode']} after {run['wall_time_s']:.0f} s; log tail:\n{run['log'][-4000:]}"


def jobs_of(run, rule: str, group: str | None = None) -> list[dict]:
    """The run's SLURM jobs of a rule (and observation), in submission order."""
    prefix = f"rule_{rule}_wildcards_{group}" if group else f"rule_{rule}_wildcards_"
    found = [job | {"jobid": jobid} for jobid, job in run["jobs"].items() if job.get("comment", "").startswith(prefix)]
    return sorted(found, key=lambda job: int(job["jobid"]))


def sbatch_of(run, rule: str) -> list[str]:
    return [call for call in run["sbatch"] if f"--comment rule_{rule}_wildcards_" in call]


def test_the_workflow_runs_through_slurm(slurm_run, record_property):
    run = slurm_run
    record_property("slurm_wall_time_s", round(run["wall_time_s"], 1))
    print(f"\nSLURM run: {run['wall_time_s']:.0f} s wall time, {len(run['sbatch'])} sbatch calls, "
          f"{len(run['jobs'])} SLURM jobs")
    for call in run["sbatch"]:
        print("  ", call)
    assert run["returncode"] == 0, failure_context(run)
    assert run["run_id"] and run["jobs"], "no SLURM job of this run was seen by squeue"
    # Every non-local rule went to SLURM: one sbatch call per SLURM job, each seen by squeue under the run's name.
    assert len(run["sbatch"]) == len(run["jobs"]) >= 8, (run["sbatch"], run["jobs"])
    assert re.findall(r"has been submitted with SLURM jobid (\d+)", run["log"]), failure_context(run)
    submitted = {re.search(r"--comment rule_(\w+?)_wildcards_", call).group(1) for call in run["sbatch"]
                 if "_wildcards_" in call}
    assert submitted == {"extract_calibrator", "solve_calibration", "apply_calibration", "image", "mosaic",
                         "measure_image", "measure_mosaic"}, submitted
    # The local rules ran in the submitting Snakemake, and only they (leaving out the failed jobs' logs the
    # log quotes, in which the in-job Snakemake calls its one job local).
    own = re.sub(r"^Logfile [^\n]*:\n={80}\n.*?^={80}$", "", run["log"], flags=re.MULTILINE | re.DOTALL)
    local = set(re.findall(r"^local(?:rule|checkpoint) (\w+):", own, re.MULTILINE)) - {"all"}
    assert {"plan_day", "day_index", "calibrator_catalogue", "calibration_registry", "mosaic_plan"} <= local \
        <= LOCAL_RULES, local
    # Jobs end COMPLETED, except the image attempts SLURM killed (test below).
    for jobid, job in run["jobs"].items():
        assert job["states"][-1] == "COMPLETED" or job["comment"].startswith("rule_image_"), (jobid, job)
    # No account given: the plugin finds none to guess and submits without -A.
    assert not any(" -A " in call for call in run["sbatch"]), run["sbatch"]


def test_products_exist_and_pass_qa(slurm_run):
    run = slurm_run
    assert run["returncode"] == 0, failure_context(run)
    paths = Products(run["out"])
    calibrator, target = run["groups"]
    assert json.loads(Path(paths.solve_qa(calibrator)).read_text())["passed"]
    for group in run["groups"]:
        qa = json.loads(Path(paths.image_qa(group)).read_text())
        assert qa["passed"], (group, qa["reasons"])
        assert Path(paths.image_product(group, "pbcor")).exists()
    day = calibrator[:10]
    plan = json.loads(Path(paths.mosaic_plan(day)).read_text())
    first = next(w for w in plan["windows"] if w["window_id"] == calibrator)
    assert first["imaged"] == [calibrator, target] and first["waiting"] is None
    assert json.loads(Path(paths.mosaic_qa(calibrator)).read_text())["passed"]


def test_image_jobs_killed_for_memory_then_resubmitted_with_twice_the_memory(slurm_run):
    run = slurm_run
    assert run["returncode"] == 0, failure_context(run)
    assert re.search(r"Error in rule image", run["log"]), failure_context(run)
    limit_bytes = IMAGE_MEM_MB * 1024 * 1024
    for group in run["groups"]:
        attempts = jobs_of(run, "image", group)
        assert len(attempts) == 2, attempts
        killed, retried = attempts
        # SLURM's record: the first asked for IMAGE_MEM_MB and failed, the second for twice that and completed.
        assert killed["min_memory"] == f"{IMAGE_MEM_MB}M" and killed["states"][-1] in FAILED_STATES, killed
        assert retried["min_memory"] == f"{2 * IMAGE_MEM_MB}M" and retried["states"][-1] == "COMPLETED", retried
        assert killed["partition"] == retried["partition"] == "debug"
        # ... and why: slurmstepd's own message in the job's SLURM log (kept, the job failed).
        slurm_log = run["dir"] / ".snakemake" / "slurm_logs" / "rule_image" / group / f"{killed['jobid']}.log"
        used = [int(n) for n, lim in re.findall(r"exceeded memory limit \((\d+) > (\d+)\)", slurm_log.read_text())
                if int(lim) == limit_bytes]
        assert used and min(used) > limit_bytes, slurm_log.read_text()[-3000:]
        # Snakemake saw the failure and resubmitted the job as attempt 2.
        assert re.search(rf"SLURM-job '{killed['jobid']}' failed, SLURM status is: '(FAILED|OUT_OF_MEMORY|CANCELLED)'",
                         run["log"]), failure_context(run)
        retried_log = slurm_log.with_name(f"{retried['jobid']}.log").read_text()
        assert "--attempt 2" in retried_log
    calls = sbatch_of(run, "image")
    assert sorted(int(re.search(r"--mem (\d+)", call).group(1)) for call in calls) == \
        [IMAGE_MEM_MB] * 2 + [2 * IMAGE_MEM_MB] * 2, calls
    assert all(re.search(r"-t (\d+)", call).group(1) in ("10", "20") for call in calls)  # runtime x attempt too


def test_calibration_on_the_priority_partition_imaging_on_debug(slurm_run):
    run = slurm_run
    assert run["returncode"] == 0, failure_context(run)
    for rule in ("extract_calibrator", "solve_calibration"):
        jobs = jobs_of(run, rule)
        assert jobs and all(job["partition"] == "priority" for job in jobs), (rule, jobs)
        assert all(" -p priority " in call for call in sbatch_of(run, rule))
    for rule in ("apply_calibration", "image", "mosaic"):
        jobs = jobs_of(run, rule)
        assert jobs and all(job["partition"] == "debug" for job in jobs), (rule, jobs)
        assert all(" -p debug " in call for call in sbatch_of(run, rule))


def test_index_jobs_go_to_slurm_as_one_batch(slurm_run):
    run = slurm_run
    assert run["returncode"] == 0, failure_context(run)
    assert not sbatch_of(run, "index_group"), "index_group jobs were submitted one by one"
    batches = [call for call in run["sbatch"] if "/slurm_logs/group_index" in call]
    assert len(batches) == 1, run["sbatch"]
    # The batch runs its jobs one after another: one CPU, one job's memory, the sum of their time limits.
    n_jobs = len(run["groups"])
    assert "--cpus-per-task=1 " in batches[0] and " --mem 1000 " in batches[0], batches[0]
    assert f" -t {n_jobs * INDEX_RUNTIME_MIN} " in batches[0], batches[0]
    assert re.search(r"Group job index \(jobs in lexicogr. order\)", run["log"])
    batch_jobs = [job for job in run["jobs"].values() if job["comment"].startswith("rule_index")]
    assert len(batch_jobs) == 1 and batch_jobs[0]["states"][-1] == "COMPLETED", batch_jobs
    for group in run["groups"]:
        assert Path(Products(run["out"]).group_record(group)).exists()


def test_same_results_as_a_local_run(slurm_run):
    run = slurm_run
    assert run["returncode"] == 0, failure_context(run)
    assert run["local_returncode"] == 0, run["local_log"][-3000:]
    ours, local = Products(run["out"]), Products(run["local_out"])
    calibrator = run["groups"][0]
    a, b = (json.loads(Path(p.solve_qa(calibrator)).read_text()) for p in (ours, local))
    for key in ("passed", "refant", "n_good_antennas", "n_antennas_in_data", "flagged_fraction"):
        assert a[key] == b[key], key
    for key in ("median_snr", "phase_scatter_deg"):
        assert a[key] == pytest.approx(b[key], rel=1e-4), key
    for group in run["groups"]:
        a, b = (json.loads(Path(p.image_qa(group)).read_text()) for p in (ours, local))
        assert a["passed"] == b["passed"] and a["size_px"] == b["size_px"]
        assert a["rms_jy"] == pytest.approx(b["rms_jy"], rel=1e-3)
        assert a["peak_jy"] == pytest.approx(b["peak_jy"], rel=1e-3)
    a, b = (json.loads(Path(p.mosaic_qa(calibrator)).read_text()) for p in (ours, local))
    assert a["passed"] == b["passed"] and a["n_tiles"] == b["n_tiles"] == 2
    assert a["rms_jy"] == pytest.approx(b["rms_jy"], rel=1e-3)


# ------------------------------------------------------------------------------------------------ killed on SLURM

KILLED_RUN_TIMEOUT_S = 900


def wait_for(condition, timeout_s: float, what: str, poll_s: float = 1.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def cron(workdir: Path, configfile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "dsa110-continuum"), "cron", "--profile", str(PROFILE), "--configfile",
                           str(configfile), "--snakefile", str(REPO / "Snakefile"), "--workdir", str(workdir)],
                          cwd=REPO, env=snakemake_env(), capture_output=True, text=True, timeout=KILLED_RUN_TIMEOUT_S)


@pytest.fixture(scope="module")
def killed_slurm_run(slurm_run, tmp_path_factory):
    """The session on SLURM again, broken twice: a running apply job killed with SIGKILL (SLURM ends it;
    Snakemake resubmits it), then Snakemake itself killed with SIGKILL while its jobs run on SLURM. A cron run
    started at once must stay out while those jobs work; the cron run after them finishes the workflow."""
    tmp = tmp_path_factory.mktemp("slurm-killed")
    workdir = tmp / "work"
    workdir.mkdir()
    configfile = write_config(tmp / "config.yaml", {**slurm_run["session"]["config"],
                                                    "output_dir": str(workdir / "results")})
    poller = SqueuePoller()
    poller.start()

    def running(rule):
        return [jobid for jobid, job in poller.jobs.items() if job.get("workdir") == str(workdir)
                and job.get("comment", "").startswith(f"rule_{rule}_") and job["states"][-1] == "RUNNING"]

    log = open(tmp / "killed.log", "w")
    proc = subprocess.Popen([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--configfile", str(configfile),
                             "--workflow-profile", "none", "--profile", str(PROFILE)], cwd=workdir,
                            env=snakemake_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        killed_job = wait_for(lambda: running("apply_calibration"), KILLED_RUN_TIMEOUT_S, "a running apply job")[0]
        subprocess.run(["scancel", "--full", "--signal=KILL", killed_job], check=True, timeout=60)
        wait_for(lambda: running("image"), KILLED_RUN_TIMEOUT_S, "a running image job")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        log.close()
    left_running = [jobid for jobid, job in poller.jobs.items() if job.get("workdir") == str(workdir)
                    and job["states"][-1] in ("RUNNING", "PENDING")]
    while_running = cron(workdir, configfile)
    wait_for(lambda: not [j for j in poller.jobs.values() if j.get("workdir") == str(workdir)
                          and j["states"][-1] in ("RUNNING", "PENDING", "COMPLETING")],
             KILLED_RUN_TIMEOUT_S, "the killed run's SLURM jobs to end", poll_s=2.0)
    after = cron(workdir, configfile)
    poller.stop()
    jobs = {jobid: job for jobid, job in poller.jobs.items() if job.get("workdir") == str(workdir)}
    return {"out": workdir / "results", "killed_job": killed_job, "left_running": left_running,
            "while_running": while_running, "after": after, "jobs": jobs, "log": (tmp / "killed.log").read_text()}


def test_a_killed_slurm_job_is_resubmitted(killed_slurm_run):
    run = killed_slurm_run
    killed = run["jobs"][run["killed_job"]]
    assert killed["states"][-1] in FAILED_STATES, killed
    assert f"SLURM-job '{run['killed_job']}' failed" in run["log"], run["log"][-3000:]
    again = [job for jobid, job in run["jobs"].items() if job["comment"] == killed["comment"]
             and int(jobid) > int(run["killed_job"])]
    assert [job["states"][-1] for job in again] == ["COMPLETED"], again


def test_a_run_while_a_killed_runs_jobs_work_stays_out(killed_slurm_run):
    run = killed_slurm_run
    assert run["left_running"], "Snakemake was killed with no job on SLURM"
    assert run["while_running"].returncode == 0, run["while_running"].stderr
    assert "of an earlier run still work in" in run["while_running"].stderr
    assert run["after"].returncode == 0, run["after"].stderr[-3000:]


def test_no_job_ran_twice_and_the_products_match(killed_slurm_run, slurm_run):
    run = killed_slurm_run
    completed = [job["comment"] for job in run["jobs"].values() if job["states"][-1] == "COMPLETED"]
    assert len(completed) == len(set(completed)), sorted(completed)
    ours, reference = Products(run["out"]), Products(slurm_run["out"])
    for group in slurm_run["groups"]:
        a, b = (json.loads(Path(p.image_qa(group)).read_text()) for p in (ours, reference))
        assert a["passed"] and a["size_px"] == b["size_px"]
        assert a["rms_jy"] == pytest.approx(b["rms_jy"], rel=1e-3)
        assert a["peak_jy"] == pytest.approx(b["peak_jy"], rel=1e-3)
    assert json.loads(Path(ours.mosaic_qa(slurm_run["groups"][0])).read_text())["passed"]
