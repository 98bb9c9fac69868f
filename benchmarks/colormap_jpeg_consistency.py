"""Does a JPEG-consistent reconstruction reach issue 5's JPEG target (viridis, q75, <= 0.5 %)?

Run:  python benchmarks/colormap_jpeg_consistency.py [--fields dem,camera] [--settings none,lap^2 1]
      (about 40 minutes on 2 cores at nice 19; 20-90 s per image and setting)

Same five fields and images as ``benchmarks/colormap.py`` / ``colormap_bounds.py`` (viridis,
Pillow JPEG quality 75, 4:2:0; seeds ``1000 * mi + 10 * ci + fi``).  The method uses the two
facts that no denoiser of ``colormap_bounds.py`` uses:

1. before compression each pixel lay on the colormap curve: one scalar ``t`` per pixel,
   colour ``c(t)`` = the 256 LUT colours (8-bit, as rendered) linearly interpolated, node ``k``
   at ``t = (k + 0.5) / 256``;
2. the encoder's quantised 8 x 8 DCT coefficients confine the original's coefficients to
   cells ``[(n - 0.5) q, (n + 0.5) q]`` (the quantisation constraint set, Zakhor 1992;
   Yang, Galatsanos & Katsaggelos 1993).

Forward model (validated against the file's own coefficients, read with the optional
``jpeglib`` package: see ``validate``): full-range BT.601 Y Cb Cr (T.871), the image padded by
edge replication (luma to a multiple of 8, chroma to 16 before the 2 x 2 box average of
libjpeg's ``h2v2_downsample``), level shift 128, orthonormal 8 x 8 DCT-II (= JPEG's DCT),
divided by the table, rounded.

Reconstruction: ``t`` minimising

    1/2 sum_k dist(A c(t)_k, cell_k)^2  +  prior(t)

(A the linear forward model above, distance in DCT units = pixel units by Parseval) plus one
of the priors of ``SETTINGS``: none, Huber total variation ``lam sum huber_d(255 grad t)``
(``TV``), ``lam/2 |255 grad t|^2`` (``grad^2``), ``lam/2 |255 second differences|^2`` (``lap^2``),
by L-BFGS-B (``--iters`` iterations) with ``t`` in [0, 1], started from ours
(``invert_colormap`` defaults); ``reconstruct_pnp`` (Gaussian smoothing alternated with the
consistency step) was tried too.  The cells come from the decoded RGB alone, with the tables
known (oracle: ``Image.open(buf).quantization``): its Y Cb Cr, the chroma planes' fancy
(triangular) upsampling undone by least squares, DCT, divided by the table, rounded
(``cells_from_decoded``).  Columns:

- ``nearest``, ``pixelwise`` (``smoothing=0``), ``ours`` (defaults), as in colormap_bounds.py;
- ``qcs-fixed``: the one setting best on the mean over the fields;
- ``qcs-oracle``: per field the setting best by the error against the truth (oracle, as every
  column of ``colormap_bounds.py``);
- ``qcs-file``: that setting with the cells from the file's own coefficients (needs the
  optional ``jpeglib`` package; the most any estimate of the cells could give).

Tables estimated from the decoded image were not tried: the oracle tables did not win.

Error: mean |value - truth| in % of range over the pixels valid for both ours and the pixelwise
values (``colormap_bounds.py``'s convention).
"""

import argparse
import io
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image
from scipy.fft import dctn, idctn
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import colormap as bench  # noqa: E402  (benchmarks/colormap.py: fields, renders, seeds)
from colormap_bounds import _RGB_TO_YCC as _M  # noqa: E402  (full-range BT.601, as JPEG)
from colormap_bounds import _blocks, _unblocks  # noqa: E402  (8 x 8 blocks of an image and back)

from drr.tools.colormap import invert_colormap  # noqa: E402

NODES = (matplotlib.colormaps["viridis"](np.arange(256))[:, :3] * 255 + 0.5).astype(np.uint8).astype(float)


# ---------------------------------------------------------------- JPEG forward model and its adjoint


def _pad_adj(g, h, w):
    """Adjoint of ``np.pad(x, ..., mode="edge")`` from (h, w) to g's shape."""
    g = g.copy()
    g[:, w - 1] += g[:, w:].sum(axis=1)
    g = g[:, :w]
    g[h - 1] += g[h:].sum(axis=0)
    return g[:h]


