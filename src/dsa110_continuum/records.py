"""Small JSON records that rules write beside their products (atomically) and that summaries read."""

from __future__ import annotations

import csv
import errno
import json
import logging
import os
import sys
import traceback
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from .naming import Products


class InputError(ValueError):
    """Bad input a user must fix (not a bug): reported as one clear line, with no traceback."""


#: Errors of the machine, not of the data: reported as one clear line and recorded, but retried by later runs.
ENVIRONMENT_ERRNOS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
                      errno.EROFS: "read-only file system", errno.EACCES: "permission denied"}


def environment_problem(err: BaseException) -> str | None:
    """What is wrong with the machine, if ``err`` is a full, read-only or forbidden output area."""
    if isinstance(err, OSError) and err.errno in ENVIRONMENT_ERRNOS:
        return f"{ENVIRONMENT_ERRNOS[err.errno]} writing {err.filename or 'an output'}"
    return None


def partial_path(path: str | Path, suffix: str = "") -> Path:
    """The hidden name beside ``path`` under which it is written (``.<name>.partial`` + ``suffix``, for writers
    that go by the extension): nothing under such a name is ever taken as a product."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial{suffix}")


@contextmanager
def atomic_output(path: str | Path, *, suffix: str = ""):
    """``partial_path(path, suffix)``, renamed onto ``path`` when the block succeeds, removed when it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path: str | Path, record: dict) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def write_csv_atomic(path: str | Path, fieldnames: list[str], rows: list[dict]) -> None:
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)


def save_figure(fig, path: str | Path) -> None:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_output(path, suffix=".png") as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def read_json(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def failure_reason(path: str | Path) -> str | None:
    """The reason in a failure record, or None when there is none."""
    return read_json(path)["reason"] if os.path.exists(path) else None


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def logged_step(log_path: str, *, failure_record: str | None = None, **context):
    """Log to ``log_path``; on an exception, log it and fail the job.

    Bad input (an InputError) ends the job with its one-line message and, given ``failure_record``, is
    recorded there with the reason: the workflow does not retry it until its inputs change or the record
    is deleted. A full, read-only or forbidden output area is reported the same way but recorded as
    ``permanent: false``, so later runs retry it. Anything else (a bug, a crash, an interrupted job) is
    re-raised with its traceback and left to Snakemake's retries. A success removes a failure record left
    by an earlier attempt.
    """
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield logging.getLogger("dsa110_continuum")
    except BaseException as err:
        environment = environment_problem(err)
        bad_input = isinstance(err, InputError)
        reason = environment or f"{type(err).__name__}: {err}"
        clear = bad_input or environment
        logging.getLogger("dsa110_continuum").error("%s%s", reason, "" if clear else "\n" + traceback.format_exc())
        if clear and failure_record:
            try:
                write_json_atomic(failure_record, {"log": log_path, **context, "reason": reason,
                                                   "permanent": bad_input, "failed_at": utc_now_iso()})
            except OSError:
                pass  # the output area itself is what failed
        print(f"ERROR: {reason} (log: {log_path})", file=sys.stderr)
        if clear:
            raise SystemExit(1) from None
        raise
    else:
        if failure_record and os.path.exists(failure_record):
            os.remove(failure_record)
    finally:
        root.removeHandler(handler)
        handler.close()


def job_step(smk, *, failure_step: str | None = None):
    """``logged_step`` for a Snakemake script job: its log, and for a per-observation (or per-window) step
    its failure record ``failures/<step>/<id>.json``, naming the step, the id and the log (relative to
    the output directory)."""
    products = Products(smk.config["output_dir"])
    log_path = smk.log[0]
    if failure_step is None:
        return logged_step(log_path)
    item = smk.wildcards.get("group") or smk.wildcards.get("window")
    record = products.failure(failure_step, item)
    if failed_permanently(record, list(smk.input)):
        # A retry of a job that just failed on bad input (Snakemake retries any failure): do not redo the work,
        # but say why again, in the job's log too (Snakemake empties it before the retry).
        message = f"ERROR: {read_json(record)['reason']} (recorded in {record}; not retried until the inputs change)"
        print(message, file=sys.stderr)
        with open(log_path, "a") as log:
            print(message, file=log)
        raise SystemExit(1)
    return logged_step(log_path, failure_record=record, step=failure_step, group=item,
                       log=products.relative(log_path))


def failed_permanently(failure_record: str, inputs: list[str]) -> bool:
    """Whether a step failed on bad input since its inputs last changed (the workflow does not retry it)."""
    if not os.path.exists(failure_record) or not read_json(failure_record).get("permanent", True):
        return False
    failed_at = os.stat(failure_record).st_mtime
    return all(os.stat(p).st_mtime <= failed_at for p in inputs if os.path.exists(p))
