"""Benchmark of drr.tools.colormap against the targets of issue 5, section 3.

Run:  python benchmarks/colormap.py [--quick]     (a few minutes on 2 cores)

Fields (scalar, rescaled to [0, 1], so "% of range" = 100 x |error|):
  dem        matplotlib sample data ``jacksboro_fault_dem.npz`` (344 x 403)
  topobathy  matplotlib sample data ``topobathy.npz``, cubic zoom x4 (364 x 480)
  bivariate  matplotlib sample data ``axes_grid/bivariate_normal.npy``, cubic zoom to 400 x 400
  camera     scikit-image ``data.camera()`` (512 x 512, a real photograph: edges and texture)
  smooth     scikit-image ``data.camera()`` Gaussian-blurred, sigma 4 px
Maps: viridis plasma cividis gray jet turbo coolwarm RdBu twilight hsv (256-entry LUTs).
Conditions: png (lossless, Pillow round trip), jpeg75 (Pillow quality 75, 4:2:0),
png+noise and jpeg75+noise (Gaussian sigma = 6/255 per channel added to the
8-bit render, rounded, before encoding).
Methods: ``ours`` = ``invert_colormap`` defaults; ``nearest`` = the naive method,
nearest of the 256 LUT colours in RGB (scipy cKDTree), value = bin centre.
No pip-installable colormap-inversion package is installed here, so there is
no third-party anchor; the nearest-colour lookup is the anchor the issue names.
"""

import io
import platform
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import cbook  # noqa: E402
from PIL import Image  # noqa: E402
from scipy import ndimage  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from drr.tools.colormap import find_colorbar, identify_colormap, invert_colormap  # noqa: E402

MAPS = ["viridis", "plasma", "cividis", "gray", "jet", "turbo", "coolwarm", "RdBu", "twilight", "hsv"]
CONDITIONS = ["png", "jpeg75", "png+noise", "jpeg75+noise"]
SIGMA = 6.0  # noise, 8-bit units


# ---------------------------------------------------------------- data


def _unit(a):
    a = np.asarray(a, dtype=float)
    return (a - a.min()) / (a.max() - a.min())


def fields():
    """The scalar fields, name -> 2-D float array in [0, 1]."""
    import skimage.data

    dem = cbook.get_sample_data("jacksboro_fault_dem.npz")["elevation"]
    topo = cbook.get_sample_data("topobathy.npz")["topo"]
    biv = np.asarray(cbook.get_sample_data("axes_grid/bivariate_normal.npy"))  # loaded by matplotlib
    cam = skimage.data.camera().astype(float)
    return {
        "dem": _unit(dem),
        "topobathy": _unit(ndimage.zoom(topo.astype(float), 4, order=3)),
        "bivariate": _unit(ndimage.zoom(biv, 400 / biv.shape[0], order=3)),
        "camera": _unit(cam),
        "smooth": _unit(ndimage.gaussian_filter(cam, 4.0)),
    }


def render(field, name):
    """uint8 RGB of ``field`` through the 256-entry map ``name``."""
    return (matplotlib.colormaps[name](field)[..., :3] * 255 + 0.5).astype(np.uint8)


def encode(img, fmt):
    """Round trip through Pillow: 'png' or 'jpeg75'."""
    buf = io.BytesIO()
    if fmt == "png":
        Image.fromarray(img).save(buf, "PNG")
    else:
        Image.fromarray(img).save(buf, "JPEG", quality=75)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def degrade(field, name, cond, seed):
    img = render(field, name)
    if cond.endswith("+noise"):
        rng = np.random.default_rng(seed)
        img = np.clip(np.rint(img + rng.normal(0.0, SIGMA, img.shape)), 0, 255).astype(np.uint8)
    return encode(img, cond.split("+")[0])


def nearest(img, name):
    """Naive method: nearest LUT colour in RGB, value = bin centre."""
    cm = matplotlib.colormaps[name]
    lut = cm(np.arange(cm.N))[:, :3]
    _, k = cKDTree(lut).query(img.reshape(-1, 3) / 255.0)
    return ((k + 0.5) / cm.N).reshape(img.shape[:2])


