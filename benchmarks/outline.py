"""Benchmark drr.tools.outline against marching-squares contours (matplotlib, scikit-image).

Usage::

    python benchmarks/outline.py [--repeat N]

For each test image: the time per call of ``outline_path`` (exact pixel-edge rings,
compiled code warmed up first), of ``outline_paths`` (one path per label) where
relevant, of matplotlib's contour generator (contourpy, what ``ax.contour`` runs,
without the artist overhead) and of ``skimage.measure.find_contours``, and the
relative area error of each against the pixel count (contours on the mask padded
by one pixel, so that they close).  Median and minimum over ``--repeat`` calls.

Targets (issue 5): <= 150 ms for a 1000x1000 multi-label image; <= 20 ms for
512x512 with ~30 regions.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from drr.tools.outline import outline_path, outline_paths, outline_rings


def blobs(shape, n_labels, sigma, seed):
    """Smoothed noise cut into ``n_labels`` bands: large regions with holes and islands."""
    from scipy.ndimage import gaussian_filter
    rng = np.random.default_rng(seed)
    f = gaussian_filter(rng.standard_normal(shape), sigma)
    return np.digitize(f, np.quantile(f, np.linspace(0, 1, n_labels + 1)[1:-1])).astype(np.int32)


def voronoi(shape, n, seed):
    """``n`` Voronoi cells (labels 1..n): ~n convex regions."""
    from scipy.spatial import cKDTree
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1, size=(n, 2)) * shape
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    _, idx = cKDTree(pts).query(np.column_stack([yy.ravel(), xx.ravel()]))
    return (idx.reshape(shape) + 1).astype(np.int32)


def timeit(fn, repeat):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(ts)), 1e3 * float(np.min(ts))


def signed_area(poly):
    x, y = poly[:, 0] - poly[0, 0], poly[:, 1] - poly[0, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args(argv)

    import contourpy
    from skimage.measure import find_contours, label

    cases = [
        ("1000x1000, 6 labels (blobs)", blobs((1000, 1000), 6, 6.0, 1), [3], True),
        ("1000x1000, 6 labels, union of 3", blobs((1000, 1000), 6, 6.0, 1), [1, 3, 5], False),
        ("1000x1000, 40 labels (Voronoi)", voronoi((1000, 1000), 40, 2), [7], True),
        ("1000x1000, noise 50% (worst case)",
         (np.random.default_rng(3).random((1000, 1000)) < 0.5).astype(np.int32), [1], False),
        ("1000x1000, isolated pixels 1%",
         (np.random.default_rng(6).random((1000, 1000)) < 0.01).astype(np.int32), [1], False),
        ("512x512, 30 labels (Voronoi)", voronoi((512, 512), 30, 4), [5], True),
        ("512x512, 3 labels (blobs)", blobs((512, 512), 3, 4.0, 5), [2], True),
    ]
    print(f"# drr.tools.outline benchmark  ({platform.machine()}, {platform.python_version()}, "
          f"numpy {np.__version__}, repeat {args.repeat}; times: median / min ms per call)")
    print()
    print("| image | selected | regions (8-conn) | rings | vertices | outline_path ms "
          "| outline_paths(all labels) ms | contourpy ms | find_contours ms "
          "| area err outline | area err contourpy | area err find_contours |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, lab, sel, per_label in cases:
        mask = np.isin(lab, sel)
        n_pix = int(mask.sum())
        regions = int(label(mask, connectivity=2).max())
        rings = outline_rings(lab, sel)
        verts = sum(len(r) - 1 for r in rings)
        err_ours = (sum(signed_area(r) for r in rings) - n_pix) / n_pix
        t_ours = timeit(lambda: outline_path(lab, sel), args.repeat)
        if per_label:
            values = np.unique(lab).tolist()
            t_all = timeit(lambda: outline_paths(lab, values), max(3, args.repeat // 3))
            s_all = f"{t_all[0]:.1f} / {t_all[1]:.1f} ({len(values)} labels)"
        else:
            s_all = "-"
        z = np.pad(mask, 1).astype(np.float64)
        gen = lambda: contourpy.contour_generator(z=z).lines(0.5)  # noqa: E731
        t_cp = timeit(gen, max(3, args.repeat // 3))
        area_cp = sum(signed_area(p) for p in gen())
        t_sk = timeit(lambda: find_contours(z, 0.5), max(3, args.repeat // 3))
        area_sk = sum(signed_area(p) for p in find_contours(z, 0.5))
        err_cp = (abs(area_cp) - n_pix) / n_pix
        err_sk = (abs(area_sk) - n_pix) / n_pix
        print(f"| {name} | {sel} | {regions} | {len(rings)} | {verts} "
              f"| {t_ours[0]:.1f} / {t_ours[1]:.1f} | {s_all} | {t_cp[0]:.1f} / {t_cp[1]:.1f} "
              f"| {t_sk[0]:.1f} / {t_sk[1]:.1f} | {err_ours:+.1e} | {err_cp:+.2%} "
              f"| {err_sk:+.2%} |")


if __name__ == "__main__":
    main()
