"""Bundled example data (see README.md in this folder for its source and license)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["example_ct_path", "load_example_ct"]

_EXAMPLE = Path(__file__).resolve().parent / "lidc_idri_0001_chest.nii.gz"


def example_ct_path() -> Path:
    """Path of the bundled chest CT (LIDC-IDRI-0001, 128 x 128 x 66, HU, CC BY 3.0)."""
    return _EXAMPLE


def load_example_ct():
    """The bundled chest CT as a :class:`drr.Volume` in HU."""
    from ..io.load import load_volume

    return load_volume(_EXAMPLE)
