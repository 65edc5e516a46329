"""RFI flags for one calibrated observation that do not depend on the sky: the sky is removed in numpy, AOFlagger
detects what is left.

Calibrated DSA-110 visibilities carry sky signal comparable to the thermal noise (sigma = SEFD / sqrt(2 dnu dt) =
2.31 Jy per real/imaginary part per visibility; a 15-20 Jy source is 6-8 sigma) and, phased to a fixed ICRS centre,
every off-centre source fringes in time and frequency. Thresholds on amplitudes (what AOFlagger strategies apply)
therefore flag the sky, preferentially where and when it is brightest. Per group of baselines:

1. The usable polarisations are averaged into one complex visibility I (after calibration RFI has the same phase
   in XX and YY, so it adds up; a sample with fewer usable polarisations is weighted as noisier).
2. Frequency high-pass on the COMPLEX data: the residual of a local quadratic fit over 7 channels (Savitzky-Golay;
   fits at the band edges and around masked channels use the nearest 7 usable channels). Sky fringes are smooth:
   a source 2.5 deg out on the longest (2.7 km) baseline turns once per ~10 channels, of which the filter passes
   3 % in amplitude (0.1 % of a 17-channel fringe), so even an 18 Jy source leaves < 0.2 % of the noise power,
   while a 1-3 channel line or a burst that is random from channel to channel keeps ~2/3 of its amplitude.
3. Noise power per baseline and 32-channel block from the median residual power; z = |residual|^2 / noise ~ Exp(1)
   for noise alone.
4. Persistent lines (z > 3 in at least half the integrations) and channels with a very strong sample are left
   out of their neighbours' fits, the fits redone and the test repeated until the mask settles, so that a strong
   line's leakage into the channels beside it (up to a third of its amplitude) is not flagged too. Then bursts:
   clipped mean z per (integration, 32-channel block) and over the rest of the integration. The noise is
   re-estimated without the lines and bursts.
5. AOFlagger (data/aoflagger_dsa110.lua, with ``residual_input = true``) runs on sqrt(z) - sqrt(pi)/2: a flat,
   zero-mean, sky-free image, BASELINES_PER_CALL baselines side by side; its SumThreshold (both directions),
   channel-RMS test and SIR operator localise what the numpy tests do not (partial bands, intermittent lines).
6. Bursts that are smooth in frequency (coherent broadband RFI at small delay) largely vanish in step 2. On
   baselines shorter than TIME_TEST_MAX_BASELINE_M (known only if ``uvw`` is given) I is also high-passed along
   time (quadratic over 11 integrations, per channel) and tested per (integration, block) and integration, with
   strong detections peeled off the fits as in step 4. The sky drifts slowly there (sources within 2.5 deg turn
   < 1 time per observation on a 300 m baseline; residual < 2 % of the noise power for the simulated skies).
   On longer baselines such bursts are only caught when their delay makes them sharp in frequency.
7. Weak lines on every baseline: each channel's clipped mean z over all baselines and unflagged samples against
   the median of its neighbours' (main process, after the workers).

Strategy.run() holds the GIL, so groups of baselines are shared among forked worker processes writing into one
shared buffer; AOFlagger is imported only in the workers (its wheel bundles another casacore than
python-casacore's, and importing it first breaks python-casacore).
"""

from __future__ import annotations

import functools
import mmap
import multiprocessing
import os
import tempfile
import warnings
from importlib import resources

import numpy as np
from scipy.ndimage import convolve1d, median_filter

BASELINES_PER_CALL = 16  # baselines side by side in one AOFlagger image
BASELINES_PER_UNIT = 64  # baselines analysed together in numpy (a multiple of BASELINES_PER_CALL)
STRATEGY = "aoflagger_dsa110.lua"
_TIME_BLOCK_LINE = "local time_block = 24"

FREQ_HALF, FREQ_DEGREE = 3, 2  # frequency high-pass: quadratic over 7 channels
TIME_HALF, TIME_DEGREE = 5, 2  # time high-pass: quadratic over 11 integrations
NOISE_BLOCK = 32  # channels per noise estimate (and per block of the time test)
LINE_Z = 3.0  # persistent line: z above this in at least half the integrations
STRONG_Z = 12.0  # a sample this strong (P = 6e-6 for noise) gets its channel left out of the neighbours' fits
CLIP = 10.0  # z is clipped here in the block/row/channel means
K_BLOCK = 6.0  # thresholds of those means, in Gaussian-equivalent sigmas (Wilson-Hilferty)
K_ROW = 6.0
K_GLOBAL = 8.0
GLOBAL_FLOOR = 0.05  # ... and at least this excess over the neighbouring channels, for the all-baseline line test
TIME_TEST_MAX_BASELINE_M = 300.0
MIN_TIME_TEST_INTEGRATIONS = 2 * TIME_HALF + 2