# ---------------------------------------------------------------- value recovery


def value_tables(flds, maps):
    """MAE (% of range) of ours and nearest, coverage, per map x condition (mean over fields)."""
    per = {}
    for mi, name in enumerate(maps):
        for ci, cond in enumerate(CONDITIONS):
            for fi, (fname, field) in enumerate(flds.items()):
                img = degrade(field, name, cond, seed=1000 * mi + 10 * ci + fi)
                res = invert_colormap(img, cmap=name)
                v = res.valid
                err = np.abs(res.values - field)[v]
                cov = ((field >= res.interval_low) & (field <= res.interval_high))[v]
                nn = np.abs(nearest(img, name) - field)
                per[name, cond, fname] = (100 * err.mean(), 100 * nn.mean(), cov.mean(), v.mean())
    print("## Value recovery: mean |error| in % of range (valid pixels; nearest on all)\n")
    print("Each cell: ours / nearest; mean over the fields " + ", ".join(flds) + ".\n")
    print("| map | " + " | ".join(CONDITIONS) + " | coverage (min over cells) | valid (min) |")
    print("|---|" + "---|" * (len(CONDITIONS) + 2))
    for name in maps:
        cells, covs, vals = [], [], []
        for cond in CONDITIONS:
            rows = [per[name, cond, f] for f in flds]
            cells.append(f"{np.mean([r[0] for r in rows]):.3f} / {np.mean([r[1] for r in rows]):.3f}")
            covs += [r[2] for r in rows]
            vals += [r[3] for r in rows]
        print(f"| {name} | " + " | ".join(cells) + f" | {min(covs):.4f} | {min(vals):.4f} |")
    print()
    if "viridis" in maps:
        print("### viridis per field: ours / nearest (% of range), coverage\n")
        print("| field | " + " | ".join(CONDITIONS) + " |")
        print("|---|" + "---|" * len(CONDITIONS))
        for f in flds:
            cells = [f"{per['viridis', c, f][0]:.3f} / {per['viridis', c, f][1]:.3f} ({per['viridis', c, f][2]:.3f})"
                     for c in CONDITIONS]
            print(f"| {f} | " + " | ".join(cells) + " |")
        print()
    return per


# ---------------------------------------------------------------- speed


def speed_table(maps, repeats=3):
    """Milliseconds for a 1000 x 1000 image (best of ``repeats``), ours beside nearest.

    ``invert_colormap`` keeps, per colormap, a table of the nearest curve
    sample of every 8-bit colour met so far (filled as colours are met).
    Three timings: ``cold`` (table emptied first), ``new image`` (table
    filled by one other image of the same map: the same field with another
    noise seed; without noise that is the same image), ``repeat`` (the same
    image again).
    """
    import drr.tools.colormap.nearest as cmod  # holds the nearest-colour tables (_cube_cache)

    dem = cbook.get_sample_data("jacksboro_fault_dem.npz")["elevation"].astype(float)
    big = _unit(ndimage.zoom(dem, (1000 / dem.shape[0], 1000 / dem.shape[1]), order=3))
    print("## Speed, 1000 x 1000 (dem zoomed; best of %d; ms)\n" % repeats)
    print("Ours: cold = nearest-colour table of the map empty; new image = table filled by one other")
    print("image of the map (another noise seed; for png and jpeg75 that is the same image);")
    print("repeat = the same image again.\n")
    print("| map | condition | ours cold | ours new image | ours repeat | nearest ms | ours MAE % |")
    print("|---|---|---|---|---|---|---|")
    out = {}
    for name in maps:
        for cond in ("png", "png+noise", "jpeg75"):
            img = degrade(big, name, cond, seed=5)
            other = degrade(big, name, cond, seed=6)
            best = [np.inf, np.inf, np.inf]
            for _ in range(repeats):
                cmod._cube_cache.clear()
                t0 = time.perf_counter()
                invert_colormap(img, cmap=name)
                best[0] = min(best[0], time.perf_counter() - t0)
                cmod._cube_cache.clear()
                invert_colormap(other, cmap=name)
                t0 = time.perf_counter()
                invert_colormap(img, cmap=name)
                best[1] = min(best[1], time.perf_counter() - t0)
                t0 = time.perf_counter()
                res = invert_colormap(img, cmap=name)
                best[2] = min(best[2], time.perf_counter() - t0)
            t0 = time.perf_counter()
            nearest(img, name)
            tn = time.perf_counter() - t0
            mae = 100 * np.nanmean(np.abs(res.values - big))
            out[name, cond] = 1000 * best[1]
            out[name, cond, "cold"] = 1000 * best[0]
            print(f"| {name} | {cond} | {1000 * best[0]:.0f} | {1000 * best[1]:.0f} | {1000 * best[2]:.0f} "
                  f"| {1000 * tn:.0f} | {mae:.3f} |")
    print()
    return out


