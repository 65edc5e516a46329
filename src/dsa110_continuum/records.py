"""Small JSON records that rules write beside their products (atomically) and that summaries read."""

from __future__ import annotations

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


def write_json_atomic(path: str | Path, record: dict) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_json(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def failure_reason(path: str | Path) -> str | None:
    """The reason in a failure record, or None when there is none."""
    return read_json(path)["reason"] if os.path.exists(path) else None


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def logged_step(log_path: str, *, failure_record: str | None = None, **context):
    """Log to ``log_path``; on an exception, log it, write ``failure_record`` with the reason and fail.

    An InputError ends the job with its one-line message; anything else is re-raised with its traceback.

    A success removes a failure record left by an earlier attempt.
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
        reason = f"{type(err).__name__}: {err}"
        detail = "" if isinstance(err, InputError) else "\n" + traceback.format_exc()
        logging.getLogger("dsa110_continuum").error("%s%s", reason, detail)
        if failure_record:
            write_json_atomic(failure_record, {"log": log_path, **context, "reason": reason,
                                               "failed_at": utc_now_iso()})
        print(f"ERROR: {reason} (log: {log_path})", file=sys.stderr)
        if isinstance(err, InputError):
            raise SystemExit(1) from None
        raise
    else:
        if failure_record and os.path.exists(failure_record):
            os.remove(failure_record)
    finally:
        root.removeHandler(handler)
        handler.close()


def job_step(smk, *, failure_step: str | None = None):
    """``logged_step`` for a Snakemake script job: its log, and for a per-observation step its failure record.

    The failure record (``failures/<step>/<group>.json``) names the step, the observation and the log
    (relative to the output directory).
    """
    products = Products(smk.config["output_dir"])
    log_path = smk.log[0]
    if failure_step is None:
        return logged_step(log_path)
    group = smk.wildcards.group
    return logged_step(log_path, failure_record=products.failure(failure_step, group), step=failure_step,
                       group=group, log=products.relative(log_path))