AMP_OFFSET = float(np.sqrt(np.pi) / 2)  # mean of sqrt(z) for z ~ Exp(1): AOFlagger gets a zero-mean image
_shared: dict = {}  # set before the workers fork, read by them (copy-on-write)


# ---------------------------------------------------------------------------------------------------------------
# Local polynomial fits that skip masked samples


@functools.lru_cache(maxsize=8192)
def _fit_weights(offsets: tuple, degree: int) -> np.ndarray:
    """Weights giving the value at offset 0 of the polynomial of ``degree`` fitted at the given offsets."""
    v = np.vander(np.asarray(offsets, float), degree + 1, increasing=True)
    return np.linalg.pinv(v)[0]


def _fit_rows(masked: np.ndarray, points: np.ndarray, half: int, degree: int):
    """For each index in ``points``: the 2*half+1 nearest unmasked indices, their fit weights, and the residual
    variance factor sum_j (delta_kj - w_j)^2 (leave-out residual if the point itself is masked)."""
    good = np.nonzero(~masked)[0]
    n = 2 * half + 1
    idx = np.empty((points.size, n), np.int64)
    wts = np.empty((points.size, n), np.float32)
    var = np.empty(points.size, np.float32)
    for i, k in enumerate(points):
        if good.size < degree + 2:  # too little left to fit: untestable (infinite variance factor)
            idx[i], wts[i], var[i] = k, 0.0, np.inf
            continue
        d = np.abs(good - k) + 0.25 * (good > k)
        sel = np.sort(good[np.argsort(d, kind="stable")[:n]])
        w = _fit_weights(tuple(int(s - k) for s in sel), degree)
        idx[i, :sel.size], wts[i, :sel.size] = sel, w
        idx[i, sel.size:], wts[i, sel.size:] = sel[0], 0.0
        var[i] = (1 - w[sel == k].sum()) ** 2 + np.sum(w[sel != k] ** 2)
    return idx, wts, var


@functools.lru_cache(maxsize=8)
def _freq_default(n_chan: int):
    """Interior kernel, and the band-edge rows, of the unmasked frequency fit."""
    h = _fit_weights(tuple(range(-FREQ_HALF, FREQ_HALF + 1)), FREQ_DEGREE).astype(np.float32)
    edges = np.r_[np.arange(FREQ_HALF), np.arange(n_chan - FREQ_HALF, n_chan)]
    idx, wts, var = _fit_rows(np.zeros(n_chan, bool), edges, FREQ_HALF, FREQ_DEGREE)
    v = np.full(n_chan, 1 - h[FREQ_HALF], np.float32)
    v[edges] = var
    return h, edges, idx, wts, v


_freq_cache: dict = {}


def _freq_masked_rows(masked: np.ndarray):
    """Channels whose fit changes when ``masked`` channels are left out, with their rows (cached per mask)."""
    key = np.packbits(masked).tobytes()
    if key not in _freq_cache:
        hit = None
        if (~masked).sum() >= 2 * FREQ_HALF + 1:
            near = np.convolve(masked.astype(float), np.ones(2 * FREQ_HALF + 1), mode="same") > 0
            if masked[:2 * FREQ_HALF + 1].any():
                near[:FREQ_HALF] = True
            if masked[-(2 * FREQ_HALF + 1):].any():
                near[-FREQ_HALF:] = True
            chans = np.nonzero(near | masked)[0]
            hit = (chans, *_fit_rows(masked, chans, FREQ_HALF, FREQ_DEGREE))
        if len(_freq_cache) > 256:
            _freq_cache.clear()
        _freq_cache[key] = hit
    return _freq_cache[key]