# ---------------------------------------------------------------- a bound for the noise target


def _wiener_oracle(raw, truth):
    """Best linear shift-invariant smoothing of ``raw`` given the true spectra (an oracle).

    Per spatial frequency the gain ``|T|^2 / (|T|^2 + |E|^2)``, with ``T`` the
    spectrum of the true field and ``E`` that of this image's error
    ``raw - truth`` (both known here only because the truth is): no linear
    smoother (box, Gaussian, Wiener with estimated spectra) does better in
    mean square.  Symmetric extension to 2x the size against wrap-around.
    """
    h, w = truth.shape
    t = np.pad(truth, ((0, h), (0, w)), mode="symmetric")
    r = np.pad(raw, ((0, h), (0, w)), mode="symmetric")
    tt = np.abs(np.fft.fft2(t)) ** 2
    ee = np.abs(np.fft.fft2(r - t)) ** 2
    return np.real(np.fft.ifft2(tt / (tt + ee + 1e-30) * np.fft.fft2(r)))[:h, :w]


def noise_bound_table(flds):
    """viridis + noise: pixelwise, ours, and the oracle linear smoother, per field."""
    print("## Noise target: how far smoothing can go (viridis, png+noise, same images as above)\n")
    print("pixelwise = `smoothing=0`; oracle = best linear shift-invariant filter of the pixelwise")
    print("values given the true field's and this error's spectra (not available to any method).\n")
    print("| field | nearest | pixelwise | ours | oracle linear |")
    print("|---|---|---|---|---|")
    mi, ci = MAPS.index("viridis"), CONDITIONS.index("png+noise")
    rows = []
    for fi, (fname, field) in enumerate(flds.items()):
        img = degrade(field, "viridis", "png+noise", seed=1000 * mi + 10 * ci + fi)
        raw = invert_colormap(img, cmap="viridis", smoothing=0).values
        ours = invert_colormap(img, cmap="viridis").values
        raw = np.where(np.isfinite(raw), raw, field)
        best = _wiener_oracle(raw, field)
        r = [100 * np.mean(np.abs(nearest(img, "viridis") - field)), 100 * np.mean(np.abs(raw - field)),
             100 * np.nanmean(np.abs(ours - field)), 100 * np.mean(np.abs(best - field))]
        rows.append(r)
        print(f"| {fname} | " + " | ".join(f"{x:.3f}" for x in r) + " |")
    m = np.mean(rows, axis=0)
    print("| **mean** | " + " | ".join(f"**{x:.3f}**" for x in m) + " |")
    print()
    return m


# ---------------------------------------------------------------- figures


