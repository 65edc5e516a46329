"""Command line: ``dsa110-continuum simulate | convert | extract-calibrator | apply | solve | image | summary |
status | cron``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

PRESETS = {
    # An hour around a 3C286 transit, enough for one mosaic: what `make demo` runs. 24 core antennas keep
    # the images (whole primary beam, beam sampled by 3 pixels) small; 768 channels as the real array.
    "demo": dict(n_observations=13, antennas=tuple(int(k) for k in range(0, 102, 4))[:24], n_chan_per_subband=48,
                 n_integrations=24, n_variable_sources=4),
    # Tiny data for tests.
    "tiny": dict(n_observations=2, n_antennas=10, n_chan_per_subband=4, n_integrations=6),
    # The real instrument's scale, for the benchmark.
    "full": dict(n_observations=1, n_antennas=96, n_chan_per_subband=48, n_integrations=24),
}


def _simulate(args) -> None:
    from .simulate.session import SimulationConfig, SkySource, simulate_session, start_for_transit
    from .sky.catalogue import load_calibrator_catalogue

    cfg = SimulationConfig(**PRESETS[args.preset])
    overrides = {k: getattr(args, k) for k in ("n_observations", "n_antennas", "n_chan_per_subband",
                                               "n_integrations", "pointing_dec_deg", "seed", "n_variable_sources",
                                               "variability_factor", "reference_flux_scale")
                 if getattr(args, k) is not None}
    if args.reference_offset_arcsec:
        overrides["reference_offset_arcsec"] = tuple(args.reference_offset_arcsec)
    cfg = replace(cfg, **overrides, add_noise=not args.no_noise, apply_gains=not args.no_gains)
    calibrators = [SkySource(c.name, c.ra_deg, c.dec_deg, c.flux_1400mhz_jy, c.spectral_index)
                   for c in load_calibrator_catalogue(args.calibrators)] if args.calibrators else []
    cfg = replace(cfg, calibrators=calibrators)
    if args.transit:
        match = [c for c in calibrators if c.name == args.transit]
        if not match:
            sys.exit(f"--transit {args.transit}: not in {args.calibrators}")
        cfg = replace(cfg, start_utc=start_for_transit(match[0], args.date, observation_index=args.transit_observation,
                                                       n_integrations=cfg.n_integrations))
        if args.pointing_dec_deg is None:
            from astropy.time import Time

            from .sky.coords import apparent_radec_deg

            cfg = replace(cfg, pointing_dec_deg=round(float(
                apparent_radec_deg(match[0].ra_deg, match[0].dec_deg, Time(args.date).mjd)[1]), 1))
    elif args.start:
        cfg = replace(cfg, start_utc=args.start)
    truth = simulate_session(cfg, args.incoming, args.truth)
    print(f"wrote {len(truth['observations'])} observations x {cfg.n_subbands} subbands to {args.incoming}; "
          f"truth in {args.truth}")


def _print_json(record: dict) -> None:
    import json

    print(json.dumps(record, indent=1))


def _convert(args) -> None:
    from .convert.stream import convert_observation

    _print_json(convert_observation([str(p) for p in args.files], args.ms, n_subbands=args.n_subbands,
                                    threads=args.threads))


def _extract_calibrator(args) -> None:
    from .calibrate.extract import extract_calibrator
    from .sky.catalogue import Calibrator

    name, ra_deg, dec_deg = args.calibrator
    calibrator = Calibrator(name, float(ra_deg), float(dec_deg), flux_1400mhz_jy=1.0, spectral_index=0.0)
    field = None
    if args.field_catalogue:
        from .calibrate.extract import field_sources_around
        from .config import validate_config
        from .science.reference import read_reference

        config = validate_config({})  # the schema's defaults
        science, calibration = config["science"], config["calibration"]
        reference = read_reference(args.field_catalogue, columns=science["reference_columns"],
                                   flux_unit=science["reference_flux_unit"])
        field = field_sources_around(calibrator, reference.ra_deg, reference.dec_deg, reference.flux_jy,
                                     match_radius_arcsec=science["match_radius_arcsec"],
                                     spectral_index=calibration["field_model_spectral_index"],
                                     min_apparent_flux_jy=calibration["field_model_min_apparent_jy"])
    _print_json(extract_calibrator([str(p) for p in args.files], args.ms, calibrator, n_subbands=args.n_subbands,
                                   threads=args.threads, field_sources=field))


def _apply(args) -> None:
    from .calibrate.apply import BrightSources, write_calibrated_ms
    from .calibrate.point_sources import PointSources
    from .config import validate_config
    from .flag.rfi import flag_ms
    from .science.reference import read_reference
    from .sky.catalogue import load_calibrator_catalogue

    defaults = validate_config({})  # the schema's
    calibration, science, field = defaults["calibration"], defaults["science"], None
    if args.field_catalogue:
        reference = read_reference(args.field_catalogue, columns=science["reference_columns"],
                                   flux_unit=science["reference_flux_unit"])
        field = PointSources(reference.ra_deg, reference.dec_deg, reference.flux_jy,
                             calibration["field_model_spectral_index"])
    calibrators = tuple(load_calibrator_catalogue(args.calibrators)) if args.calibrators else ()
    bright = BrightSources(calibrators, calibration["bright_source_min_apparent_jy"], field,
                           calibration["drift_correction_min_apparent_jy"], defaults["image"]["fov_deg"] / 2)
    flagging = {}
    record = write_calibrated_ms([str(p) for p in args.files], args.ms, args.bandpass_table, args.gain_table,
                                 n_subbands=args.n_subbands, threads=args.threads, bright_sources=bright,
                                 before_rename=lambda staged: flagging.update(
                                     flag_ms(staged, args.flagger, processes=args.threads)))
    _print_json({**record, **flagging})


def _solve(args) -> None:
    from .calibrate.solve import SolveSettings, solve
    from .records import read_json
    from .sky.catalogue import Calibrator

    index, extraction = read_json(args.index), read_json(args.extraction_record)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from .casa import route_casa_log

    route_casa_log()
    _print_json(solve(args.calibrator_ms, str(out / "bandpass.bcal"), str(out / "gains.gcal"),
                      cal=Calibrator(**index["calibrator"]["calibrator"]), transit_mjd=index["calibrator"]["transit_mjd"],
                      pointing_dec_deg=index["pointing_dec_deg"],
                      integration_times_mjd=extraction["integration_times_mjd"],
                      settings=SolveSettings(bandpass_solver=args.bandpass_solver)))


def _image(args) -> None:
    from .image.imagers import ImagingSettings
    from .image.observation import image_observation
    from .records import read_json

    config = _load(args)
    settings, science = config["image"], config["science"]
    reference = None
    if settings["clean_mask"] == "reference" and science["reference_catalogue"]:
        from .science.reference import read_reference

        reference = read_reference(science["reference_catalogue"], columns=science["reference_columns"],
                                   flux_unit=science["reference_flux_unit"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    products = {p: str(out / f"{p}.fits") for p in ("image", "pbcor", "pb", "residual", "psf", "model")}
    record = read_json(args.record)
    _print_json(image_observation(
        args.ms, {**products, "quicklook": str(out / "quicklook.png")}, group_id=record["group_id"],
        pointing_dec_deg=record["pointing_dec_apparent_deg"],
        settings=ImagingSettings.from_config(settings, imager=args.imager),
        fov_deg=settings["fov_deg"], pixels_per_beam=settings["pixels_per_beam"], pb_cutoff=settings["pb_cutoff"],
        qa_thresholds=settings["qa"], subtracted=record.get("bright_sources", []),
        known_sources=None if reference is None else (reference.ra_deg, reference.dec_deg),
        clean_mask_radius_beams=settings["clean_mask_radius_beams"], threads=args.threads,
        log_path=str(out / "imager.log")))


def config_options(command) -> None:
    command.add_argument("--configfile", nargs="+", default=["config/config.yaml"],
                         help="the run's config files, merged in order")
    command.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE",
                         help="the same overrides as the run's `snakemake --config`")


def _load(args) -> dict:
    from .config import ConfigError, load_config, parse_overrides

    try:
        return load_config(args.configfile, parse_overrides(args.config))
    except ConfigError as err:
        sys.exit(f"ERROR: {err}")


def _refresh_status(config: dict) -> dict:
    """Write the status JSON, metrics file and HTML page; return the status."""
    from .naming import Products
    from .ops.page import render_status_page
    from .ops.status import collect, write_metrics
    from .records import write_json_atomic

    paths = Products(config["output_dir"])
    status = collect(config)
    write_json_atomic(paths.status_json(), status)
    write_metrics(status, config["status"]["metrics_file"] or paths.metrics())
    render_status_page(status, paths.status_page())
    return status


def _status(args) -> None:
    import json

    from .ops.status import format_text

    status = _refresh_status(_load(args))
    print(json.dumps(status, indent=1) if args.json else format_text(status))


def _cron(args) -> None:
    from .ops import cron

    config = _load(args)
    snakemake_args = ["--snakefile", args.snakefile, "--configfile", *args.configfile]
    if args.config:
        snakemake_args += ["--config", *args.config]
    if args.profile:  # the workflow's default (local) profile would override the chosen one key by key
        snakemake_args += ["--workflow-profile", "none", "--profile", args.profile]
    sys.exit(cron.run(snakemake_args + args.snakemake_args, output_dir=config["output_dir"], workdir=args.workdir,
                      snakemake=str(Path(sys.executable).parent / "snakemake"),
                      after_run=lambda: _refresh_status(config)))


def _summary(args) -> None:
    from .ops.summary import print_run_summary

    sys.exit(0 if print_run_summary(_load(args), truth_dir=args.truth) else 1)


def _database(args) -> None:
    from .naming import Products
    from .products.db import DatabaseError, connect, database_url, sync, update_variability

    config = _load(args)
    try:
        engine = connect(database_url(config))
        print(sync(engine, Products(config["output_dir"]), rebuild=args.action == "rebuild"))
        thresholds = config["science"]["variability"]
        rows = update_variability(engine, eta_threshold=thresholds["eta_threshold"],
                                  vs_threshold=thresholds["vs_threshold"], m_threshold=thresholds["m_min"])
    except DatabaseError as err:
        sys.exit(f"ERROR: {err}")
    print(f"{len(rows)} light curves, {sum(r['candidate'] for r in rows)} variable candidates in "
          f"{engine.url.render_as_string(hide_password=True)}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="dsa110-continuum", description="DSA-110 continuum pipeline tools")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="write simulated DSA-110 observations (UVH5) and their truth")
    sim.add_argument("--incoming", required=True, type=Path, help="directory for the UVH5 files")
    sim.add_argument("--truth", required=True, type=Path, help="directory for the sky model, gains and session record")
    sim.add_argument("--preset", choices=sorted(PRESETS), default="demo")
    sim.add_argument("--n-observations", type=int)
    sim.add_argument("--n-antennas", type=int)
    sim.add_argument("--n-chan-per-subband", type=int)
    sim.add_argument("--n-integrations", type=int)
    sim.add_argument("--pointing-dec-deg", type=float, help="apparent declination the array points at")
    sim.add_argument("--seed", type=int)
    sim.add_argument("--start", help="UTC start of the first observation, YYYY-MM-DDTHH:MM:SS")
    sim.add_argument("--calibrators", help="calibrator catalogue CSV whose sources are put on the sky")
    sim.add_argument("--transit", help="start so that this calibrator transits mid-observation")
    sim.add_argument("--transit-observation", type=int, default=1, help="which observation the transit falls in")
    sim.add_argument("--date", default="2025-06-01T00:00:00", help="UTC day of the transit")
    sim.add_argument("--n-variable-sources", type=int, help="field sources brighter in every other observation")
    sim.add_argument("--variability-factor", type=float, help="how much brighter (default 1.5)")
    sim.add_argument("--reference-offset-arcsec", type=float, nargs=2, metavar=("RA", "DEC"),
                     help="misplace the reference catalogue written beside the truth")
    sim.add_argument("--reference-flux-scale", type=float, help="scale the reference catalogue's fluxes")
    sim.add_argument("--no-noise", action="store_true")
    sim.add_argument("--no-gains", action="store_true", help="unit antenna gains")
    sim.set_defaults(func=_simulate)

    def observation_command(name, help_text, func):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("files", nargs="+", type=Path, help="the observation's UVH5 subband files")
        command.add_argument("--ms", required=True, type=Path, help="Measurement Set to write")
        command.add_argument("--n-subbands", type=int, default=16)
        command.add_argument("--threads", type=int, default=2)
        command.set_defaults(func=func)
        return command

    observation_command("convert", "one observation's UVH5 subband files -> a Measurement Set at the meridian",
                        _convert)
    extract = observation_command("extract-calibrator", "an observation phased to a calibrator, averaged in time",
                                  _extract_calibrator)
    extract.add_argument("--calibrator", nargs=3, required=True, metavar=("NAME", "RA_DEG", "DEC_DEG"))
    extract.add_argument("--field-catalogue", type=Path, help="NVSS-style reference catalogue (VizieR columns, mJy) "
                         "whose sources are modelled beside the calibrator, as the workflow does")
    apply = observation_command("apply", "a calibrated Measurement Set straight from the raw files", _apply)
    apply.add_argument("--bandpass-table", required=True)
    apply.add_argument("--gain-table", required=True)
    apply.add_argument("--flagger", choices=["aoflagger", "tfcrop", "rflag", "none"], default="aoflagger")
    apply.add_argument("--calibrators", type=Path, help="calibrator catalogue whose sources bright through the beam "
                       "are subtracted, as the workflow does")
    apply.add_argument("--field-catalogue", type=Path, help="NVSS-style reference catalogue (VizieR columns, mJy) "
                       "whose sources' drift through the beam is taken out, as the workflow does")

    solv = sub.add_parser("solve", help="solve bandpass + phase gains on an extracted calibrator MS (CASA)")
    solv.add_argument("calibrator_ms", help="from `extract-calibrator`")
    solv.add_argument("--index", required=True, help="the observation's group index record (JSON)")
    solv.add_argument("--extraction-record", required=True, help="the JSON `extract-calibrator` printed")
    solv.add_argument("--out", required=True, help="directory for bandpass.bcal and gains.gcal")
    solv.add_argument("--bandpass-solver", choices=["stefcal", "casa"], default="stefcal")
    solv.set_defaults(func=_solve)

    img = sub.add_parser("image", help="image a calibrated MS as the workflow does (defaults from config/schema.yaml)")
    img.add_argument("ms")
    img.add_argument("--record", required=True, help="the calibrated MS's JSON record (pointing, id)")
    img.add_argument("--out", required=True, help="directory for the products")
    img.add_argument("--imager", choices=["auto", "wsclean", "tclean"], default="auto")
    img.add_argument("--threads", type=int, default=2)
    img.set_defaults(func=_image)
    config_options(img)

    summ = sub.add_parser("summary", help="what the workflow produced, and checks against the simulation truth")
    config_options(summ)
    summ.add_argument("--truth", help="truth directory written by `simulate`")
    summ.set_defaults(func=_summary)

    db = sub.add_parser("database", help="bring the products database up to date with the files, or rebuild it")
    config_options(db)
    db.add_argument("action", choices=["sync", "rebuild"])
    db.set_defaults(func=_database)

    stat = sub.add_parser("status", help="observations per stage, waiting, failures, SLURM, last run, disk; also "
                                         "writes the status JSON, metrics file and HTML page")
    config_options(stat)
    stat.add_argument("--json", action="store_true", help="print the status as JSON")
    stat.set_defaults(func=_status)

    cron_cmd = sub.add_parser("cron", help="one locked, logged, resumable run of the workflow (for crontab)")
    config_options(cron_cmd)
    cron_cmd.add_argument("--profile", help="Snakemake profile, e.g. profiles/slurm")
    cron_cmd.add_argument("--snakefile", default="Snakefile")
    cron_cmd.add_argument("--workdir", default=".", help="where Snakemake runs (its .snakemake/ lives here)")
    cron_cmd.add_argument("snakemake_args", nargs="*", help="more arguments for snakemake, after --")
    cron_cmd.set_defaults(func=_cron)

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
