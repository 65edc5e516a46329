"""Configuration: the schema holds every default, and a bad value is named by its key."""

from pathlib import Path

import pytest
import yaml

from dsa110_continuum.config import ConfigError, check_output_dir, load_config, parse_overrides, validate_config

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "config" / "schema.yaml"


def test_shipped_config_is_valid_and_complete():
    config = load_config(REPO / "config" / "config.yaml")
    assert config["ingest"]["n_subbands"] == 16
    assert config["resources"]["convert"]["threads"] == 2
    assert config["convert"]["keep_ms"] is True


def test_defaults_fill_an_empty_config():
    config = validate_config({}, SCHEMA)
    assert config["ingest"] == {"n_subbands": 16, "group_tolerance_s": 60, "settle_time_s": 900,
                                "min_subbands": 12, "min_file_age_s": 30}
    assert config["resources"]["convert"]["mem_mb"] > 0


def test_partial_section_keeps_user_values_and_gets_defaults():
    config = validate_config({"ingest": {"settle_time_s": 60}}, SCHEMA)
    assert config["ingest"]["settle_time_s"] == 60 and config["ingest"]["min_subbands"] == 12


@pytest.mark.parametrize("bad, key", [
    ({"ingest": {"settle_time_s": -5}}, "ingest.settle_time_s"),
    ({"ingest": {"n_subbands": "sixteen"}}, "ingest.n_subbands"),
    ({"resources": {"convert": {"mem_mb": 4000}}}, "resources.convert"),
    ({"convert": {"integrations_per_block": 0}}, "convert.integrations_per_block"),
    ({"calibration": {"rfi_flagging": "aoflagger"}}, "calibration.rfi_flagging"),
])
def test_invalid_values_name_the_key(bad, key):
    with pytest.raises(ConfigError) as err:
        validate_config(bad, SCHEMA)
    assert f"'{key}'" in str(err.value)


def test_invalid_choice_lists_the_allowed_values():
    with pytest.raises(ConfigError, match=r"'aoflagger' is not one of \['rflag', 'tfcrop', 'none'\]"):
        validate_config({"calibration": {"rfi_flagging": "aoflagger"}}, SCHEMA)


def test_misspelt_key_is_rejected_naming_the_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"ingset": {}}))
    with pytest.raises(ConfigError, match=rf"{path}: .*'ingset'"):
        load_config(path)


def test_overrides_are_parsed_as_snakemake_parses_them(tmp_path):
    config = load_config(REPO / "config" / "config.yaml", parse_overrides(["output_dir=/data/products",
                                                                           "incoming_dir=/data/in"]))
    assert config["output_dir"] == "/data/products" and config["incoming_dir"] == "/data/in"
    assert parse_overrides(["nx=3", "ny=0.5", "nz=True"]) == {"nx": 3, "ny": 0.5, "nz": True}
    with pytest.raises(ConfigError):
        parse_overrides(["no_equals_sign"])


def test_output_dir_check_creates_nothing(tmp_path):
    check_output_dir(str(tmp_path / "not" / "yet"))
    assert list(tmp_path.iterdir()) == []


def test_the_full_array_settings_merge_over_the_run_config():
    """``--configfile config/config.yaml config/full_array.yaml`` changes the imaging and nothing else."""
    base = load_config(REPO / "config" / "config.yaml")
    merged = load_config([REPO / "config" / "config.yaml", REPO / "config" / "full_array.yaml"])
    full_array = yaml.safe_load((REPO / "config" / "full_array.yaml").read_text())["image"]
    assert full_array and {key: merged["image"][key] for key in full_array} == full_array
    assert {k: v for k, v in merged.items() if k != "image"} == {k: v for k, v in base.items() if k != "image"}
    assert {k: v for k, v in merged["image"].items() if k not in full_array} == {
        k: v for k, v in base["image"].items() if k not in full_array}
