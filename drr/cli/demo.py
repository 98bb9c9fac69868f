"""``drr demo``: render the bundled chest CT, offline, in seconds."""

from __future__ import annotations

import argparse

from .render import add_geometry_arguments, add_output_arguments, check_output_args, render_to_file


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "demo", help="render the bundled example chest CT",
        description="Render a DRR of the bundled chest CT (LIDC-IDRI-0001, TCIA, CC BY 3.0; "
                    "128x128x66 voxels of 2.8x2.8x5 mm). Without geometry options: a "
                    "posterior-anterior C-arm view through the volume's centre. Takes the same "
                    "geometry and output options as `drr render`.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("-o", "--out", default="demo.png", help="output image (.png, .tif, .npy)")
    add_geometry_arguments(p)
    add_output_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data import example_ct_path, load_example_ct

    check_output_args(args)
    return render_to_file(load_example_ct(), args, label=f"example CT {example_ct_path().name}")