def figure(name, orientation="vertical", text=True):
    """An Agg figure (title, labels, ticks, colour bar, text, line, markers); truth boxes."""
    dem = cbook.get_sample_data("jacksboro_fault_dem.npz")["elevation"]
    truth = ndimage.zoom(_unit(dem), 0.5, order=1)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    im = ax.imshow(truth, cmap=name, interpolation="nearest")
    ax.set_title("Jacksboro DEM, rendered with " + name)
    ax.set_xlabel("x (px)")
    cbar = fig.colorbar(im, ax=ax, orientation=orientation, label="elevation")
    extras = []
    if text:
        extras.append(ax.text(100, 90, "label 3.14", color="white", fontsize=12, ha="center"))
        extras += ax.plot([20, 180], [160, 30], "r-", lw=1.5)
        extras += ax.plot([40, 150], [40, 60], "k+", ms=10)
        extras += ax.plot([60, 120], [120, 140], "wo", ms=5)
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    for e in extras:
        e.set_visible(False)
    fig.canvas.draw()
    plain = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    h = rgb.shape[0]
    boxes = []
    for a in (ax, cbar.ax):
        bb = a.get_window_extent()
        boxes.append((h - bb.y1, h - bb.y0, bb.x0, bb.x1))
    cbar.solids.set_visible(False)
    fig.canvas.draw()
    no_bar = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    boxes.append(np.any(no_bar != plain, axis=2))  # the pixels the colour bar paints
    plt.close(fig)
    return rgb, plain, boxes


def _box_mask(shape, b, shrink=0):
    m = np.zeros(shape, bool)
    m[int(round(b[0])) + shrink: int(round(b[1])) - shrink, int(round(b[2])) + shrink: int(round(b[3])) - shrink] = True
    return m


def mask_table(maps):
    """Validity precision (valid pixels that show the map) and recall (map pixels called valid)."""
    print("## Validity mask on Agg figures (title, labels, ticks, colour bar, text, line, markers)\n")
    print("Map pixels: inside the image or colour-bar axes and not under an overlay; recall is over")
    print("those at least 2 px from an axes edge and 1 px from an overlay (edge pixels are blends).\n")
    print("| map | precision | recall |")
    print("|---|---|---|")
    out = {}
    for name in maps:
        rgb, plain, (img_box, bar_box, _) = figure(name)
        drawn = np.any(rgb != plain, axis=2)
        on_map = (_box_mask(drawn.shape, img_box) | _box_mask(drawn.shape, bar_box)) & ~drawn
        clear = (_box_mask(drawn.shape, img_box, 2) | _box_mask(drawn.shape, bar_box, 3)) & ~ndimage.binary_dilation(drawn)
        res = invert_colormap(rgb, cmap=name)
        prec, rec = on_map[res.valid].mean(), res.valid[clear].mean()
        out[name] = (prec, rec)
        print(f"| {name} | {prec:.4f} | {rec:.4f} |")
    print()
    return out


def _rect_iou(a, b):
    """IoU of two boxes (row0, row1, col0, col1) in continuous pixel coordinates."""
    dr = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    dc = max(0.0, min(a[3], b[3]) - max(a[2], b[2]))
    inter = dr * dc
    area = (a[1] - a[0]) * (a[3] - a[2]) + (b[1] - b[0]) * (b[3] - b[2])
    return inter / (area - inter)


def colorbar_table(maps):
    """IoU of the found colour bar with the pixels the bar paints, and with its axes box."""
    print("## Colour-bar localisation\n")
    print("IoU painted: found box vs the pixels that change when the bar's colours are hidden")
    print("(the painted bar, anti-aliased edges included). IoU axes: vs the colour-bar axes box")
    print("(continuous coordinates; it also holds half of the 1-px frame line on each side).\n")
    print("| map | orientation | found | orientation ok | IoU painted | IoU axes | ms |")
    print("|---|---|---|---|---|---|---|")
    ious = []
    for name in maps:
        for orient in ("vertical", "horizontal"):
            rgb, _, (_, bar_box, painted) = figure(name, orient, text=False)
            t0 = time.perf_counter()
            loc = find_colorbar(rgb)
            dt = 1000 * (time.perf_counter() - t0)
            if loc is None:
                ious.append(0.0)
                print(f"| {name} | {orient} | no | - | 0 | 0 | {dt:.0f} |")
                continue
            found = np.zeros_like(painted)
            found[loc.rows[0]:loc.rows[1], loc.cols[0]:loc.cols[1]] = True
            iou = (painted & found).sum() / (painted | found).sum()
            iou_axes = _rect_iou((loc.rows[0], loc.rows[1], loc.cols[0], loc.cols[1]), bar_box)
            ious.append(iou if loc.orientation == orient else 0.0)
            print(f"| {name} | {orient} | yes | {loc.orientation == orient} | {iou:.3f} | {iou_axes:.3f} | {dt:.0f} |")
    print()
    return ious


