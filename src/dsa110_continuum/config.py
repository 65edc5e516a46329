"""The workflow configuration outside Snakemake (for the command-line tools), validated as the workflow does.

Defaults live in config/schema.yaml alone; ``snakemake.utils.validate`` fills them in.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from snakemake.utils import update_config, validate
from snakemake_interface_common.exceptions import WorkflowError

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


class ConfigError(WorkflowError):
    """An invalid configuration; the message names the offending key and what is allowed."""


def validate_config(config: dict, schema_path: str | Path = REPO_CONFIG / "schema.yaml") -> dict:
    """``config`` with the schema's defaults filled in (in place); raises ConfigError naming a bad key.

    ``snakemake.utils.validate`` does the work; its message (which quotes the whole schema) is shortened
    to the key, the problem and, for a choice, the allowed values.
    """
    try:
        validate(config, str(schema_path), set_default=True)
    except WorkflowError as err:
        cause = err.__context__
        if cause is None or not hasattr(cause, "absolute_path"):
            raise
        key = ".".join(str(part) for part in cause.absolute_path) or "(top level)"
        raise ConfigError(f"invalid configuration at '{key}': {cause.message}") from None
    return config


def check_output_dir(output_dir: str) -> None:
    """Raise ConfigError when ``output_dir`` cannot be written, judged on its nearest existing ancestor
    (so that checking creates nothing)."""
    existing = Path(output_dir).absolute()
    while not existing.exists():
        existing = existing.parent
    if not os.access(existing, os.W_OK):
        cause = "read-only file system" if os.statvfs(existing).f_flag & os.ST_RDONLY else "permission denied"
        raise ConfigError(f"output_dir {output_dir} cannot be written ({cause} at {existing})")


def parse_overrides(entries: list[str]) -> dict:
    """``key=value`` pairs parsed exactly as ``snakemake --config`` parses them."""
    if not entries:
        return {}  # importing snakemake.cli loads its executor plugins: ~10 s where SLURM is not reachable
    from snakemake.cli import parse_config

    try:
        return parse_config(entries)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def load_config(config_paths: str | Path | list = REPO_CONFIG / "config.yaml", overrides: dict | None = None,
                schema_path: str | Path = REPO_CONFIG / "schema.yaml") -> dict:
    """YAML config files merged in order (as ``snakemake --configfile a b`` merges them) with ``overrides`` on top,
    validated; as the workflow would see it."""
    paths = [config_paths] if isinstance(config_paths, (str, Path)) else list(config_paths)
    config = {}
    for path in paths:
        update_config(config, yaml.safe_load(Path(path).read_text()) or {})
    update_config(config, overrides or {})
    try:
        return validate_config(config, schema_path)
    except ConfigError as err:
        raise ConfigError(f"{', '.join(map(str, paths))}: {err}") from None
