"""Draw docs/outline.png, docs/peaks.png and docs/colormap.png from drr's secondary tools.

Run from the repository root: ``python docs/make_tool_figures.py`` (with the repository on
``sys.path``, e.g. ``PYTHONPATH=.``, as for ``docs/make_figures.py``).  Every input is
generated here (seeded) or shipped with drr, so the figures are reproducible.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from scipy import ndimage  # noqa: E402

import drr  # noqa: E402
from drr.data import load_example_ct  # noqa: E402
from drr.io.atomic import atomic_path  # noqa: E402
from drr.tools.colormap import invert_colormap  # noqa: E402
from drr.tools.outline import outline_rings, plot_outline  # noqa: E402
from drr.tools.peaks import cluster_center, find_peaks  # noqa: E402

DOCS = Path(__file__).resolve().parent
DPI = 100
MAX_BYTES = 200_000


def save(fig, name: str) -> None:
    """Write ``fig`` as an RGB PNG, or a 256-colour palette PNG when the RGB one tops MAX_BYTES
    (noisy panels compress badly)."""
    from PIL import Image  # matplotlib's own dependency

    fig.set_dpi(DPI)
    fig.canvas.draw()
    rgb = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])
    out = DOCS / name
    with atomic_path(out) as tmp:
        rgb.save(tmp, format="png", optimize=True)
        if tmp.stat().st_size > MAX_BYTES:
            rgb.quantize(256, method=Image.Quantize.MEDIANCUT).save(tmp, format="png",
                                                                    optimize=True)
    plt.close(fig)
    print(out, f"{out.stat().st_size // 1024} KB")


# --------------------------------------------------------------------------- outline

def outline_figure() -> None:
    vol = load_example_ct()
    geo = drr.Geometry.carm(vol.center(), sid=700, sdd=1100, shape=(120, 120), pixel_spacing=4.8)
    image = drr.render(vol, geo, backend="cpu")                # PA view, rows top to bottom
    # A label image of the same size: 1 = lung fields and soft tissue, 3 = dense (heart,
    # spine, liver: the line integral above 4.5), 0 = the rest.
    labels = np.where(image > 4.5, 3, np.where(image > 2.5, 1, 0)).astype(np.int32)
    half = 120 * 4.8 / 2                                       # detector extent, mm
    extent = (-half, half, half, -half)                         # x right, y down (origin upper)
    rings = outline_rings(labels, 3, extent=extent, origin="upper")
    n_holes = sum(1 for r in rings if np.sum(r[:-1, 0] * r[1:, 1] - r[1:, 0] * r[:-1, 1]) < 0)

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6))
    ax = axes[0]
    lut = np.array([[0.12, 0.12, 0.12], [0.48, 0.61, 0.78], [0, 0, 0], [0.91, 0.76, 0.35]])  # by value
    ax.imshow(lut[labels], interpolation="nearest")
    plot_outline(ax, labels, 3, color="red", lw=1.2)
    ax.set_title("label image: 0 dark, 1 blue, 3 yellow\nplot_outline(ax, labels, 3)")
    ax.set_xlabel("column")
    ax.set_ylabel("row")

    ax = axes[1]
    ax.imshow(image, cmap="gray", extent=extent, origin="upper", interpolation="nearest")
    plot_outline(ax, labels, 3, extent=extent, origin="upper", color="red", lw=1.2)
    c0, c1, r0, r1 = 51, 63, 64, 76                             # zoom window, pixel edges
    zoom = (-half + 4.8 * c0, -half + 4.8 * c1, -half + 4.8 * r0, -half + 4.8 * r1)  # mm
    ax.add_patch(Rectangle((zoom[0], zoom[2]), zoom[1] - zoom[0], zoom[3] - zoom[2],
                           fill=False, ec="cyan", lw=1.2))
    ax.set_title(f"DRR of the bundled CT (imshow extent in mm)\n"
                 f"value 3: {len(rings) - n_holes} outer rings, {n_holes} holes, "
                 f"area {int((labels == 3).sum())} px exactly")
    ax.set_xlabel("u (mm)")
    ax.set_ylabel("v (mm)")

    ax = axes[2]
    ax.imshow(image, cmap="gray", extent=extent, origin="upper", interpolation="nearest")
    plot_outline(ax, labels, 3, extent=extent, origin="upper", color="red", lw=2,
                 label="plot_outline (pixel edges)")
    ax.contour(labels == 3, levels=[0.5], extent=extent, origin="upper", colors="cyan",
               linewidths=1.5)
    ax.plot([], [], color="cyan", label="ax.contour(labels == 3, [0.5])")
    ax.set_xlim(zoom[0], zoom[1])
    ax.set_ylim(zoom[3], zoom[2])
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    ax.set_title("zoom (cyan box), a 2-pixel hole: outline\non pixel edges, contour cuts corners")
    ax.set_xlabel("u (mm)")
    ax.set_ylabel("v (mm)")
    fig.tight_layout()
    save(fig, "outline.png")


# --------------------------------------------------------------------------- peaks

def gaussians(shape, xs, ys, amps, sigma):
    """Sum of circular Gaussians sampled at the pixel centres (x = column, y = row)."""
    img = np.zeros(shape)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    for x, y, a in zip(xs, ys, amps):
        r0, r1 = max(0, int(y) - 8), min(shape[0], int(y) + 9)
        c0, c1 = max(0, int(x) - 8), min(shape[1], int(x) + 9)
        img[r0:r1, c0:c1] += a * np.exp(-((xx[r0:r1, c0:c1] - x) ** 2 + (yy[r0:r1, c0:c1] - y) ** 2)
                                        / (2 * sigma ** 2))
    return img


def classify(tx, ty, dx, dy, radius):
    """Each detection (in rank order): 0 first on a true source, 1 duplicate, 2 on no source."""
    used = np.zeros(tx.size, bool)
    kind = np.full(len(dx), 2)
    for i, (x, y) in enumerate(zip(dx, dy)):
        d = np.hypot(tx - x, ty - y)
        k = int(np.argmin(d))
        if d[k] <= radius:
            kind[i] = 1 if used[k] else 0
            used[k] = True
    return kind


def peaks_figure() -> None:
    rng = np.random.default_rng(5)
    n, fwhm, noise, bg = 160, 3.0, 10.0, 100.0
    sigma = fwhm / 2.3548
    k = 60
    tx, ty = rng.uniform(8, n - 9, k), rng.uniform(8, n - 9, k)
    snr = np.exp(rng.uniform(np.log(6), np.log(100), k))
    img = bg + gaussians((n, n), tx, ty, snr * noise, sigma) + rng.normal(0, noise, (n, n))
    img = np.minimum(img, bg + 40 * noise)                      # saturated stars: flat tops
    t = find_peaks(img, fwhm=fwhm)

    med = np.median(img)
    mad = 1.4826 * np.median(np.abs(img - med))
    naive = (img == ndimage.maximum_filter(img, size=3)) & (img > med + 3 * mad)
    order = np.argsort(-img[naive], kind="stable")
    ny_, nx_ = (a[order].astype(float) for a in np.nonzero(naive))

    fig, axes = plt.subplots(1, 3, figsize=(14, 5.0))
    for ax, dx, dy, title in (
            (axes[0], t["x"], t["y"], "find_peaks(img, fwhm=3)"),
            (axes[1], nx_, ny_, "naive: img == maximum_filter(img, 3) & img > median + 3 sigma")):
        ax.imshow(img, cmap="gray_r", vmin=bg - 2 * noise, vmax=bg + 12 * noise,
                  interpolation="nearest")
        kind = classify(tx, ty, np.asarray(dx), np.asarray(dy), radius=fwhm)
        ax.scatter(tx, ty, s=110, facecolors="none", edgecolors="tab:blue", lw=1.0,
                   label=f"true source ({k}, SNR 6-100, flat tops above SNR 40)")
        for code, mk, col, name in ((0, "+", "tab:green", "peak on a source"),
                                    (1, "s", "darkorange", "duplicate on a source"),
                                    (2, "x", "red", "peak on noise")):
            sel = kind == code
            ax.scatter(np.asarray(dx)[sel], np.asarray(dy)[sel], marker=mk, s=45 if code else 40,
                       color=col, lw=1.3, facecolors="none" if code == 1 else None,
                       label=f"{name} ({int(sel.sum())})")
        ax.set_title(f"{title}\n{len(dx)} peaks for {k} sources", fontsize=10)
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylim(n - 0.5, -0.5)
        ax.legend(loc="lower left", fontsize=7, framealpha=0.9)

    # Point cloud: a tight cluster, a broader one, uniform background.
    rng = np.random.default_rng(11)
    c_true = np.array([41.3, 57.8])
    pts = np.concatenate([rng.normal(c_true, 2.0, (1500, 2)),
                          rng.normal(c_true + [22, -14], 5.0, (1500, 2)),
                          rng.uniform(0, 100, (6000, 2))])
    cc = cluster_center(pts[:, 0], pts[:, 1], bins=100, range=((0, 100), (0, 100)))
    h, ex, ey = np.histogram2d(pts[:, 0], pts[:, 1], bins=100, range=((0, 100), (0, 100)))
    i, j = np.unravel_index(int(np.argmax(h)), h.shape)
    argmax = (0.5 * (ex[i] + ex[i + 1]), 0.5 * (ey[j] + ey[j + 1]))
    mean = pts.mean(0)
    ax = axes[2]
    ax.imshow(h.T, origin="lower", extent=(0, 100, 0, 100), cmap="magma", interpolation="nearest")
    ax.plot(*c_true, "o", mfc="none", mec="white", ms=14, mew=1.5, label="true centre")
    ax.plot(cc.x, cc.y, "+", color="lime", ms=14, mew=2,
            label=f"cluster_center: error {np.hypot(cc.x - c_true[0], cc.y - c_true[1]):.2f} bins")
    ax.plot(*argmax, "s", mfc="none", mec="cyan", ms=8, mew=1.5,
            label=f"histogram argmax: {np.hypot(*(np.array(argmax) - c_true)):.2f} bins")
    ax.plot(*mean, "x", color="tab:blue", ms=10, mew=2,
            label=f"mean of all points: {np.hypot(*(mean - c_true)):.1f} bins")
    ax.set_xlim(20, 80)
    ax.set_ylim(20, 80)
    ax.legend(loc="lower left", fontsize=7, framealpha=0.9)
    ins = ax.inset_axes((0.58, 0.58, 0.4, 0.4))
    ins.imshow(h.T, origin="lower", extent=(0, 100, 0, 100), cmap="magma",
               interpolation="nearest")
    ins.plot(*c_true, "o", mfc="none", mec="white", ms=14, mew=1.5)
    ins.errorbar(cc.x, cc.y, xerr=cc.x_err, yerr=cc.y_err, color="lime", capsize=3)
    ins.plot(cc.x, cc.y, "+", color="lime", ms=14, mew=2)
    ins.plot(*argmax, "s", mfc="none", mec="cyan", ms=8, mew=1.5)
    ins.set_xlim(c_true[0] - 2.2, c_true[0] + 2.2)
    ins.set_ylim(c_true[1] - 2.2, c_true[1] + 2.2)
    ins.tick_params(labelsize=6, colors="white")
    ax.indicate_inset_zoom(ins, edgecolor="white")
    ax.set_title(f"cluster_center on 9000 points, 1-bin histogram shown\n"
                 f"(main cluster: 1500 points; uncertainty ±{cc.x_err:.2f}, ±{cc.y_err:.2f} bins, 1 σ)",
                 fontsize=10)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    fig.tight_layout()
    save(fig, "peaks.png")


# --------------------------------------------------------------------------- colormap

def colormap_figure() -> None:
    rng = np.random.default_rng(3)
    n = 256
    yy, xx = np.mgrid[:n, :n] / n
    field = (0.5 + 0.35 * np.sin(5 * xx + 2 * yy) * np.cos(3 * yy - 1)
             + 0.25 * np.exp(-((xx - 0.7) ** 2 + (yy - 0.35) ** 2) / 0.01))
    field = ndimage.gaussian_filter(field + 0.02 * rng.standard_normal((n, n)), 2)
    field = (field - field.min()) / (field.max() - field.min())
    cmap = matplotlib.colormaps["jet"]
    clean = (cmap(field)[..., :3] * 255 + 0.5).astype(np.uint8)

    # Annotate like a real figure: text, markers and a white box, drawn by matplotlib.
    fig0 = plt.figure(figsize=(n / 100, n / 100), dpi=100)
    ax0 = fig0.add_axes((0, 0, 1, 1))
    ax0.imshow(clean, interpolation="nearest")
    ax0.text(10, 30, "Run 7", color="white", fontsize=14, weight="bold")
    ax0.plot([150, 200, 230], [200, 160, 215], "k^", ms=8)
    ax0.add_patch(Rectangle((15, 190), 80, 45, color="white"))
    ax0.set_axis_off()
    fig0.canvas.draw()
    annotated = np.asarray(fig0.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig0)
    noisy = np.clip(annotated + rng.normal(0, 3, annotated.shape), 0, 255).round().astype(np.uint8)
    on_map = np.all(annotated == clean, axis=-1)

    res = invert_colormap(noisy, cmap="jet")
    err = np.abs(res.values - field)
    width = res.interval_high - res.interval_low
    inside = (res.interval_low <= field) & (field <= res.interval_high)

    fig, axes = plt.subplots(2, 3, figsize=(12, 7.6))
    panels = [
        (noisy, None, "input: field through jet (uint8), annotated,\n+ noise σ = 3/255 per channel", None),
        (field, "viridis", "true field", (0, 1)),
        (res.values, "viridis", "invert_colormap(img, cmap='jet').values", (0, 1)),
        (err, "magma",
         f"|error| (mean {np.nanmean(err[on_map & res.valid]):.4f} of range on the map)",
         (0, 0.02)),
        (width, "cividis", f"interval_high - interval_low (true value inside:\n"
                           f"{np.mean(inside[on_map & res.valid]):.1%}; widest where jet is flat)",
         (0, 0.08)),
        (res.valid, "gray", f"valid mask: precision {np.mean(on_map[res.valid]):.4f}, "
                            f"recall {np.mean(res.valid[on_map]):.4f}", (0, 1)),
    ]
    for ax, (arr, cm, title, lim) in zip(axes.ravel(), panels):
        im = ax.imshow(arr, cmap=cm, vmin=None if lim is None else lim[0],
                       vmax=None if lim is None else lim[1], interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        if cm is not None and arr.dtype != bool:
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    fig.tight_layout()
    save(fig, "colormap.png")


def main() -> None:
    outline_figure()
    peaks_figure()
    colormap_figure()


if __name__ == "__main__":
    main()
