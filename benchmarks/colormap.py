"""Benchmark of drr.tools.colormap: inversion accuracy, validity mask, colour bars, identification.

Run:  python benchmarks/colormap.py            (about 1-2 minutes on 2 cores)

Prints markdown tables.  Conditions of the value round trip (512 x 512):
  clean   matplotlib colormap -> uint8
  jpeg75  the same, saved as JPEG quality 75 with Pillow (4:2:0 chroma) and read back
  noise   clean + Gaussian noise sigma = 5/255 per channel, rounded to uint8
  aa      rendered at 1024 x 1024 and averaged 2 x 2 (anti-aliasing blends)
Fields: three seeded smooth fields (sums of Gaussian bumps) and skimage's
`camera` image rescaled to [0, 1] (a real image with edges).
Methods: `ours` (default settings), `ours-px` (smoothing=0: the perceptual
curve projection only), `rgb-nn` (baseline: nearest of the 256 LUT colours in
RGB, value = bin centre; cKDTree).
"""

import io
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from scipy import ndimage  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from drr.tools.colormap import find_colorbar, identify_colormap, invert_colormap  # noqa: E402

MAPS = ["viridis", "jet", "gray", "twilight"]
N = 512


def smooth_field(seed, n=N):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:n, 0:n] / n
    f = np.zeros((n, n))
    for _ in range(6):
        c = rng.random(2)
        s = 0.15 + 0.3 * rng.random()
        f += rng.normal() * np.exp(-((x - c[0]) ** 2 + (y - c[1]) ** 2) / (2 * s * s))
    return (f - f.min()) / (f.max() - f.min())


def camera():
    import skimage.data

    c = skimage.data.camera().astype(float)
    return (c - c.min()) / (c.max() - c.min())


def render(field, name):
    return (matplotlib.colormaps[name](field)[..., :3] * 255 + 0.5).astype(np.uint8)


def degrade(field, name, cond, rng):
    if cond == "aa":
        big = ndimage.zoom(field, 2, order=1)
        rgb = matplotlib.colormaps[name](big)[..., :3]
        rgb = rgb.reshape(N, 2, N, 2, 3).mean(axis=(1, 3))
        return (rgb * 255 + 0.5).astype(np.uint8)
    img = render(field, name)
    if cond == "jpeg75":
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=75)
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    if cond == "noise":
        return np.clip(np.rint(img + rng.normal(0, 5, img.shape)), 0, 255).astype(np.uint8)
    return img


def rgb_nn(img, name):
    cm = matplotlib.colormaps[name]
    lut = cm(np.arange(cm.N))[:, :3]
    _, k = cKDTree(lut).query(img.reshape(-1, 3) / 255.0)
    return ((k + 0.5) / cm.N).reshape(img.shape[:2])


def value_table():
    rows = []
    fields = [("smooth", smooth_field(s)) for s in (1, 2, 3)] + [("camera", camera())]
    for name in MAPS:
        for cond in ("clean", "jpeg75", "noise", "aa"):
            acc = {m: {"se": 0.0, "n": 0, "valid": 0, "cov": 0, "w": [], "t": 0.0, "px": 0} for m in ("ours", "ours-px", "rgb-nn")}
            acc_cam = {m: [] for m in acc}
            for fname, field in fields:
                rng = np.random.default_rng(100)
                img = degrade(field, name, cond, rng)
                truth = field
                for method in acc:
                    t0 = time.perf_counter()
                    if method == "rgb-nn":
                        vals = rgb_nn(img, name)
                        valid = np.ones(vals.shape, bool)
                        lo = hi = None
                    else:
                        res = invert_colormap(img, cmap=name, smoothing=2 if method == "ours" else 0)
                        vals, valid, lo, hi = res.values, res.valid, res.interval_low, res.interval_high
                    dt = time.perf_counter() - t0
                    err = (vals - truth)[valid]
                    if fname == "camera":
                        acc_cam[method].append(np.sqrt(np.mean(err**2)))
                        continue
                    a = acc[method]
                    a["se"] += float(np.sum(err**2))
                    a["n"] += err.size
                    a["valid"] += int(valid.sum())
                    a["px"] += valid.size
                    a["t"] += dt
                    if lo is not None:
                        a["cov"] += int(((truth >= lo) & (truth <= hi))[valid].sum())
                        a["w"].append(np.nanmedian(hi - lo))
            for method, a in acc.items():
                rows.append(
                    (
                        name,
                        cond,
                        method,
                        np.sqrt(a["se"] / a["n"]),
                        acc_cam[method][0],
                        a["valid"] / a["px"],
                        (a["cov"] / a["valid"]) if a["w"] else float("nan"),
                        float(np.mean(a["w"])) if a["w"] else float("nan"),
                        1000 * a["t"] / (a["px"] / 1e6),
                    )
                )
    print("## Value recovery (512 x 512; RMSE over valid pixels, values in [0, 1])\n")
    print("| map | condition | method | RMSE smooth | RMSE camera | valid | interval coverage | median width | ms/MP |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.5f} | {r[4]:.5f} | {r[5]:.4f} | {r[6]:.4f} | {r[7]:.4f} | {r[8]:.0f} |")
    print()