@functools.lru_cache(maxsize=1024)
def _time_matrix(n_time: int, masked_key: bytes):
    """(T, T) residual operator of the time fit leaving out the masked integrations, and its variance factors."""
    masked = np.unpackbits(np.frombuffer(masked_key, np.uint8))[:n_time].astype(bool)
    idx, wts, var = _fit_rows(masked, np.arange(n_time), TIME_HALF, TIME_DEGREE)
    op = np.eye(n_time, dtype=np.float32)
    np.add.at(op, (np.repeat(np.arange(n_time), idx.shape[1]), idx.ravel()), -wts.ravel())
    inv_var = np.where(np.isfinite(var), 1 / var, 0).astype(np.float32)  # 0: untestable integration
    return op, inv_var


def _wh_threshold(n, k):
    """Mean of n Exp(1) samples exceeded with the probability of a k-sigma Gaussian excess (Wilson-Hilferty)."""
    n = np.maximum(n, 1)
    return (1 - 1 / (9 * n) + k * np.sqrt(1 / (9 * n))) ** 3


# ---------------------------------------------------------------------------------------------------------------
# Per group of baselines


def _combine(vis, flags):
    """Polarisation-averaged complex visibilities (T, nb, F), where they are usable (None = everywhere), and the
    relative noise power of each sample's average (None = uniform): a sample with fewer usable polarisations
    than the most its baseline has is noisier by that ratio."""
    T, nb, F, P = vis.shape
    n = None
    if not flags.any():
        I = vis[..., 0].astype(np.complex64, copy=True)
        for p in range(1, P):
            I += vis[..., p]
        I *= np.float32(1.0 / P)
    else:
        n = np.zeros((T, nb, F), np.float32)
        I = np.zeros((T, nb, F), np.complex64)
        for p in range(P):
            use = ~flags[..., p]
            n += use
            I += np.where(use, vis[..., p], 0)
        I /= np.maximum(n, 1)
    finite = np.isfinite(I)
    if not finite.all():
        I[~finite] = 0
        n = np.where(finite, P if n is None else n, 0).astype(np.float32)
    ok, weight = None, None
    if n is not None:
        ok = n > 0
        n_max = n.max(axis=(0, 2))  # (nb,)
        if ((n == n_max[None, :, None]) | ~ok).all():
            weight = None
        else:
            weight = np.where(ok, n_max[None, :, None] / np.maximum(n, 1), 1).astype(np.float32)
        if ok.all():
            ok = None
    return I, ok, weight


def _interpolate_sporadic(I, ok):
    """Unusable samples inside otherwise usable rows and channels, interpolated along frequency (the high-pass
    would otherwise see a step the size of the sky signal)."""
    chan_bad = ~ok.any(axis=0)
    row_ok = ok.any(axis=2)
    sporadic = ~ok & row_ok[:, :, None] & ~chan_bad[None]
    x = np.arange(I.shape[2])
    for t, b in zip(*np.nonzero(sporadic.any(axis=2))):
        good = ok[t, b]
        if good.sum() < 2:
            continue
        I[t, b, ~good] = (np.interp(x[~good], x[good], I[t, b, good].real)
                          + 1j * np.interp(x[~good], x[good], I[t, b, good].imag))