def _sizes(h, w):
    return -(-h // 8) * 8, -(-w // 8) * 8, -(-h // 16) * 16, -(-w // 16) * 16


def forward(rgb, integer=False):
    """RGB (h, w, 3), 0-255 -> [Y, Cb, Cr] blocks of DCT coefficients (nb, mb, 8, 8), level-shifted.
    ``integer``: libjpeg's rounding of the colour conversion and of the chroma averages."""
    h, w = rgb.shape[:2]
    H8, W8, H16, W16 = _sizes(h, w)
    ycc = rgb @ _M.T
    if integer:
        ycc = np.floor(ycc + 0.5)
    out = [dctn(_blocks(np.pad(ycc[..., 0] - 128.0, ((0, H8 - h), (0, W8 - w)), mode="edge")), axes=(2, 3),
                norm="ortho")]
    for c in (1, 2):
        p = np.pad(ycc[..., c], ((0, H16 - h), (0, W16 - w)), mode="edge")
        s = p.reshape(H16 // 2, 2, W16 // 2, 2).sum(axis=(1, 3))
        if integer:  # h2v2_downsample: (sum + bias) >> 2, bias 1, 2, 1, 2, ...
            s = np.floor((s + np.where(np.arange(W16 // 2) % 2 == 0, 1, 2)[None, :]) / 4) * 4
        out.append(dctn(_blocks(s / 4.0), axes=(2, 3), norm="ortho"))
    return out


def adjoint(coefs, h, w):
    """Adjoint of the linear part of ``forward`` (float model): coefficient blocks -> RGB (h, w, 3)."""
    H8, W8, H16, W16 = _sizes(h, w)
    g = np.zeros((h, w, 3))
    g += _pad_adj(_unblocks(idctn(coefs[0], axes=(2, 3), norm="ortho")), h, w)[..., None] * _M[0]
    for c in (1, 2):
        s = _unblocks(idctn(coefs[c], axes=(2, 3), norm="ortho")) / 4.0
        up = np.repeat(np.repeat(s, 2, axis=0), 2, axis=1)
        g += _pad_adj(up, h, w)[..., None] * _M[c]
    return g


def _fancy_matrix(n_out, n_in):
    """libjpeg's fancy (triangular) 2x upsampling along one axis, edges replicated: (n_out, n_in)."""
    U = np.zeros((2 * n_in, n_in))
    for i in range(n_in):
        U[2 * i, i] += 0.75
        U[2 * i, max(i - 1, 0)] += 0.25
        U[2 * i + 1, i] += 0.75
        U[2 * i + 1, min(i + 1, n_in - 1)] += 0.25
    return U[:n_out]


def cells_from_decoded(dec, tables):
    """Quantisation indices ``n`` (Y, Cb, Cr blocks) estimated from the decoded RGB alone."""
    h, w = dec.shape[:2]
    H8, W8, H16, W16 = _sizes(h, w)
    ycc = dec.astype(float) @ _M.T
    n = [np.rint(dctn(_blocks(np.pad(ycc[..., 0] - 128.0, ((0, H8 - h), (0, W8 - w)), mode="edge")),
                      axes=(2, 3), norm="ortho") / tables[0])]
    hc, wc = -(-h // 2), -(-w // 2)
    pr, pc = np.linalg.pinv(_fancy_matrix(h, hc)), np.linalg.pinv(_fancy_matrix(w, wc))
    for c in (1, 2):
        half = pr @ ycc[..., c] @ pc.T
        half = np.pad(half, ((0, H16 // 2 - hc), (0, W16 // 2 - wc)), mode="edge")
        n.append(np.rint(dctn(_blocks(half), axes=(2, 3), norm="ortho") / tables[1]))
    return n


def cells_from_file(data):
    """The file's own quantised coefficients (oracle; needs the ``jpeglib`` package)."""
    import tempfile

    import jpeglib
    with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
        f.write(data)
        f.flush()
        jd = jpeglib.read_dct(f.name)
        return [jd.Y.astype(float), jd.Cb.astype(float), jd.Cr.astype(float)]


def file_tables(data):
    qt = Image.open(io.BytesIO(data)).quantization
    return [np.array(qt[0], float).reshape(8, 8), np.array(qt[1], float).reshape(8, 8)]


# ---------------------------------------------------------------- curve and reconstruction


def curve(t):
    """c(t) and dc/dt: the LUT nodes linearly interpolated."""
    u = np.clip(t * 256.0 - 0.5, 0.0, 255.0)
    k = np.minimum(u.astype(int), 254)
    f = (u - k)[..., None]
    step = NODES[k + 1] - NODES[k]
    inside = ((t * 256.0 - 0.5 > 0) & (t * 256.0 - 0.5 < 255))[..., None]
    return NODES[k] + f * step, step * 256.0 * inside


def _huber(d, delta):
    a = np.abs(d)
    v = np.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    return v, np.clip(d, -delta, delta)


def reconstruct(t0, n, tables, lam, delta, iters=300, order=1):
    h, w = t0.shape
    lo = [(n[k] - 0.5) * tables[min(k, 1)] for k in range(3)]
    hi = [(n[k] + 0.5) * tables[min(k, 1)] for k in range(3)]

    def fg(x):
        t = x.reshape(h, w)
        c, dc = curve(t)
        coefs = forward(c)
        r = [coefs[k] - np.clip(coefs[k], lo[k], hi[k]) for k in range(3)]
        f = 0.5 * sum(float(np.sum(rk * rk)) for rk in r)
        g = np.sum(adjoint(r, h, w) * dc, axis=2)
        if lam > 0 and order == 2:  # 1/2 lam |255 second differences|^2 along rows and columns
            for ax in (0, 1):
                d = 255.0 * np.diff(t, 2, axis=ax)
                f += 0.5 * lam * float(np.sum(d * d))
                r = lam * 255.0 * d
                sl = [slice(None)] * 2
                for off, wgt in ((0, 1.0), (1, -2.0), (2, 1.0)):
                    sl[ax] = slice(off, off + d.shape[ax])
                    g[tuple(sl)] += wgt * r
        elif lam > 0:
            for ax in (0, 1):
                d = 255.0 * np.diff(t, axis=ax)
                v, p = _huber(d, delta)
                f += lam * float(v.sum())
                gd = lam * 255.0 * p
                if ax == 0:
                    g[1:] += gd
                    g[:-1] -= gd
                else:
                    g[:, 1:] += gd
                    g[:, :-1] -= gd
        return f, g.ravel()

    res = minimize(fg, t0.ravel(), jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * t0.size,
                   options={"maxiter": iters, "maxcor": 10})
    return res.x.reshape(h, w)


def reconstruct_pnp(t0, n, tables, sigma, rounds=8, iters=30):
    """Plug-and-play POCS: ``rounds`` times a Gaussian smoothing of ``t`` (``sigma`` px), then the
    consistency projection (``reconstruct`` without prior, ``iters`` L-BFGS steps)."""
    from scipy import ndimage
    t = t0
    for _ in range(rounds):
        t = reconstruct(ndimage.gaussian_filter(t, sigma, mode="nearest"), n, tables, 0.0, 1.0, iters)
    return t


def inside_fraction(t_or_rgb, n, tables, is_rgb=False):
    c = t_or_rgb if is_rgb else curve(t_or_rgb)[0]
    co = forward(c)
    return [float(np.mean(np.abs(co[k] / tables[min(k, 1)] - n[k]) <= 0.5)) for k in range(3)]


# ---------------------------------------------------------------- runs


def validate(flds):
    """Forward model of the original 8-bit render against the file's coefficients (jpeglib)."""
    try:
        import jpeglib  # noqa: F401
    except ImportError:
        print("(jpeglib not installed: model validation skipped)\n")
        return
    print("## JPEG model: share of coefficients in the file's cell (Y / Cb / Cr)\n")
    print("| field | float model | libjpeg rounding | cells from the decoded RGB | truth c(t) in the file's cells |")
    print("|---|---|---|---|---|")
    for fname, field in flds.items():
        img = bench.render(field, "viridis")
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=75)
        data = buf.getvalue()
        q, nf = file_tables(data), cells_from_file(data)
        dec = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        cols = []
        for integer in (False, True):
            co = forward(img.astype(float), integer)
            cols.append([np.mean(np.rint(co[k] / q[min(k, 1)]) == nf[k]) for k in range(3)])
        nd = cells_from_decoded(dec, q)
        cols.append([np.mean(nd[k] == nf[k]) for k in range(3)])
        cols.append(inside_fraction(field, nf, q))
        print(f"| {fname} | " + " | ".join(" / ".join(f"{100 * x:.2f}" for x in c) for c in cols) + " |", flush=True)
    print()


# the priors tried (the exploration that chose them: benchmarks/results_colormap_jpeg.md)
SETTINGS = {
    "none": dict(lam=0.0, delta=1.0),  # consistency alone: a consistent t near ours
    "TV 1e-3": dict(lam=1e-3, delta=0.5),
    "grad^2 1e-3": dict(lam=1e-3, delta=1e6),
    "lap^2 1e-2": dict(lam=1e-2, delta=0.0, order=2),
    "lap^2 1e-1": dict(lam=1e-1, delta=0.0, order=2),
    "lap^2 1": dict(lam=1.0, delta=0.0, order=2),
    "lap^2 10": dict(lam=10.0, delta=0.0, order=2),
}


def run_setting(t0, n, q, s, iters):
    if "pnp" in s:
        return reconstruct_pnp(t0, n, q, s["pnp"], rounds=6)
    return reconstruct(t0, n, q, s["lam"], s["delta"], iters, s.get("order", 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fields", default="", help="comma-separated subset of the fields")
    ap.add_argument("--settings", default="", help="comma-separated subset of " + ", ".join(SETTINGS))
    ap.add_argument("--iters", type=int, default=300, help="L-BFGS-B iterations")
    ap.add_argument("--no-validate", action="store_true")
    args = ap.parse_args()
    flds = bench.fields()
    names = list(flds)
    if args.fields:
        flds = {k: v for k, v in flds.items() if k in args.fields.split(",")}
    settings = {k: v for k, v in SETTINGS.items() if not args.settings or k in args.settings.split(",")}
    if not args.no_validate:
        validate(flds)
    try:
        import jpeglib  # noqa: F401
        have_file = True
    except ImportError:
        have_file = False
    mi, ci = bench.MAPS.index("viridis"), bench.CONDITIONS.index("jpeg75")
    rows, res = [], {}
    for fname, field in flds.items():
        fi = names.index(fname)
        img = bench.degrade(field, "viridis", "jpeg75", seed=1000 * mi + 10 * ci + fi)
        buf = io.BytesIO()
        Image.fromarray(bench.render(field, "viridis")).save(buf, "JPEG", quality=75)
        data = buf.getvalue()  # the same bytes as the benchmark's image (deterministic encoder)
        raw_res = invert_colormap(img, cmap="viridis", smoothing=0)
        ours = invert_colormap(img, cmap="viridis")
        valid = raw_res.valid & ours.valid

        def err(v):
            return 100.0 * float(np.mean(np.abs(v - field)[valid]))

        raw = np.where(raw_res.valid, raw_res.values, bench.nearest(img, "viridis"))
        t0 = np.where(ours.valid, ours.values, raw)
        q = file_tables(data)
        n = cells_from_decoded(img, q)
        row = {"nearest": err(bench.nearest(img, "viridis")), "pixelwise": err(raw), "ours": err(t0)}
        ins = {k: inside_fraction(t, n, q) for k, t in (("truth", field), ("ours", t0))}
        print(f"{fname}: % of coefficients in their cell (Y / Cb / Cr): truth c(t) "
              + " / ".join(f"{100 * x:.2f}" for x in ins["truth"]) + ", ours "
              + " / ".join(f"{100 * x:.2f}" for x in ins["ours"]), flush=True)
        for sname, st in settings.items():
            t1 = time.perf_counter()
            t = run_setting(t0, n, q, st, args.iters)
            res[fname, sname] = (err(t), time.perf_counter() - t1)
            print(f"  {sname}: {res[fname, sname][0]:.3f} %  ({res[fname, sname][1]:.0f} s)", flush=True)
        best = min(settings, key=lambda k: res[fname, k][0])
        if have_file:
            t = run_setting(t0, cells_from_file(data), q, settings[best], args.iters)
            row["qcs-file"] = err(t)
            print(f"  {best}, the file's own cells: {row['qcs-file']:.3f} %", flush=True)
        row["qcs-oracle"], row["setting"] = res[fname, best][0], best
        rows.append((fname, row))
    fixed = min(settings, key=lambda k: np.mean([res[f, k][0] for f, _ in rows]))
    cols = ["nearest", "pixelwise", "ours", "qcs-fixed", "qcs-oracle"] + (["qcs-file"] if have_file else [])
    print(f"\n## viridis jpeg75: mean |error| (% of range) per field\n\nqcs-fixed: `{fixed}` for every field; "
          "qcs-oracle: the best setting per field (chosen by the truth); qcs-file: that setting with the "
          "file's own coefficients\n")
    print("| field | " + " | ".join(cols) + " | setting | s per image (qcs-fixed) |")
    print("|---|" + "---|" * (len(cols) + 2))
    table = []
    for fname, row in rows:
        row["qcs-fixed"] = res[fname, fixed][0]
        table.append([row[c] for c in cols])
        print(f"| {fname} | " + " | ".join(f"{row[c]:.3f}" for c in cols)
              + f" | {row['setting']} | {res[fname, fixed][1]:.0f} |")
    m = np.mean(table, axis=0)
    print("| **mean** | " + " | ".join(f"**{x:.3f}**" for x in m) + " | | |\n")
    print("Per setting, mean over the fields: " + "; ".join(
        f"{k} {np.mean([res[f, k][0] for f, _ in rows]):.3f}" for k in settings))


if __name__ == "__main__":
    main()
