"""Benchmark drr.tools.outline against marching-squares contours and polygonizers.

Benchmark environment: the two third-party anchors are optional and are *not* drr
dependencies; install them into the benchmark environment only::

    pip install rasterio xarray-spatial

(rasterio ships GDAL in its wheel; xarray-spatial pulls in xarray, datashader and
pandas).  An anchor that cannot be imported is skipped with a printed note.

Usage::

    python benchmarks/outline.py [--repeat N]

For each test image: the time per call of ``outline_path`` (exact pixel-edge rings,
compiled code warmed up first), of ``outline_paths`` (one path per label) where
relevant, of matplotlib's contour generator (contourpy, what ``ax.contour`` runs,
without the artist overhead) and of ``skimage.measure.find_contours``, and the
relative area error of each against the pixel count (contours on the mask padded
by one pixel, so that they close).  Anchors, in the same process on the same
images: rasterio's ``features.shapes`` (GDAL's polygonizer) and xarray-spatial's
``experimental.polygonize``, both given the selection as a uint8 raster with
``mask=`` the selection (so only the selected regions are polygonized) and
8-connectivity like ``outline_path``'s default; their time covers producing
their native output (GeoJSON-like dicts, numpy rings), and their area is that of
the outer rings minus the holes.  Median and minimum over ``--repeat`` calls
(fewer for the slower methods, at least 3: ``--repeat // 3`` for ``outline_paths``
and the contours, ``--repeat // 5`` for the anchors).

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


def ring_area(ring):
    """Unsigned shoelace area of one ring (a sequence of (x, y) pairs)."""
    return abs(signed_area(np.asarray(ring, dtype=np.float64)))


def load_anchors():
    """The importable anchors: name -> (polygonize(mask) -> output, area(output), version)."""
    anchors = {}
    try:
        import rasterio
        from rasterio import features
    except ImportError as exc:
        print(f"note: rasterio not importable ({exc}); anchor skipped "
              "(pip install rasterio)")
    else:
        def rio(raster, mask=None):
            return list(features.shapes(raster, mask=mask, connectivity=8))

        def rio_area(out):
            return sum(ring_area(g["coordinates"][0])
                       - sum(ring_area(h) for h in g["coordinates"][1:]) for g, _ in out)

        anchors["rasterio"] = (rio, rio_area,
                               f"rasterio {rasterio.__version__} (GDAL {rasterio.__gdal_version__})")
    try:
        import xarray as xr
        import xrspatial
        from xrspatial.experimental import polygonize
    except ImportError as exc:
        print(f"note: xarray-spatial not importable ({exc}); anchor skipped "
              "(pip install xarray-spatial)")
    else:
        def xrs(raster, mask=None):
            return polygonize(xr.DataArray(raster),
                              mask=None if mask is None else xr.DataArray(mask), connectivity=8)

        def xrs_area(out):
            return sum(ring_area(p[0]) - sum(ring_area(h) for h in p[1:]) for p in out[1])

        anchors["xarray-spatial"] = (xrs, xrs_area, f"xarray-spatial {xrspatial.__version__}")
    return anchors


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
    anchors = load_anchors()
    print(f"# drr.tools.outline benchmark  ({platform.machine()}, {platform.python_version()}, "
          f"numpy {np.__version__}, repeat {args.repeat}; times: median / min ms per call)")
    print(f"# anchors: {', '.join(a[2] for a in anchors.values()) or 'none importable'}")
    print()
    a_head = "".join(f" | {n} ms" for n in anchors)
    a_err = "".join(f" | area err {n}" for n in anchors)
    print("| image | selected | regions (8-conn) | rings | vertices | outline_path ms "
          f"| outline_paths(all labels) ms | contourpy ms | find_contours ms{a_head} "
          f"| area err outline | area err contourpy | area err find_contours{a_err} |")
    print("|---|---|" + "---:|" * (10 + 2 * len(anchors)))
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
        a_t, a_e = "", ""
        for fn, area_fn, _ in anchors.values():
            raster = mask.view(np.uint8)
            t_a = timeit(lambda: fn(raster, mask), max(3, args.repeat // 5))
            a_t += f" | {t_a[0]:.1f} / {t_a[1]:.1f}"
            a_e += f" | {(area_fn(fn(raster, mask)) - n_pix) / n_pix:+.1e}"
        print(f"| {name} | {sel} | {regions} | {len(rings)} | {verts} "
              f"| {t_ours[0]:.1f} / {t_ours[1]:.1f} | {s_all} | {t_cp[0]:.1f} / {t_cp[1]:.1f} "
              f"| {t_sk[0]:.1f} / {t_sk[1]:.1f}{a_t} | {err_ours:+.1e} | {err_cp:+.2%} "
              f"| {err_sk:+.2%}{a_e} |", flush=True)

    # One outline per label over the whole label image: what the anchors do natively.
    print()
    print("One outline per label value over the whole label image (every pixel in some "
          "region): `outline_paths(lab, all values)` vs the anchors polygonizing the int32 "
          "label image without a mask.  Area error = (sum of region areas - pixel count) "
          "/ pixel count.")
    print()
    print("| image | labels | outline_paths ms" + "".join(f" | {n} ms" for n in anchors)
          + " | area err outline_paths" + "".join(f" | area err {n}" for n in anchors) + " |")
    print("|---|" + "---:|" * (3 + 2 * len(anchors)))
    for name, lab, _, per_label in cases:
        if not per_label:
            continue
        values = np.unique(lab).tolist()
        n_pix = lab.size
        area_ours = sum(sum(signed_area(r) for r in outline_rings(lab, v)) for v in values)
        t_all = timeit(lambda: outline_paths(lab, values), max(3, args.repeat // 3))
        a_t, a_e = "", ""
        for fn, area_fn, _ in anchors.values():
            t_a = timeit(lambda: fn(lab), max(3, args.repeat // 5))
            a_t += f" | {t_a[0]:.1f} / {t_a[1]:.1f}"
            a_e += f" | {(area_fn(fn(lab)) - n_pix) / n_pix:+.1e}"
        print(f"| {name} | {len(values)} | {t_all[0]:.1f} / {t_all[1]:.1f}{a_t} "
              f"| {(area_ours - n_pix) / n_pix:+.1e}{a_e} |", flush=True)


if __name__ == "__main__":
    main()
