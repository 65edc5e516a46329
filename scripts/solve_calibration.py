import os

from dsa110_continuum.calibrate import SolveSettings, solve
from dsa110_continuum.casa import route_casa_log
from dsa110_continuum.records import logged_step, read_json, utc_now_iso, write_json_atomic
from dsa110_continuum.registry import calibrator_from_record

group = snakemake.wildcards.group
with logged_step(snakemake.log.main) as log:
    route_casa_log(snakemake.log.casa)
    index = read_json(snakemake.input.index)
    transit = index["calibrator"]
    try:
        qa = solve(snakemake.input.ms, snakemake.output.tables, cal=calibrator_from_record(transit["calibrator"]),
                   transit_mjd=transit["transit_mjd"], pointing_dec_deg=index["pointing_dec_deg"],
                   integration_times_mjd=read_json(snakemake.input.record)["integration_times_mjd"],
                   settings=SolveSettings(**snakemake.params.settings))
    except Exception as err:  # a failed solve is a QA verdict, recorded, never a crash of the workflow
        log.exception("solve of %s failed", group)
        qa = {"passed": False, "reasons": [f"solve failed: {type(err).__name__}: {err}"],
              "calibrator": transit["calibrator"], "transit_mjd": transit["transit_mjd"],
              "bandpass_table": None, "gain_table": None}
    os.makedirs(snakemake.output.tables, exist_ok=True)  # empty when the solve produced no usable tables
    qa.update(set_id=group, solved_at=utc_now_iso(), log=snakemake.log.main)
    log.info("calibration set %s: %s %s", group, "PASSED" if qa["passed"] else "FAILED", "; ".join(qa["reasons"]))
    write_json_atomic(snakemake.output.qa, qa)
