"""Load the workflow configuration, fill in defaults and validate it against config/schema.yaml."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml


class ConfigError(ValueError):
    """An invalid configuration; the message names the offending key."""


def _with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if name not in instance and "default" in subschema:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultingValidator = _with_defaults(jsonschema.Draft202012Validator)


def validate_config(config: dict, schema_path: str | Path) -> dict:
    """A copy of ``config`` with schema defaults filled in; raises ConfigError naming the first bad key."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    config = copy.deepcopy(config)
    errors = sorted(_DefaultingValidator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        key = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ConfigError(f"invalid configuration at key '{key}': {err.message}")
    return config


def load_config(config_path: str | Path, schema_path: str | Path) -> dict:
    """Read a YAML config file and validate it."""
    config = yaml.safe_load(Path(config_path).read_text()) or {}
    try:
        return validate_config(config, schema_path)
    except ConfigError as err:
        raise ConfigError(f"{config_path}: {err}") from None
