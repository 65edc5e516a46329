from dsa110_continuum.naming import Products
from dsa110_continuum.products.db import connect, light_curve, plot_light_curve, sync, update_variability
from dsa110_continuum.records import job_step, utc_now_iso, write_json_atomic
from dsa110_continuum.science.photometry import write_variability

paths = Products(snakemake.config["output_dir"])
thresholds = snakemake.params.thresholds
with job_step(snakemake) as log:
    engine = connect(snakemake.params.url)
    changes = sync(engine, paths)
    log.info("synced days %s, removed %s", ", ".join(changes["days_synced"]) or "none",
             ", ".join(changes["days_removed"]) or "none")
    rows = update_variability(engine, eta_threshold=thresholds["eta_threshold"],
                              vs_threshold=thresholds["vs_threshold"], m_threshold=thresholds["m_min"])
    candidates = [r for r in rows if r["candidate"]]
    for row in candidates:
        plot_light_curve(light_curve(engine, row["name"]), row["name"], paths.light_curve_plot(row["name"]), row)
    write_variability(rows, snakemake.output.variability)
    log.info("%d light curves, %d variable candidates", len(rows), len(candidates))
    write_json_atomic(snakemake.output[0], {**changes, "synced_at": utc_now_iso(), "n_light_curves": len(rows),
                                            "candidates": [r["name"] for r in candidates],
                                            "database": engine.url.render_as_string(hide_password=True)})
