"""One window's mosaic products: FITS mosaic, noise and coverage maps, QA record and quick-look."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from astropy.time import Time

from ..image.products import Observation, set_observatory, write_fits, write_quicklook
from .combine import MosaicError, Tile, linear_mosaic, mosaic_qa


def make_mosaic(window_id: str, members: list[str], image_qa: dict[str, dict], image_paths: dict[str, str],
                outputs: dict[str, str], *, pb_cutoff: float, dec_tolerance_deg: float, threads: int = 1) -> dict:
    """Mosaic the member images that passed QA; returns the mosaic's QA record.

    ``image_qa`` and ``image_paths`` hold the members that were imaged; the others (failed, skipped) are
    recorded as left out. Raises MosaicError when no member is usable or their declinations differ.
    """
    used = [g for g in members if g in image_qa and image_qa[g]["passed"]]
    left_out = {g: ("image failed QA: " + "; ".join(image_qa[g]["reasons"])) if g in image_qa else "no image"
                for g in members if g not in used}
    if not used:
        raise MosaicError(f"mosaic {window_id}: none of its {len(members)} observations has an image that passed QA")
    decs = {g: image_qa[g]["pointing_dec_deg"] for g in used}
    if max(decs.values()) - min(decs.values()) > dec_tolerance_deg:
        raise MosaicError(f"mosaic {window_id}: its observations point at different declinations "
                          f"({', '.join(f'{g}: {d:.3f}' for g, d in decs.items())})")
    tiles = [Tile(g, image_paths[g], image_qa[g]["rms_jy"], Observation.from_beam_record(g, image_qa[g]["beam_model"]))
             for g in used]
    result = linear_mosaic(tiles, pb_cutoff=pb_cutoff, threads=threads)
    header = result["wcs"].to_header()
    header["BMAJ"], header["BMIN"], header["BPA"] = (float(v) for v in result["beam"])
    mids = [image_qa[g]["mid_mjd"] for g in used]
    header["DATE-OBS"] = (Time(float(np.mean(mids)), format="mjd").isot, "mean mid-time of the tiles (UTC)")
    header["MJD-OBS"] = (float(np.mean(mids)), "[d] mean mid-time of the tiles (UTC)")
    header["FREQ"] = (float(np.mean([image_qa[g]["freq_hz"] for g in used])), "[Hz] mean frequency of the tiles")
    header["NTILES"] = (len(used), "tiles combined")
    header["PNTDEC"] = (float(np.mean(list(decs.values()))), "[deg] apparent pointing declination")
    set_observatory(header)
    header["OBJECT"] = f"mosaic {window_id}"
    with ThreadPoolExecutor(1) as writer:  # the disk takes ~1 GB at full scale meanwhile
        written = []
        for product, unit in (("mosaic", "Jy/beam"), ("noise", "Jy/beam"), ("coverage", "")):
            header["BUNIT"] = unit
            written.append(writer.submit(write_fits, outputs[product], result[product], header.copy()))
        qa = mosaic_qa(result["mosaic"], result["noise"], result["coverage"], n_tiles=len(used))
        write_quicklook(outputs["quicklook"], result["mosaic"], header, rms_jy=qa["noise_median_jy"],
                        title=f"mosaic {window_id}: {len(used)} tiles, noise {qa['noise_median_jy'] * 1e3:.1f} "
                              "mJy/beam")
        for write in written:
            write.result()
    return {"window_id": window_id, "members": members, "used": used, "left_out": left_out, "passed": True,
            "reasons": [], "dec_deg": header["PNTDEC"], "mid_mjd": header["MJD-OBS"], **qa}
