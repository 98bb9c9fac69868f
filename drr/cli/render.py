"""``drr render``: one DRR of a CT, from the command line."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from ..backends import BACKENDS
from ..errors import InputError
from ..geometry import Geometry
from ..physics import DEFAULT_ENERGY_KEV
from ..render import FILTERINGS, METHODS, OUTPUTS, STORAGES, Renderer

DEFAULT_SHAPE = (256, 256)
DEFAULT_SID = 1000.0
DEFAULT_SDD = 1500.0

EPILOG = """\
geometry (mm, DICOM patient frame LPS: +x left, +y posterior, +z superior), one of:
  explicit   --source X Y Z --detector-center X Y Z --detector-u X Y Z --detector-v X Y Z
  look-at    --source X Y Z --detector-center X Y Z [--up X Y Z]
             (board perpendicular to the central ray; image as seen from behind the board)
  C-arm      [--isocenter X Y Z] [--sid MM] [--sdd MM] [--primary DEG..] [--secondary DEG..]
             (the default: a posterior-anterior view through the volume's centre,
             sid 1000 mm, sdd 1500 mm; LAO and cranial angles positive; several angles
             make a batch of poses, written to one .tif (one page per pose) or .npy)
Without --spacing, square pixels are chosen so that the whole volume fits the board.

