"""CASA tclean, run in its own process: ``python -m dsa110_continuum.image.tclean '<json request>'``.

The request (see ``imagers.run_imager``) gives the MS, output prefix, size, cell and settings; the
products are exported as ``<prefix>.<image|residual|psf|model>.fits``. Settings mirror WSClean's:
Briggs weighting, Hogbom clean to ``auto_threshold_sigma`` x rms (nsigma) inside the request's clean mask
(CASA region text) or else an auto-multithresh mask grown from ``auto_mask_sigma``, w-projection with
automatic planes. tclean's own primary beam stays out of it: the drift beam is applied afterwards (pblimit's
sign turns the image mask off; its size still limits where tclean cleans, so it is tiny, not -1, which would
leave nothing to clean). The automatic mask's sidelobe threshold is 1, not CASA's 2: a 12-antenna snapshot's
PSF sidelobes reach ~0.5, and at 2 the mask stays empty and nothing is cleaned.
"""

from __future__ import annotations

import json
import sys

from ..casa import route_casa_log


def main(argv=None) -> None:
    request = json.loads((argv or sys.argv[1:])[0])
    route_casa_log(request.get("casa_log"))
    from casatasks import exportfits, tclean

    settings, prefix = request["settings"], request["prefix"]
    masking = (dict(usemask="user", mask=request["clean_mask"]) if request.get("clean_mask") else
               dict(usemask="auto-multithresh", noisethreshold=settings["auto_mask_sigma"], sidelobethreshold=1.0,
                    lownoisethreshold=1.5, minbeamfrac=0.1, negativethreshold=0.0))
    tclean(vis=request["ms"], imagename=prefix, imsize=[request["size_px"]] * 2, cell=f"{request['cell_arcsec']}arcsec",
           stokes="I", specmode="mfs", nterms=1, deconvolver="hogbom", gridder="wproject", wprojplanes=-1,
           weighting="briggs", robust=settings["robust"], niter=settings["niter"], gain=0.1,
           cyclefactor=1.0, nsigma=settings["auto_threshold_sigma"], **masking, pblimit=-1e-3, pbcor=False,
           datacolumn="data", savemodel="none", parallel=False)
    for product in ("image", "residual", "psf", "model"):
        exportfits(imagename=f"{prefix}.{product}", fitsimage=f"{prefix}.{product}.fits", overwrite=True)


if __name__ == "__main__":
    main()
