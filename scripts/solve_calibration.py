import os

from dsa110_continuum.calibrate.solve import SolveError, SolveSettings, plot_solutions, solve
from dsa110_continuum.casa import route_casa_log
from dsa110_continuum.naming import Products
from dsa110_continuum.records import job_step, read_json, utc_now_iso, write_json_atomic
from dsa110_continuum.sky.catalogue import Calibrator

group = snakemake.wildcards.group
with job_step(snakemake) as log:
    route_casa_log(snakemake.log.casa)
    index = read_json(snakemake.input.index)
    transit = index["calibrator"]
    try:
        qa = solve(snakemake.input.ms, snakemake.output.bandpass, snakemake.output.gains,
                   cal=Calibrator(**transit["calibrator"]), transit_mjd=transit["transit_mjd"],
                   pointing_dec_deg=index["pointing_dec_deg"],
                   integration_times_mjd=read_json(snakemake.input.record)["integration_times_mjd"],
                   settings=SolveSettings(**snakemake.params.settings))
    except SolveError as err:  # the data could not be solved: a failed set, recorded; other errors fail the job
        log.exception("solve of %s failed", group)
        qa = {"passed": False, "reasons": [str(err)], "calibrator": transit["calibrator"],
              "transit_mjd": transit["transit_mjd"]}
    for table in (snakemake.output.bandpass, snakemake.output.gains):
        os.makedirs(table, exist_ok=True)  # left empty when the solve produced no usable table
    qa.update(set_id=group, solved_at=utc_now_iso(),
              log=Products(snakemake.config["output_dir"]).relative(snakemake.log.main))
    log.info("calibration set %s: %s %s", group, "PASSED" if qa["passed"] else "FAILED", "; ".join(qa["reasons"]))
    plot_solutions(snakemake.output.bandpass, snakemake.output.gains, qa, snakemake.output.plot)
    write_json_atomic(snakemake.output.qa, qa)