_CYCLIC_SHIFTS = {"twilight": ("twilight_shifted", "twilight_shifted_r")}


def identify_table(flds, maps):
    """Top-1 of identify_colormap over the maps x fields x {png, jpeg75}; figures with a bar."""
    print("## Colormap identification (all registered maps, reversed ones included, are candidates)\n")
    print("Plain images: a map and its reverse have the same colours, so either counts.")
    print("Figures: the colour bar decides the direction, which must match.\n")
    print("| input | top-1 | top-3 | s per image |")
    print("|---|---|---|---|")
    small = {f: (a if a.shape[0] <= 400 else ndimage.zoom(a, 0.5, order=1)) for f, a in flds.items()}
    out = {}
    for cond in ("png", "jpeg75"):
        top1 = top3 = n = top1_info = 0
        t = 0.0
        misses = []
        for name in maps:
            for fi, field in enumerate(small.values()):
                img = degrade(field, name, cond, seed=fi)
                t0 = time.perf_counter()
                rank = identify_colormap(img, top=3)
                t += time.perf_counter() - t0
                hit = [m.name in (name, name + "_r") or name in m.equivalents or name + "_r" in m.equivalents
                       for m in rank]
                top1 += hit[0]
                top3 += any(hit)
                n += 1
                # a cyclic map rolled by half (twilight_shifted) has the same colours and
                # explains the same image with the values shifted by 0.5 mod 1: without a
                # colour bar nothing can tell them apart
                shift = name in _CYCLIC_SHIFTS and rank[0].name in _CYCLIC_SHIFTS[name]
                top1_info += hit[0] or shift
                if not hit[0]:
                    misses.append(f"{name}/{list(small)[fi]} -> {rank[0].name}")
        out[cond] = top1 / n
        out[cond + " info"] = top1_info / n
        print(f"| plain image, {cond} | {top1}/{n} ({top1_info}/{n} counting twilight_shifted(_r)) | {top3}/{n} | {t / n:.2f} |")
        out[cond + " misses"] = misses
    if "twilight" in maps:  # the same colours as twilight: only the smoothness term separates them
        for cond in ("png", "jpeg75"):
            got = [identify_colormap(degrade(field, "twilight_shifted", cond, seed=fi), top=1)[0].name
                   for fi, field in enumerate(small.values())]
            ok = sum(g in ("twilight_shifted", "twilight_shifted_r") for g in got)
            out["shifted " + cond] = ok / len(got)
            print(f"| plain image rendered with twilight_shifted, {cond} | {ok}/{len(got)} | - | - |")
    ok = 0
    names = [m if i % 2 == 0 else m + "_r" for i, m in enumerate(maps)]
    for name in names:
        rgb, _, _ = figure(name, text=False)
        rank = identify_colormap(rgb, top=1)
        ok += rank[0].name == name or name in rank[0].equivalents
    out["figure"] = ok / len(names)
    print(f"| Agg figure with colour bar ({', '.join(names)}) | {ok}/{len(names)} | - | - |")
    print()
    for cond in ("png", "jpeg75"):
        print(f"Top-1 misses, {cond}: " + ("; ".join(out.pop(cond + " misses")) or "none"))
    print()
    return out


