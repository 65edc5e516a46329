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
            write_json_atomic(failure_record, {**context, "reason": reason, "log": log_path, "failed_at": utc_now_iso()})
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