def _block_median_noise(power, ok, only=None):
    """Noise power per (baseline, block) = median / its Exp(1) expectation, as (nb, F).

    Unusable samples (``ok`` False) count alternately below and above the median (alternating along time and
    channel, so masked channels, integrations and single samples all balance). Blocks with under half their
    samples usable take the baseline's median block. ``only`` (nb, nblk): estimate just these blocks (1 elsewhere).
    """
    T, nb, F = power.shape
    nblk = -(-F // NOISE_BLOCK)
    pad = nblk * NOISE_BLOCK - F
    p = np.pad(power, ((0, 0), (0, 0), (0, pad))) if pad else power
    blocks = p.reshape(T, nb, nblk, NOISE_BLOCK).transpose(1, 2, 0, 3)
    bblocks = None
    if ok is not None or pad:
        bad = np.ones((T, nb, nblk * NOISE_BLOCK), bool)
        bad[:, :, :F] = False if ok is None else ~ok
        bblocks = bad.reshape(T, nb, nblk, NOISE_BLOCK).transpose(1, 2, 0, 3)
    if only is not None:
        blocks = blocks[only]  # (n, T, BLOCK)
        bblocks = None if bblocks is None else bblocks[only]
    else:
        blocks = blocks.reshape(nb * nblk, T, NOISE_BLOCK)
        bblocks = None if bblocks is None else bblocks.reshape(nb * nblk, T, NOISE_BLOCK)
    blocks = blocks.reshape(blocks.shape[0], T * NOISE_BLOCK)
    frac_bad = np.zeros(blocks.shape[0])
    if bblocks is not None:
        bblocks = bblocks.reshape(blocks.shape)
        blocks = blocks.copy()
        parity = ((np.arange(T)[:, None] + np.arange(NOISE_BLOCK)[None, :]) % 2).astype(bool).ravel()
        np.copyto(blocks, np.float32(np.inf), where=bblocks & parity)
        np.copyto(blocks, np.float32(0), where=bblocks & ~parity)
        frac_bad = bblocks.mean(axis=1)
    kth = T * NOISE_BLOCK // 2
    est = np.partition(blocks, kth, axis=1)[:, kth] / np.log(2)
    est[~np.isfinite(est) | (est <= 0) | (frac_bad > 0.5)] = np.nan
    if only is not None:
        noise = np.ones((nb, nblk), np.float32)
        noise[only] = est
    else:
        noise = est.reshape(nb, nblk)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # baselines without a usable block
        fallback = np.nanmedian(noise, axis=1)
    noise = np.where(np.isfinite(noise), noise, fallback[:, None]).astype(np.float32)
    noise[~np.isfinite(noise)] = 1.0
    return np.repeat(noise, NOISE_BLOCK, axis=1)[:, :F]  # (nb, F)


def _block_sums(x, n_chan):
    """Sums over blocks of NOISE_BLOCK channels along the last axis (zero-padded)."""
    nblk = -(-n_chan // NOISE_BLOCK)
    pad = nblk * NOISE_BLOCK - n_chan
    if pad:
        x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, pad)])
    return x.reshape(*x.shape[:-1], nblk, NOISE_BLOCK).sum(axis=-1, dtype=np.float32)


def _block_test(z, chan_use, ok):
    """Bursts in z (T, nb, F): per (integration, baseline, block) from the clipped mean over the block, and per
    (integration, baseline) over the blocks not flagged. Samples count where ``chan_use`` (nb, F) and ``ok``
    (T, nb, F, or None = everywhere)."""
    T, nb, F = z.shape
    zc = np.minimum(z, np.float32(CLIP))
    if ok is None:
        zc *= chan_use[None]
        bcnt = _block_sums(chan_use, F)[None]
    else:
        u = ok & chan_use[None]
        zc *= u
        bcnt = _block_sums(u, F)
    bsum = _block_sums(zc, F)
    blk = (bsum > bcnt * _wh_threshold(bcnt, K_BLOCK)) & (bcnt > 0)
    rest = ~blk
    rsum, rcnt = (bsum * rest).sum(axis=2), (bcnt * rest).sum(axis=2)
    row = (rsum > rcnt * _wh_threshold(rcnt, K_ROW)) & (rcnt > 0)
    return blk, row


def _expand(blk, row, F):
    return np.repeat(blk, NOISE_BLOCK, axis=2)[:, :, :F] | row[:, :, None]


def _time_test(I, chan_use, ok, weight, noise, masked):
    """Bursts in the time high-pass (per channel, quadratic over 11 integrations) of short baselines.

    ``masked`` (nb, T): integrations left out of the fits from the start (bursts already found in frequency).
    A strong burst leaks into the fits of the integrations around it, so detections are peeled: each round,
    the integrations found whose mean z is at least a quarter of the strongest are left out, the fits redone, and
    the test repeated, until nothing new is found."""
    T, nb, F = I.shape
    inv = 1.0 / noise
    z = np.empty((T, nb, F), np.float32)
    todo = np.arange(nb)
    masked = masked.copy()
    for _ in range(6):
        packed = np.packbits(masked[todo], axis=1)
        uniq, inverse = np.unique(packed, axis=0, return_inverse=True)
        for u in range(uniq.shape[0]):
            bls = todo[inverse.ravel() == u]
            op, inv_var = _time_matrix(T, uniq[u].tobytes())
            sub = I if bls.size == nb else I[:, bls]
            # (einsum rather than a BLAS product: no helper threads competing with the other workers)
            r = np.einsum("ts,sx->tx", op, sub.view(np.float32).reshape(T, -1))
            r = r.view(np.complex64).reshape(T, bls.size, F)
            p = np.abs(r)
            p *= p
            p *= inv[bls][None] if bls.size < nb else inv[None]
            p *= inv_var[:, None, None]
            if weight is not None:
                p /= weight if bls.size == nb else weight[:, bls]
            if bls.size == nb:
                z = p
            else:
                z[:, bls] = p
        blk, row = _block_test(z, chan_use, ok)
        hit = (blk.any(axis=2) | row).T  # (nb, T)
        new = hit & ~masked
        if not new.any():
            break
        zz = z * chan_use[None]
        if ok is not None:
            zz *= ok
        strength = (zz.sum(axis=2) / np.maximum(chan_use.sum(axis=1), 1)[None]).T  # (nb, T)
        strongest = np.where(new, strength, 0).max(axis=1, keepdims=True)
        add = new & (strength >= 0.25 * strongest)
        masked |= add
        todo = np.nonzero(add.any(axis=1))[0]
    return blk, row