def figure(name, orientation="vertical", text=True, seed=7):
    truth = smooth_field(seed, n=160)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    im = ax.imshow(truth, cmap=name, interpolation="nearest")
    ax.set_title("Smooth field, rendered with " + name)
    ax.set_xlabel("x (px)")
    cbar = fig.colorbar(im, ax=ax, orientation=orientation, label="value")
    extras = []
    if text:
        extras.append(ax.text(80, 80, "label 3.14", color="white", fontsize=12, ha="center"))
        extras += ax.plot([20, 140], [140, 30], "r-", lw=1.5)
        extras += ax.plot([40, 120], [40, 60], "k+", ms=10)
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
    plt.close(fig)
    return rgb, plain, boxes


def box_mask(shape, b, shrink=0):
    m = np.zeros(shape, bool)
    m[int(b[0]) + shrink : int(np.ceil(b[1])) - shrink, int(b[2]) + shrink : int(np.ceil(b[3])) - shrink] = True
    return m


def mask_table():
    print("## Validity mask on Agg figures (title, labels, ticks, colour bar, text, line, markers)\n")
    print("| map | precision | recall | overlay pixels flagged valid |")
    print("|---|---|---|---|")
    for name in MAPS:
        rgb, plain, (img_box, bar_box) = figure(name)
        drawn = np.any(rgb != plain, axis=2)
        on_map = (box_mask(drawn.shape, img_box) | box_mask(drawn.shape, bar_box)) & ~drawn
        clear = (box_mask(drawn.shape, img_box, 2) | box_mask(drawn.shape, bar_box, 3)) & ~ndimage.binary_dilation(drawn)
        res = invert_colormap(rgb, cmap=name)
        prec = on_map[res.valid].mean()
        rec = res.valid[clear].mean()
        print(f"| {name} | {prec:.4f} | {rec:.4f} | {(res.valid & drawn).sum() / drawn.sum():.3f} |")
    print()


def colorbar_table():
    print("## Colour-bar localisation (max edge error vs the colour-bar axes box, px)\n")
    print("| map | orientation | found | orientation ok | max edge error px | ms |")
    print("|---|---|---|---|---|---|")
    for name in MAPS + ["magma_r", "coolwarm"]:
        for orient in ("vertical", "horizontal"):
            rgb, _, (_, bar_box) = figure(name, orient)
            t0 = time.perf_counter()
            loc = find_colorbar(rgb)
            dt = 1000 * (time.perf_counter() - t0)
            if loc is None:
                print(f"| {name} | {orient} | no | - | - | {dt:.0f} |")
                continue
            err = max(abs(loc.rows[0] - bar_box[0]), abs(loc.rows[1] - bar_box[1]),
                      abs(loc.cols[0] - bar_box[2]), abs(loc.cols[1] - bar_box[3]))
            print(f"| {name} | {orient} | yes | {loc.orientation == orient} | {err:.1f} | {dt:.0f} |")
    print()


def identify_table():
    import matplotlib as mpl

    names = [n for n in mpl.colormaps if not n.endswith("_r")][::3]  # every third registered map
    field = smooth_field(21, n=256)
    print(f"## Colormap identification ({len(names)} maps: every third registered, unreversed)\n")
    print("| input | top-1 | top-3 | s per image |")
    print("|---|---|---|---|")
    for cond in ("clean", "jpeg75"):
        top1 = top3 = 0
        t = 0.0
        for name in names:
            img = render(field, name)
            if cond == "jpeg75":
                buf = io.BytesIO()
                Image.fromarray(img).save(buf, "JPEG", quality=75)
                img = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
            t0 = time.perf_counter()
            rank = identify_colormap(img, top=3)
            t += time.perf_counter() - t0
            hit = [name == m.name or name in m.equivalents or name + "_r" in (m.name,) for m in rank]
            top1 += hit[0]
            top3 += any(hit)
        print(f"| plain image, {cond} (reverse tie allowed) | {top1}/{len(names)} | {top3}/{len(names)} | {t / len(names):.2f} |")
    # figures with a colour bar: the direction must be right
    rev = ["viridis_r", "magma_r", "jet", "RdBu_r", "gray", "cividis_r", "coolwarm", "Blues_r"]
    ok = 0
    for name in rev:
        rgb, _, _ = figure(name, text=False)
        rank = identify_colormap(rgb, top=1)
        ok += rank[0].name == name or name in rank[0].equivalents
    print(f"| Agg figure with colour bar (direction must match) | {ok}/{len(rev)} | - | - |")
    print()


if __name__ == "__main__":
    t0 = time.time()
    invert_colormap(np.zeros((8, 8, 3), np.uint8), cmap="gray")  # numba compile outside the timings
    value_table()
    mask_table()
    colorbar_table()
    identify_table()
    print(f"total {time.time() - t0:.0f} s")