output: .png / .tif (16-bit; bright = more attenuation; --window LO HI in line-integral
units, default the image's min..max), or --raw .tif / .npy (float32 values).

example:
  drr render ct_folder/ -o pa.png
  drr render ct.nii.gz -o lat.png --primary 90 --shape 512 512
  drr render ct.nii.gz -o sweep.tif --raw --primary 0 30 60 90 120 150
  drr render ct.nii.gz -o view.npy --source 0 800 0 --detector-center 0 -400 0
"""


def _vec3(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def add_geometry_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("geometry")
    g.add_argument("--source", nargs=3, type=_vec3, metavar=("X", "Y", "Z"), help="source position, mm")
    g.add_argument("--detector-center", nargs=3, type=_vec3, metavar=("X", "Y", "Z"),
                   help="detector centre, mm")
    g.add_argument("--detector-u", nargs=3, type=_vec3, metavar=("X", "Y", "Z"),
                   help="unit vector of increasing column (explicit form)")
    g.add_argument("--detector-v", nargs=3, type=_vec3, metavar=("X", "Y", "Z"),
                   help="unit vector of increasing row (explicit form)")
    g.add_argument("--up", nargs=3, type=_vec3, metavar=("X", "Y", "Z"), default=None,
                   help="look-at: world direction at the top of the image (default 0 0 1, superior)")
    g.add_argument("--isocenter", nargs=3, type=_vec3, metavar=("X", "Y", "Z"),
                   help="C-arm: isocentre, mm (default: the volume's centre)")
    g.add_argument("--sid", type=float, default=None, help=f"C-arm: source-isocentre distance, mm (default {DEFAULT_SID:g})")
    g.add_argument("--sdd", type=float, default=None, help=f"C-arm: source-detector distance, mm (default {DEFAULT_SDD:g})")
    g.add_argument("--primary", type=float, nargs="+", default=None, metavar="DEG",
                   help="C-arm: LAO(+)/RAO(-) angle(s), degrees (default 0)")
    g.add_argument("--secondary", type=float, nargs="+", default=None, metavar="DEG",
                   help="C-arm: cranial(+)/caudal(-) angle(s), degrees (default 0); "
                        "one value, or as many as --primary")
    g.add_argument("--shape", nargs=2, type=int, metavar=("ROWS", "COLS"), default=list(DEFAULT_SHAPE),
                   help=f"detector pixels (default {DEFAULT_SHAPE[0]} {DEFAULT_SHAPE[1]})")
    g.add_argument("--spacing", nargs=2, type=float, metavar=("DU", "DV"), default=None,
                   help="pixel pitch along columns and rows, mm (default: fit the volume)")


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    o = p.add_argument_group("rendering and output")
    o.add_argument("--backend", choices=BACKENDS, default="auto", help="compute backend (default auto)")
    o.add_argument("--method", choices=METHODS, default="siddon",
                   help="siddon: exact integral of the voxelized volume; trilinear: of the "
                        "interpolated volume, sampled every --step voxel (smoother; GPU: texture unit)")
    o.add_argument("--step", type=float, default=0.5,
                   help="trilinear sample spacing, as a fraction of the smallest voxel (default 0.5)")
    o.add_argument("--storage", choices=STORAGES, default="float32",
                   help="GPU voxel storage; float16 halves memory traffic (<= 2^-11 relative error)")
    o.add_argument("--filtering", choices=FILTERINGS, default="texture",
                   help="GPU trilinear sampling: texture unit (fast, weights rounded to 1/256) or "
                        "software (exact weights, the CPU's image)")
    o.add_argument("--output", choices=OUTPUTS, default="line_integral",
                   help="pixel value: line integral of mu, or I0*exp(-line integral)")
    o.add_argument("--i0", type=float, default=1.0, help="unattenuated intensity for --output intensity")
    o.add_argument("--energy", type=float, default=None,
                   help=f"effective energy for HU->mu, keV (default {DEFAULT_ENERGY_KEV:g})")
    o.add_argument("--window", nargs=2, type=float, metavar=("LO", "HI"), default=None,
                   help="display window (default: the image's min..max)")
    o.add_argument("--raw", action="store_true", help="write float32 values (.tif or .npy)")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "render", help="render a DRR of a CT",
        description="Render an exact perspective DRR (Siddon line integrals) of a CT volume.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="DICOM folder, DICOM file, or .nii/.nii.gz/.mha/.mhd/.nrrd")
    p.add_argument("-o", "--out", required=True, help="output image (.png, .tif, .npy)")
    p.add_argument("--series", default=None, help="SeriesInstanceUID, when the folder holds several")
    p.add_argument("--resample", action="store_true",
                   help="resample a DICOM series with missing slices or uneven spacing onto a "
                        "uniform grid (linear along k) instead of refusing it")
    add_geometry_arguments(p)
    add_output_arguments(p)
    p.set_defaults(func=run)


def fit_spacing(volume, make_geometry, shape) -> tuple[float, float]:
    """Square pixel pitch (mm) at which the volume's box fills ~95% of the board."""
    rows, cols = shape
    P = make_geometry(1.0).projection_matrices()[0]
    corners = np.c_[volume.corners(), np.ones(8)] @ P.T
    if np.any(corners[:, 2] <= 0):
        raise InputError("the source is inside (or beside) the volume's box, so no board holds "
                         "the whole volume; give the pixel pitch with --spacing DU DV")
    c = corners[:, 0] / corners[:, 2] - (cols - 1) / 2.0
    r = corners[:, 1] / corners[:, 2] - (rows - 1) / 2.0
    pitch = max(2 * np.abs(c).max() / cols, 2 * np.abs(r).max() / rows) / 0.95
    return (pitch, pitch)


def _angles(values):
    """None -> 0; one value -> a scalar (one pose); several -> an array (a batch)."""
    if values is None:
        return 0.0
    return values[0] if len(values) == 1 else np.asarray(values, dtype=np.float64)


def fit_batch_spacing(volume, make, shape) -> tuple[float, float]:
    """The largest of the per-pose fitted pitches, so that every pose holds the volume."""
    return max((fit_spacing(volume, lambda p, n=n: make(p)[n], shape)
                for n in range(len(make(1.0)))), key=lambda pitch: pitch[0])


def geometry_from_args(args, volume) -> Geometry:
    """The Geometry that the command-line arguments describe."""
    shape = tuple(args.shape)
    explicit = args.detector_u is not None or args.detector_v is not None
    look_at = args.source is not None or args.detector_center is not None
    carm = any(x is not None for x in (args.isocenter, args.sid, args.sdd, args.primary, args.secondary))
    if (explicit or look_at) and carm:
        raise InputError("give either --source/--detector-center (explicit or look-at form) "
                         "or the C-arm options (--isocenter/--sid/--sdd/--primary/--secondary), not both")
    if explicit:
        missing = [n for n, v in (("--source", args.source), ("--detector-center", args.detector_center),
                                  ("--detector-u", args.detector_u), ("--detector-v", args.detector_v))
                   if v is None]
        if missing:
            raise InputError(f"the explicit form needs {', '.join(missing)} too")

        def make(pitch):
            return Geometry(args.source, args.detector_center, args.detector_u, args.detector_v, pitch, shape)
    elif look_at:
        if args.source is None or args.detector_center is None:
            raise InputError("the look-at form needs both --source and --detector-center")
        up = args.up if args.up is not None else (0.0, 0.0, 1.0)

        def make(pitch):
            return Geometry.look_at(args.source, args.detector_center, up=up, shape=shape, pixel_spacing=pitch)
    else:
        iso = volume.center() if args.isocenter is None else args.isocenter
        sid = DEFAULT_SID if args.sid is None else args.sid
        sdd = DEFAULT_SDD if args.sdd is None else args.sdd

        primary = _angles(args.primary)
        secondary = _angles(args.secondary)
        if np.ndim(primary) and np.ndim(secondary) and len(primary) != len(secondary):
            raise InputError(f"--secondary must give one angle or as many as --primary "
                             f"({len(primary)}), not {len(secondary)}")

        def make(pitch):
            return Geometry.carm(iso, sid=sid, sdd=sdd, primary_deg=primary, secondary_deg=secondary,
                                 shape=shape, pixel_spacing=pitch)
    if args.up is not None and not look_at:
        raise InputError("--up applies only to the look-at form (--source and --detector-center)")
    spacing = tuple(args.spacing) if args.spacing is not None else fit_batch_spacing(volume, make, shape)
    return make(spacing)


def render_to_file(volume, args, *, label: str) -> int:
    """Render the geometry in ``args`` and write ``args.out``; print a summary line."""
    from ..io.images import write_image

    geometry = geometry_from_args(args, volume)
    renderer = Renderer(volume, backend=args.backend, energy_kev=args.energy, storage=args.storage,
                        filtering=args.filtering)
    t0 = time.perf_counter()
    image = render_with_progress(renderer, geometry, output=args.output, i0=args.i0,
                                 method=args.method, step=args.step)
    ms = (time.perf_counter() - t0) * 1e3
    path = write_image(args.out, image, raw=args.raw or None, window=args.window,
                       invert=args.output == "intensity")
    rows, cols = geometry.shape
    du, dv = geometry.pixel_spacing[0]
    what = f"{len(geometry)} x " if geometry.batched else ""
    print(f"{label}: {what}{rows}x{cols} DRR ({du:.3g} x {dv:.3g} mm pixels), {renderer.backend} "
          f"backend, {ms:.0f} ms, values {image.min():.4g}..{image.max():.4g} -> {path}")
    return 0


def render_with_progress(renderer, geometry, **options):
    """Render a batch pose by pose with a progress bar on stderr (when it is a terminal)."""
    n = len(geometry)
    if not geometry.batched or n == 1:
        return renderer(geometry, **options)
    show = sys.stderr.isatty()
    out = None
    for i in range(n):
        image = renderer(geometry[i:i + 1], **options)
        if out is None:
            out = np.empty((n,) + image.shape[1:], dtype=image.dtype)
        out[i] = image[0]
        if show:
            done = (i + 1) * 30 // n
            print(f"\r  [{'#' * done}{'.' * (30 - done)}] {i + 1}/{n} poses", end="", file=sys.stderr)
    if show:
        print(file=sys.stderr)
    return out


def check_output_args(args) -> None:
    """Refuse an output that cannot be written, before loading or rendering anything."""
    from ..io.images import check_output

    if args.raw and args.window is not None:
        raise InputError("--window applies to display images, not to --raw output")
    n_poses = max(len(args.primary or [0]), len(args.secondary or [0]))
    check_output(args.out, raw=args.raw or None, n_images=n_poses)


def run(args) -> int:
    from ..io.load import load_volume

    check_output_args(args)
    volume = load_volume(args.input, series=args.series, resample=args.resample)
    return render_to_file(volume, args, label=args.input)
