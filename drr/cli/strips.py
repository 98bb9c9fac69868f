"""``drr strips IN -o OUT``: restore an image of shuffled strips (see :mod:`drr.tools.strips`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError, OutputError
from ..io.atomic import atomic_path


def add_parser(subparsers):
    p = subparsers.add_parser(
        "strips", help="find the cuts of an image of shuffled strips and restore their order",
        description="Find where the shuffled strips of an image meet and put them back in "
                    "order. Reads and writes PNG, JPEG, TIFF, ... (SimpleITK).")
    p.add_argument("input", metavar="IN", help="image of shuffled strips")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="restored image")
    p.add_argument("--n-strips", type=int, default=None, metavar="N",
                   help="number of strips, if known (default: found)")
    p.add_argument("--axis", type=int, default=1, choices=(0, 1),
                   help="1: vertical strips side by side (default); 0: horizontal strips")
    p.set_defaults(func=run)
    return p


def _read(path):
    import SimpleITK as sitk

    if not Path(path).is_file():
        raise InputError(f"`IN` must be an existing image file, not {str(path)!r}")
    try:
        img = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        raise InputError(f"`IN` must be an image SimpleITK can read (PNG, JPEG, TIFF, ...), "
                         f"not {str(path)!r}: {msg}") from None
    if img.GetDimension() != 2:
        raise InputError(f"`IN` must be a 2-D image, not {img.GetDimension()}-D ({str(path)!r})")
    return sitk.GetArrayFromImage(img)  # (rows, cols) or (rows, cols, channels)


def _write(array, path):
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.ascontiguousarray(array),
                                 isVector=array.ndim == 3)
    with atomic_path(path) as tmp:
        try:
            sitk.WriteImage(img, str(tmp))
        except RuntimeError as exc:
            raise OutputError(f"cannot write {str(path)!r}: "
                              f"{str(exc).strip().splitlines()[-1]}") from None


def run(args) -> int:
    from ..tools.strips import reassemble

    image = _read(args.input)
    res = reassemble(image, n_strips=args.n_strips, axis=args.axis)
    _write(res.image, args.output)
    print(f"strips: {res.n_strips}")
    print("cuts: " + " ".join(str(c) for c in res.cuts))
    print("order: " + " ".join(str(k) for k in res.order))
    if res.optimal:
        print(f"optimal: yes (cost {res.cost:.4g})")
    else:
        print(f"optimal: not proven (cost {res.cost:.4g}, gap {100 * res.gap:.2f}% "
              f"to lower bound {res.lower_bound:.4g})")
    if res.confidence.size:
        print(f"weakest seam confidence: {float(res.confidence.min()):.3f}")
    print(f"wrote {args.output}")
    return 0