# ---------------------------------------------------------------- summary


def summary(per, speed, masks, ious, ident, bound):
    def mae(name, cond, which=0):
        return np.mean([v[which] for k, v in per.items() if k[0] == name and k[1] == cond])

    cov = min(v[2] for v in per.values())
    worst_cov = min(per, key=lambda k: per[k][2])
    prec = min(p for p, _ in masks.values())
    rec = min(r for _, r in masks.values())
    rows = [
        ("viridis, noise 6/255: mean error <= 0.3 % of range (nearest ~1.5 %)",
         f"{mae('viridis', 'png+noise'):.3f} % (nearest {mae('viridis', 'png+noise', 1):.3f} %)",
         mae("viridis", "png+noise") <= 0.3),
        ("viridis, JPEG q75: <= 0.5 %",
         f"{mae('viridis', 'jpeg75'):.3f} % (nearest {mae('viridis', 'jpeg75', 1):.3f} %); "
         f"JPEG + noise {mae('viridis', 'jpeg75+noise'):.3f} %", mae("viridis", "jpeg75") <= 0.5),
        ("interval covers the truth on >= 95 % of pixels (every map x condition x field)",
         f"min {cov:.4f} ({'/'.join(worst_cov)})", cov >= 0.95),
        ("validity precision and recall >= 0.99 (every map)", f"min precision {prec:.4f}, min recall {rec:.4f}",
         prec >= 0.99 and rec >= 0.99),
        ("colour bar IoU >= 0.95 (painted pixels)", f"min {min(ious):.3f}, mean {np.mean(ious):.3f}", min(ious) >= 0.95),
        ("identification top-1 >= 95 %",
         f"png {100 * ident['png']:.0f} %, jpeg75 {100 * ident['jpeg75']:.0f} % "
         f"({100 * ident['jpeg75 info']:.0f} % counting twilight_shifted), figures {100 * ident['figure']:.0f} %"
         + (f"; twilight_shifted renders png {100 * ident['shifted png']:.0f} %, jpeg75 {100 * ident['shifted jpeg75']:.0f} %"
            if "shifted png" in ident else ""),
         min(ident['png'], ident['jpeg75'], ident['figure']) >= 0.95),
        ("<= 150 ms for 1000 x 1000 (clean PNG, every map; new image)",
         f"max {max(v for k, v in speed.items() if len(k) == 2 and k[1] == 'png'):.0f} ms",
         max(v for k, v in speed.items() if len(k) == 2 and k[1] == "png") <= 150),
        ("<= 150 ms for 1000 x 1000 (noise, JPEG; new image)",
         f"max {max(v for k, v in speed.items() if len(k) == 2):.0f} ms (cold table: max "
         f"{max(v for k, v in speed.items() if len(k) == 3):.0f} ms)",
         max(v for k, v in speed.items() if len(k) == 2) <= 150),
        ("viridis + noise: oracle linear smoother (a bound, see above)",
         f"{bound[3]:.3f} % (ours {bound[2]:.3f} %)", bound[3] <= 0.3),
    ]
    print("## Targets\n")
    print("| target | result | met |")
    print("|---|---|---|")
    for t, r, ok in rows:
        print(f"| {t} | {r} | {'yes' if ok else 'NO'} |")
    print()


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    t_start = time.time()
    print(f"python {platform.python_version()}, numpy {np.__version__}, matplotlib {matplotlib.__version__}\n")
    invert_colormap(np.zeros((8, 8, 3), np.uint8), cmap="gray")  # numba compile outside the timings
    flds = fields()
    maps = MAPS[:3] if quick else MAPS
    speed = speed_table(maps, repeats=1 if quick else 3)
    per = value_tables(flds, maps)
    bound = noise_bound_table(flds)
    masks = mask_table(maps)
    ious = colorbar_table(maps)
    ident = identify_table(flds, maps)
    summary(per, speed, masks, ious, ident, bound)
    print(f"total {time.time() - t_start:.0f} s")