def analyse(vis, flags, time_test):
    """Sky-free z (T, nb, F) for AOFlagger, where it is usable (None: everywhere), and the flags numpy found.

    ``vis``, ``flags`` (T, nb, F, P); ``time_test`` (nb,) bool: baselines short enough for the time test."""
    T, nb, F, P = vis.shape
    I, ok, weight = _combine(vis, flags)
    if ok is not None:
        _interpolate_sporadic(I, ok)
        chan_bad = ~ok.any(axis=0)  # (nb, F)
    else:
        chan_bad = np.zeros((nb, F), bool)
    h, edges, eidx, ewts, vdef = _freq_default(F)
    smooth = convolve1d(I.view(np.float32).reshape(T, nb, F, 2), h, axis=2, mode="nearest")
    resid = I - smooth.view(np.complex64).reshape(T, nb, F)
    del smooth
    var = np.broadcast_to(vdef, (nb, F)).copy()

    def refit(masked):
        """Fits redone around the ``masked`` channels (F,), which get leave-out residuals."""
        rows = _freq_masked_rows(masked) if masked.any() else None
        if rows is None:
            chans, idx, wts = edges, eidx, ewts
        else:
            chans, idx, wts, v = rows
            var[:, chans] = v
        acc = I[..., chans].copy()
        for j in range(idx.shape[1]):
            acc -= I[..., idx[:, j]] * wts[:, j]
        resid[..., chans] = acc
        return chans

    bl_any = np.ones(nb, bool) if ok is None else ok.any(axis=(0, 2))
    bad_any = chan_bad[bl_any].any(axis=0)  # baselines with nothing usable do not count
    refit(np.zeros(F, bool))  # band edges
    refitted = np.zeros(F, bool)  # channels whose fits changed after the first noise estimate
    if bad_any.any():
        refit(bad_any)
    power = np.abs(resid)
    power *= power
    power /= var[None]
    if weight is not None:
        power /= weight
    noise = _block_median_noise(power, ok)
    inv_noise = 1.0 / noise
    z = power
    z *= inv_noise[None]
    if ok is not None:
        z[~ok] = 0
    n_ok = np.full((nb, F), T) if ok is None else ok.sum(axis=0)
    half = np.maximum(n_ok, 1) / 2.0

    def update(chans):
        p = np.abs(resid[:, :, chans])
        p *= p
        p *= (inv_noise[:, chans] / var[:, chans])[None]
        if weight is not None:
            p /= weight[:, :, chans]
        if ok is not None:
            p[~ok[:, :, chans]] = 0
        z[:, :, chans] = p

    def line_test():
        return ((z > LINE_Z).sum(axis=0) >= half) & ~chan_bad

    # Persistent lines (z above LINE_Z in at least half the integrations) and channels with a strong sample outside
    # bursts are left out of the fits (all baselines of the group alike) and the fits redone. The test is then
    # repeated: neighbours that only had a line's leakage drop out, and the mask is refitted until it settles.
    lines = line_test()
    masked = bad_any
    nblk = -(-F // NOISE_BLOCK)
    for _ in range(4):
        blk, row = _block_test(z, ~(lines | chan_bad), ok)
        strong = z > STRONG_Z
        if F == nblk * NOISE_BLOCK:
            s4 = strong.reshape(T, nb, nblk, NOISE_BLOCK)
            s4 &= ~(blk | row[:, :, None])[..., None]
        else:
            strong &= ~_expand(blk, row, F)
        strong = strong.any(axis=0) & ~chan_bad
        new_mask = bad_any | (lines | strong)[bl_any].any(axis=0) if bl_any.any() else bad_any
        if np.array_equal(new_mask, masked):
            break
        masked = new_mask
        touched = refit(masked)
        update(touched)
        refitted[touched] = True
        lines = line_test()
    chan_use = ~(lines | chan_bad)
    blk, row = _block_test(z, chan_use, ok)
    if lines.any() or blk.any() or row.any() or refitted.any():
        # noise again without the lines and bursts (they bias the medians of their blocks up), z rescaled
        clean = chan_use[None] & ~_expand(blk, row, F)
        if ok is not None:
            clean &= ok
        # blocks with lines, bursts or refitted channels (whose first estimate saw the lines' leakage)
        dirty = (_block_sums(~clean, F).sum(axis=0) > 0) | (_block_sums(refitted, F) > 0)[None]
        renoise = _block_median_noise(z, clean, only=dirty)
        z /= renoise[None]
        noise *= renoise
        blk, row = _block_test(z, chan_use, ok)
    found = _expand(blk, row, F)
    found |= lines[None]
    if time_test.any() and T >= MIN_TIME_TEST_INTEGRATIONS:
        sel = np.nonzero(time_test)[0]
        premask = (blk.any(axis=2) | row)[:, sel].T
        if ok is not None:  # integrations with nothing usable (zeros) stay out of the time fits
            premask |= ~ok[:, sel].any(axis=2).T
        tblk, trow = _time_test(I[:, sel], chan_use[sel], None if ok is None else ok[:, sel],
                                None if weight is None else weight[:, sel], noise[sel], premask)
        found[:, sel] |= _expand(tblk, trow, F)
    if ok is not None:
        found &= ok
    return z, ok, found


def channel_sums(z, ok, found):
    """Clipped z summed over the unflagged integrations of each (baseline, channel), and their number."""
    use = ~found if ok is None else ok & ~found
    zc = np.minimum(z, np.float32(CLIP))
    zc *= use
    return zc.sum(axis=0), use.sum(axis=0).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# Workers


_RESIDUAL_LINE = "local residual_input = false"


def strategy_file(n_time: int, directory: str) -> str:
    """The strategy set for the residual image, with its time block set to ``n_time`` integrations."""
    text = (resources.files("dsa110_continuum") / "data" / STRATEGY).read_text()
    for line in (_TIME_BLOCK_LINE, _RESIDUAL_LINE):
        if line not in text:
            raise RuntimeError(f"{STRATEGY}: the line '{line}' is missing")
    text = text.replace(_TIME_BLOCK_LINE, f"local time_block = {n_time}")
    text = text.replace(_RESIDUAL_LINE, "local residual_input = true")
    path = os.path.join(directory, STRATEGY)
    with open(path, "w") as handle:
        handle.write(text)
    return path


def _aoflagger(z, ok):
    """AOFlagger's flags (T, nb, F) on sqrt(z), BASELINES_PER_CALL baselines side by side."""
    import aoflagger

    if "strategy" not in _shared:
        _shared["flagger"] = aoflagger.AOFlagger()
        _shared["strategy"] = _shared["flagger"].load_strategy_file(_shared["strategy_file"])
    flagger, strategy = _shared["flagger"], _shared["strategy"]
    T, nb, F = z.shape
    out = np.zeros((T, nb, F), bool)
    for g0 in range(0, nb, BASELINES_PER_CALL):
        g1 = min(g0 + BASELINES_PER_CALL, nb)
        amp = np.sqrt(z[:, g0:g1])
        amp -= np.float32(AMP_OFFSET)
        if ok is not None:
            unusable = ~ok[:, g0:g1]
            amp[unusable] = 0.0  # neutral for AOFlagger's sums (and in its input mask)
        width = (g1 - g0) * T
        images = flagger.make_image_set(width, F, 1)
        images.set_image_buffer(0, np.ascontiguousarray(amp.transpose(2, 1, 0)).reshape(F, width))
        mask = flagger.make_flag_mask(width, F, False)
        if ok is not None:
            mask.set_buffer(np.ascontiguousarray(unusable.transpose(2, 1, 0)).reshape(F, width))
        found = strategy.run(images, mask).get_buffer().reshape(F, g1 - g0, T)
        out[:, g0:g1] = found.transpose(2, 1, 0)
    if ok is not None:
        out &= ok
    return out


def _flag_baselines(first: int, last: int) -> None:
    vis, flags, out = _shared["vis"], _shared["flags"], _shared["out"]
    csum, ccount, short = _shared["csum"], _shared["ccount"], _shared["short"]
    for g0 in range(first, last, BASELINES_PER_UNIT):
        g1 = min(g0 + BASELINES_PER_UNIT, last)
        f = flags[:, g0:g1]
        dead = f.all(axis=(0, 2, 3))  # nothing usable (autocorrelations): stays flagged
        live = np.nonzero(~dead)[0]
        if dead.any():
            out[:, g0:g1] = True
        if not live.size:
            continue
        if live.size == g1 - g0:
            v, f_live, dst = vis[:, g0:g1], f, slice(g0, g1)
        else:
            v, f_live, dst = vis[:, g0:g1][:, live], f[:, live], g0 + live
        z, ok, found = analyse(v, f_live, short[dst])
        found |= _aoflagger(z, ok)
        out[:, dst] = found
        csum[dst], ccount[dst] = channel_sums(z, ok, found)


def _shared_array(shape, dtype):
    buffer = mmap.mmap(-1, max(1, int(np.prod(shape)) * np.dtype(dtype).itemsize))
    return np.frombuffer(buffer, dtype=dtype, count=int(np.prod(shape))).reshape(shape)


def _global_lines(csum, ccount):
    """Channels whose clipped mean z over every baseline exceeds their neighbours' (weak lines on all baselines)."""
    s, c = csum.sum(axis=0, dtype=np.float64), ccount.sum(axis=0, dtype=np.float64)
    if not (c > 0).any():
        return np.zeros(s.size, bool)
    mean = np.where(c > 0, s / np.maximum(c, 1), np.nan)
    filled = np.where(np.isfinite(mean), mean, np.nanmedian(mean))
    reference = median_filter(filled, size=33, mode="nearest")
    excess = mean - reference
    needed = np.maximum(_wh_threshold(c, K_GLOBAL) - 1.0, GLOBAL_FLOOR) * reference
    return (excess > needed) & (c > 0)


def flag_observation(vis: np.ndarray, flags: np.ndarray, n_time: int, *, processes: int = 1,
                     uvw: np.ndarray | None = None) -> np.ndarray:
    """Flags for one observation: the existing ones OR the RFI found (applied to every polarisation).

    ``vis`` and ``flags`` are (Nrow, Nchan, Npol) in time-major row order (row = time x Nbl + baseline);
    samples already flagged (autocorrelations) are ignored. ``uvw`` (Nrow, 3) in metres, the MS UVW column, is
    optional: it enables the time-direction test for bursts that are smooth in frequency on short baselines.
    """
    n_row, n_chan, n_pol = vis.shape
    n_bl = n_row // n_time
    short = np.zeros(n_bl, bool)
    if uvw is not None:
        length = np.linalg.norm(np.asarray(uvw, float).reshape(n_time, n_bl, 3), axis=2).max(axis=0)
        short = length < TIME_TEST_MAX_BASELINE_M
    out = _shared_array((n_time, n_bl, n_chan), bool)
    csum = _shared_array((n_bl, n_chan), np.float32)
    ccount = _shared_array((n_bl, n_chan), np.float32)
    with tempfile.TemporaryDirectory(prefix="aoflagger-") as tmp:
        _shared.clear()
        _shared.update(strategy_file=strategy_file(n_time, tmp), out=out, csum=csum, ccount=ccount, short=short,
                       vis=vis.reshape(n_time, n_bl, n_chan, n_pol), flags=flags.reshape(n_time, n_bl, n_chan, n_pol))
        try:
            n_units = -(-n_bl // BASELINES_PER_UNIT)
            n_chunks = min(n_units, 4 * max(1, processes))
            edges = [min(n_bl, n_units * i // n_chunks * BASELINES_PER_UNIT) for i in range(n_chunks + 1)]
            chunks = [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]
            with multiprocessing.get_context("fork").Pool(max(1, processes)) as pool:
                pool.starmap(_flag_baselines, chunks, chunksize=1)
            weak = _global_lines(csum, ccount)
            found = out | weak[None, None, :] if weak.any() else out
            result = flags | found.reshape(n_row, n_chan)[:, :, None]
        finally:
            _shared.clear()
    return result
