"""DICOM loading as scanners write it: series written with pydicom into tmp_path.

The oracle for geometry is the DICOM equation (PS3.3 C.7.6.2.1.1), computed here
independently: pixel (row r, column c) of a slice lies at
``IPP + c * PixelSpacing[1] * IOP[0:3] + r * PixelSpacing[0] * IOP[3:6]``.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (CTImageStorage, ExplicitVRLittleEndian, JPEGLossless, RLELossless,
                         generate_uid)

from drr.errors import DicomError, LoadError
from drr.io.dicom import FILL_HU, SeriesInfo, is_dicom_file, list_series, read_dicom
from drr.io.load import load_volume, load_volume_with_info

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
ROWS, COLS = 6, 8
PS = (1.0, 2.0)   # (row spacing = along j, column spacing = along i): deliberately not square


# ----------------------------------------------------------------------------- helpers
def _base(sop_class=CTImageStorage, ts=ExplicitVRLittleEndian) -> Dataset:
    ds = Dataset()
    fm = FileMetaDataset()
    fm.MediaStorageSOPClassUID = sop_class
    fm.MediaStorageSOPInstanceUID = generate_uid()
    fm.TransferSyntaxUID = ts
    ds.file_meta = fm
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = fm.MediaStorageSOPInstanceUID
    return ds


def ct_slice(stored, *, ipp, iop=AXIAL, ps=PS, slope=1.0, intercept=0.0, uid="1.2.3.4",
             modality="CT", description="", instance=1, image_type=None, thickness=2.5) -> Dataset:
    """A CT slice dataset holding the int16 array ``stored`` (rows, cols)."""
    stored = np.asarray(stored)
    ds = _base()
    ds.Modality = modality
    ds.SeriesInstanceUID = uid
    ds.SeriesDescription = description
    ds.StudyInstanceUID = "1.2.3"
    ds.InstanceNumber = instance
    if image_type:
        ds.ImageType = list(image_type)
    ds.ImagePositionPatient = [f"{v:.6f}" for v in ipp]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in iop]
    ds.PixelSpacing = [f"{v:g}" for v in ps]
    ds.SliceThickness = thickness
    ds.RescaleSlope = f"{slope:g}"
    ds.RescaleIntercept = f"{intercept:g}"
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelData = stored.astype("<i2").tobytes()
    return ds


def save(ds: Dataset, path) -> None:
    ds.save_as(str(path), enforce_file_format=True)


def world(ipp, iop=AXIAL, ps=PS, rows=ROWS, cols=COLS) -> np.ndarray:
    """World position (mm) of every pixel, shape (rows, cols, 3): the DICOM equation."""
    x, y = np.array(iop[:3]), np.array(iop[3:])
    r, c = np.mgrid[0:rows, 0:cols]
    return np.array(ipp) + (c * ps[1])[..., None] * x + (r * ps[0])[..., None] * y


def write_series(folder, positions, *, iop=AXIAL, ps=PS, uid="1.2.3.4", description="",
                 hu=None, slopes=None, intercepts=None, seed=0, rows=ROWS, cols=COLS,
                 modality="CT"):
    """Write one slice per position, shuffled, with random names and scrambled InstanceNumber.

    ``hu(xyz)`` gives the HU at world points (default: an integer pattern per slice).
    Returns the list of HU slices in the order of ``positions``.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    n = len(positions)
    slopes = [1.0] * n if slopes is None else slopes
    intercepts = [-1024.0] * n if intercepts is None else intercepts
    out = []
    order = rng.permutation(n)
    for rank, m in enumerate(order):
        if hu is None:
            stored = (100 * m + 10 * np.arange(rows)[:, None] + np.arange(cols)[None, :])
        else:
            stored = np.round((hu(world(positions[m], iop, ps, rows, cols)) - intercepts[m])
                              / slopes[m])
        stored = stored.astype(np.int16)
        ds = ct_slice(stored, ipp=positions[m], iop=iop, ps=ps, slope=slopes[m],
                      intercept=intercepts[m], uid=uid, description=description,
                      instance=int(rng.integers(1, 1000)), modality=modality)
        save(ds, os.path.join(folder, f"{rng.integers(1 << 40):x}"))
        out.append((m, stored.astype(np.float64) * slopes[m] + intercepts[m]))
    return [s for _, s in sorted(out, key=lambda t: t[0])]


def axial_positions(n=5, dz=2.5, z0=-10.0, descending=True):
    zs = z0 - dz * np.arange(n) if descending else z0 + dz * np.arange(n)
    return [(-3.0, 4.5, float(z)) for z in zs]


# ----------------------------------------------------------------------------- basic geometry
def test_shuffled_files_sorted_by_position_not_name_or_instance(tmp_path):
    pos = axial_positions()                       # z = -10, -12.5, ..., -20 (descending)
    hu = write_series(tmp_path, pos)
    vol = load_volume(tmp_path)
    assert vol.units == "HU" and vol.data.dtype == np.float32
    assert vol.data.shape == (5, ROWS, COLS)
    np.testing.assert_array_equal(vol.spacing, [2.0, 1.0, 2.5])   # i: PixelSpacing[1], j: [0]
    np.testing.assert_array_equal(vol.origin, [-3.0, 4.5, -20.0])  # lowest z along +normal
    np.testing.assert_array_equal(vol.direction, np.eye(3))
    for k in range(5):                             # k = 0 is the slice at z = -20 (last written)
        np.testing.assert_array_equal(vol.data[k], hu[4 - k])
    # every pixel's DICOM world position maps to its voxel index
    for k, m in ((0, 4), (3, 1)):
        w = world(pos[m])
        ijk = vol.world_to_index(w.reshape(-1, 3)).reshape(ROWS, COLS, 3)
        r, c = np.mgrid[0:ROWS, 0:COLS]
        np.testing.assert_allclose(ijk, np.stack([c, r, np.full_like(r, k)], -1), atol=1e-9)


def test_per_slice_rescale(tmp_path):
    slopes = [1.0, 2.0, 0.5, 1.0, 3.0]
    intercepts = [-1024.0, 0.0, 5.0, -1000.0, 10.0]
    hu = write_series(tmp_path, axial_positions(descending=False), slopes=slopes,
                      intercepts=intercepts)
    vol = load_volume(tmp_path)
    for k in range(5):
        np.testing.assert_array_equal(vol.data[k], hu[k].astype(np.float32))
    assert vol.data[1, 0, 1] == (100 + 1) * 2.0 + 0.0
    assert vol.data[2, 0, 1] == (200 + 1) * 0.5 + 5.0


def _rotation(seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def test_oblique_orientation_and_world_points(tmp_path):
    rot = _rotation(3)
    x, y = rot[:, 0], rot[:, 1]
    n = np.cross(x, y)
    iop = tuple(np.round(np.concatenate([x, y]), 8))
    ipp0 = np.array([12.0, -7.0, 30.0])
    pos = [tuple(ipp0 + 3.0 * m * n) for m in (2, 0, 4, 1, 3)]
    hu = write_series(tmp_path, pos, iop=iop)
    vol = load_volume(tmp_path)
    np.testing.assert_allclose(vol.direction, np.column_stack([x, y, n]), atol=2e-8)
    np.testing.assert_allclose(vol.spacing, [2.0, 1.0, 3.0], rtol=1e-6)
    np.testing.assert_allclose(vol.origin, ipp0, atol=1e-5)
    # marker: pixel (row 4, col 6) of the slice at ipp0 + 3*3*n  -> voxel (6, 4, 3)
    p = world(pos[4], iop)[4, 6]
    np.testing.assert_allclose(vol.world_to_index(p), [6, 4, 3], atol=1e-5)
    assert vol.data[3, 4, 6] == hu[4][4, 6]
    # independent reader: SimpleITK / GDCM agrees on geometry and values
    sitk = pytest.importorskip("SimpleITK")
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path)))
    img = reader.Execute()
    np.testing.assert_allclose(img.GetOrigin(), vol.origin, atol=1e-4)
    np.testing.assert_allclose(img.GetSpacing(), vol.spacing, atol=1e-4)
    np.testing.assert_allclose(np.reshape(img.GetDirection(), (3, 3)), vol.direction, atol=1e-5)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(img), vol.data)


# ----------------------------------------------------------------------------- several series
def test_two_series_error_lists_both_and_choose_by_uid(tmp_path):
    hu_a = write_series(tmp_path, axial_positions(5), uid="1.2.826.0.1.111", description="lung")
    hu_b = write_series(tmp_path, axial_positions(3, dz=1.0), uid="1.2.826.0.1.222",
                        description="bone", seed=1)
    with pytest.raises(DicomError) as err:
        load_volume(tmp_path)
    msg = str(err.value)
    assert "2 CT series" in msg and "--series" in msg
    assert "1.2.826.0.1.111 'lung' (CT, 5 slices, 8x6)" in msg
    assert "1.2.826.0.1.222 'bone' (CT, 3 slices, 8x6)" in msg
    va = load_volume(tmp_path, series="1.2.826.0.1.111")
    vb = load_volume(tmp_path, series="1.2.826.0.1.222")
    assert va.data.shape == (5, ROWS, COLS) and vb.data.shape == (3, ROWS, COLS)
    np.testing.assert_array_equal(vb.data[0], hu_b[2])
    np.testing.assert_array_equal(va.data[4], hu_a[0])
    assert vb.spacing[2] == pytest.approx(1.0)
    with pytest.raises(DicomError, match=r"series '9\.9' is not in .*1\.2\.826\.0\.1\.111"):
        load_volume(tmp_path, series="9.9")
    infos = list_series(tmp_path)
    assert [(s.uid, s.n_slices, s.size, s.modality, s.description) for s in infos] == [
        ("1.2.826.0.1.111", 5, (8, 6, 5), "CT", "lung"),
        ("1.2.826.0.1.222", 3, (8, 6, 3), "CT", "bone")]


def test_no_ct_series_and_non_ct_by_uid(tmp_path):
    write_series(tmp_path, axial_positions(3), uid="1.5.5", modality="MR", description="t1")
    with pytest.raises(DicomError, match=r"no CT series .*1\.5\.5 't1' \(MR, 3 slices"):
        load_volume(tmp_path)
    with pytest.raises(DicomError, match="is MR, not CT"):
        load_volume(tmp_path, series="1.5.5")
    assert [s.modality for s in list_series(tmp_path)] == ["MR"]


# ----------------------------------------------------------------------------- spacing
def _linear_hu(xyz):
    return np.round(xyz[..., 0] + 4 * xyz[..., 1] + 2 * xyz[..., 2])


def test_missing_slice_error_names_gap_then_resample(tmp_path):
    pos = [(0.0, 0.0, 2.5 * m) for m in range(6)]
    del pos[3]                                         # z = 7.5 missing
    hu = write_series(tmp_path, pos, hu=_linear_hu, intercepts=[0.0] * 5)
    names = {}
    for f in os.listdir(tmp_path):
        names[float(pydicom.dcmread(tmp_path / f).ImagePositionPatient[2])] = f
    with pytest.raises(DicomError) as err:
        load_volume(tmp_path)
    msg = str(err.value)
    assert "gap of 5.000 mm" in msg and "typical spacing is 2.500 mm" in msg
    assert "1 slice(s) missing" in msg and "resample=True" in msg
    assert names[5.0] in msg and names[10.0] in msg
    assert "[0.0, 0.0, 5.0]" in msg and "[0.0, 0.0, 10.0]" in msg
    vol, info = load_volume_with_info(tmp_path, resample=True)
    assert vol.data.shape == (6, ROWS, COLS)
    assert vol.spacing[2] == pytest.approx(2.5)
    np.testing.assert_array_equal(vol.data[[0, 1, 2, 4, 5]], np.array(hu, dtype=np.float32))
    np.testing.assert_array_equal(vol.data[3], (hu[2] + hu[3]) / 2)   # interpolated z = 7.5
    assert any("resampled" in n for n in info.notes)


def test_uneven_spacing_resampled_linearly(tmp_path):
    zs = [0.0, 2.5, 5.5, 7.5, 10.0]
    write_series(tmp_path, [(0.0, 0.0, z) for z in zs], hu=_linear_hu, intercepts=[0.0] * 5)
    with pytest.raises(DicomError, match=r"uneven slice spacing: slice distances range from "
                                         r"2\.000 to 3\.000 mm"):
        load_volume(tmp_path)
    vol = load_volume(tmp_path, resample=True)
    assert vol.data.shape == (5, ROWS, COLS) and vol.spacing[2] == pytest.approx(2.5)
    ijk = np.stack(np.meshgrid(np.arange(COLS), np.arange(ROWS), np.arange(5), indexing="xy"), -1)
    xyz = vol.index_to_world(ijk.transpose(2, 0, 1, 3).reshape(-1, 3)).reshape(5, ROWS, COLS, 3)
    expect = xyz[..., 0] + 4 * xyz[..., 1] + 2 * xyz[..., 2]    # linear, so interpolation is exact
    np.testing.assert_allclose(vol.data, expect, atol=1e-4)


def test_duplicate_positions_refused(tmp_path):
    write_series(tmp_path, [(0, 0, 0), (0, 0, 2.5), (0, 0, 2.5), (0, 0, 5)])
    with pytest.raises(DicomError, match="share a position"):
        load_volume(tmp_path)


# ----------------------------------------------------------------------------- gantry tilt
@pytest.mark.parametrize("tilted_iop, missing", [(False, False), (True, False), (False, True)])
def test_gantry_tilt_corrected_by_exact_shear(tmp_path, tilted_iop, missing):
    if tilted_iop:       # real gantry tilt: tilted image plane, table moving along z
        t = np.radians(15.0)
        iop = (1.0, 0.0, 0.0, 0.0, np.cos(t), np.sin(t))
        pos = [(5.0, -2.0, 3.0 * m) for m in range(5)]
        def f(xyz):
            return 0.5 * xyz[..., 0] + 3 * xyz[..., 1] - 2 * xyz[..., 2]
        slope, tol = 0.01, 0.006
    else:                # axial planes whose positions drift sideways (0.25 px in i, 0.5 px in j)
        iop = AXIAL
        pos = [(0.5 * m, 0.5 * m, 2.5 * m) for m in range(5)]
        def f(xyz):
            return 2 * xyz[..., 0] + 4 * xyz[..., 1] + 2 * xyz[..., 2]   # integer on the pixels
        slope, tol = 1.0, 1e-4
    written = [p for m, p in enumerate(pos) if not (missing and m == 2)]
    write_series(tmp_path, written, iop=iop, hu=f, slopes=[slope] * len(written),
                 intercepts=[0.0] * len(written))
    vol, info = load_volume_with_info(tmp_path, resample=missing)
    if missing:   # slice 2 interpolated along the tilted scan direction: exact for linear f
        assert any("resampled" in s for s in info.notes)
    x, y = np.array(iop[:3]), np.array(iop[3:])
    n = np.cross(x, y)
    np.testing.assert_allclose(vol.direction, np.column_stack([x, y, n]), atol=1e-7)
    assert any("gantry tilt" in s and "shear" in s for s in info.notes)
    ni, nj, nk = vol.shape_ijk
    assert nk == 5 and ni > COLS - 1 and nj > ROWS
    ijk = np.stack(np.meshgrid(np.arange(ni), np.arange(nj), np.arange(nk), indexing="xy"), -1)
    ijk = ijk.transpose(2, 0, 1, 3).reshape(-1, 3)
    xyz = vol.index_to_world(ijk)
    # which voxels lie inside their slice's scanned field of view (pixel-centre hull)?
    ipp = np.array(pos, dtype=float)[ijk[:, 2]]
    a = (xyz - ipp) @ x / PS[1]
    b = (xyz - ipp) @ y / PS[0]
    inside = (a > -1e-6) & (a < COLS - 1 + 1e-6) & (b > -1e-6) & (b < ROWS - 1 + 1e-6)
    np.testing.assert_allclose(np.abs((xyz - ipp) @ n), 0, atol=1e-6)   # on the slice planes
    got = vol.data.reshape(-1)
    np.testing.assert_allclose(got[inside], f(xyz[inside]), atol=tol)
    assert np.all(got[~inside] == FILL_HU)
    assert inside.sum() >= 5 * (ROWS - 1) * (COLS - 1)


# ----------------------------------------------------------------------------- what is skipped
def _dicomdir(path):
    ds = _base(sop_class="1.2.840.10008.1.3.10")
    del ds.SOPClassUID, ds.SOPInstanceUID
    ds.FileSetID = "TEST"
    ds.DirectoryRecordSequence = []
    save(ds, path)


def _rtstruct(path, uid):
    ds = _base(sop_class="1.2.840.10008.5.1.4.1.1.481.3")
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = uid
    ds.StructureSetLabel = "ROIs"
    save(ds, path)


def _sr(path):
    ds = _base(sop_class="1.2.840.10008.5.1.4.1.1.88.11")
    ds.Modality = "SR"
    ds.SeriesInstanceUID = "1.9.9"
    save(ds, path)


def test_non_image_and_stray_files_skipped(tmp_path):
    hu = write_series(tmp_path / "DICOM" / "S1", axial_positions(4))
    (tmp_path / "notes.txt").write_text("not dicom")
    (tmp_path / "DICOM" / ".DS_Store").write_bytes(b"\x00\x01binary")
    _dicomdir(tmp_path / "DICOMDIR")
    _rtstruct(tmp_path / "rs.dcm", uid="1.2.3.4")      # same series UID as the CT, no pixels
    _sr(tmp_path / "sr.dcm")
    scout = ct_slice(np.zeros((ROWS, COLS)), ipp=(0, 0, 0), iop=(1, 0, 0, 0, 0, -1),
                     uid="1.2.3.4", image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"))
    save(scout, tmp_path / "scout")
    vol, info = load_volume_with_info(tmp_path)
    assert vol.data.shape == (4, ROWS, COLS)
    np.testing.assert_array_equal(vol.data[0], hu[3])
    assert info.series.n_slices == 4 and info.format == "DICOM series (4 files)"
    note = info.notes[0]
    assert "2 non-DICOM file(s)" in note and "1 localizer image(s)" in note
    assert "1 DICOMDIR" in note and "1 RT Structure Set" in note
    assert "1 Basic Text SR" in note


def test_unmarked_localizer_with_other_orientation_is_an_error(tmp_path):
    write_series(tmp_path, axial_positions(4))
    save(ct_slice(np.zeros((ROWS, COLS)), ipp=(0, 0, 0), iop=(1, 0, 0, 0, 0, -1)),
         tmp_path / "odd.dcm")
    with pytest.raises(DicomError, match=r"another ImageOrientationPatient .*odd\.dcm"):
        load_volume(tmp_path)


def test_slices_of_different_sizes_refused(tmp_path):
    write_series(tmp_path, axial_positions(3))
    save(ct_slice(np.zeros((4, 4)), ipp=(-3, 4.5, -30.0)), tmp_path / "small.dcm")
    with pytest.raises(DicomError, match=r"different sizes: .* small\.dcm is 4x4"):
        load_volume(tmp_path)


# ----------------------------------------------------------------------------- single files
def test_single_slice_file(tmp_path):
    stored = np.arange(ROWS * COLS, dtype=np.int16).reshape(ROWS, COLS)
    save(ct_slice(stored, ipp=(1, 2, 3), slope=2, intercept=-1000, thickness=1.25),
         tmp_path / "one.dcm")
    vol, info = load_volume_with_info(tmp_path / "one.dcm")
    assert info.format == "DICOM file"
    np.testing.assert_array_equal(vol.data[0], stored * 2.0 - 1000)
    np.testing.assert_array_equal(vol.spacing, [2.0, 1.0, 1.25])
    np.testing.assert_array_equal(vol.origin, [1, 2, 3])


def _enhanced_ct(path, positions, stored, slopes, intercepts, iop):
    ds = _base(sop_class="1.2.840.10008.5.1.4.1.1.2.1")
    ds.Modality = "CT"
    ds.SeriesInstanceUID = "1.7.7"
    ds.NumberOfFrames = len(positions)
    ds.Rows, ds.Columns = stored.shape[1:]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    shared = Dataset()
    orient, meas = Dataset(), Dataset()
    orient.ImageOrientationPatient = list(iop)
    meas.PixelSpacing = list(PS)
    meas.SliceThickness = 2.0
    shared.PlaneOrientationSequence = [orient]
    shared.PixelMeasuresSequence = [meas]
    ds.SharedFunctionalGroupsSequence = [shared]
    per = []
    for p, s, b in zip(positions, slopes, intercepts):
        item, plane, trans = Dataset(), Dataset(), Dataset()
        plane.ImagePositionPatient = list(p)
        trans.RescaleSlope, trans.RescaleIntercept, trans.RescaleType = s, b, "HU"
        item.PlanePositionSequence = [plane]
        item.PixelValueTransformationSequence = [trans]
        per.append(item)
    ds.PerFrameFunctionalGroupsSequence = per
    ds.PixelData = stored.astype("<i2").tobytes()
    save(ds, path)


def test_enhanced_multiframe_file(tmp_path):
    rng = np.random.default_rng(5)
    stored = rng.integers(-500, 2000, size=(4, ROWS, COLS)).astype(np.int16)
    zs = [4.0, 0.0, 6.0, 2.0]                  # frames out of order
    slopes, intercepts = [1.0, 2.0, 1.0, 0.5], [-1024.0, 0.0, 3.0, -1.0]
    _enhanced_ct(tmp_path / "mf.dcm", [(0.0, 0.0, z) for z in zs], stored, slopes, intercepts,
                 AXIAL)
    vol, info = load_volume_with_info(tmp_path / "mf.dcm")
    assert info.format == "DICOM multi-frame file" and info.series.n_slices == 4
    assert vol.spacing[2] == pytest.approx(2.0) and vol.origin[2] == 0.0
    for k, f in enumerate(np.argsort(zs)):
        np.testing.assert_array_equal(vol.data[k], stored[f] * slopes[f] + intercepts[f])
    np.testing.assert_array_equal(load_volume(tmp_path).data, vol.data)   # same via the folder


# ----------------------------------------------------------------------------- compressed
def test_rle_compressed_series_decodes(tmp_path):
    hu = write_series(tmp_path, axial_positions(3, descending=False))
    for f in os.listdir(tmp_path):
        ds = pydicom.dcmread(tmp_path / f)
        ds.compress(RLELossless)
        save(ds, tmp_path / f)
    assert pydicom.dcmread(tmp_path / f).file_meta.TransferSyntaxUID == RLELossless
    vol = load_volume(tmp_path)
    np.testing.assert_array_equal(vol.data, np.array(hu, dtype=np.float32))


def _have_jpeg_lossless_plugin() -> bool:
    return any(importlib.util.find_spec(m) is not None for m in ("libjpeg", "gdcm"))


@pytest.mark.skipif(_have_jpeg_lossless_plugin(), reason="a JPEG Lossless decoder is installed")
def test_compressed_without_plugin_says_what_to_install(tmp_path):
    from pydicom.encaps import encapsulate

    ds = ct_slice(np.zeros((ROWS, COLS)), ipp=(0, 0, 0))
    ds.file_meta.TransferSyntaxUID = JPEGLossless
    ds.PixelData = encapsulate([b"\xff\xd8\x00\x00\xff\xd9"])
    ds["PixelData"].VR = "OB"
    save(ds, tmp_path / "jpeg.dcm")
    with pytest.raises(DicomError, match=r"jpeg\.dcm: cannot decode its JPEG Lossless.*install "
                                         r"pylibjpeg and pylibjpeg-libjpeg \(or python-gdcm\)"):
        load_volume(tmp_path)


# ----------------------------------------------------------------------------- errors
def test_empty_folder(tmp_path):
    with pytest.raises(DicomError, match="is empty"):
        load_volume(tmp_path)


def test_folder_without_dicom(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    (tmp_path / "b.png").write_bytes(b"\x89PNG....")
    with pytest.raises(DicomError, match=r"holds 2 file\(s\) but none is DICOM"):
        load_volume(tmp_path)


def test_folder_with_only_non_images(tmp_path):
    _rtstruct(tmp_path / "rs.dcm", uid="1.2")
    _dicomdir(tmp_path / "DICOMDIR")
    with pytest.raises(DicomError, match=r"no CT series .*no image slices found.*RT Structure Set"):
        load_volume(tmp_path)
    assert list_series(tmp_path) == []


def test_corrupt_header_value(tmp_path):
    write_series(tmp_path, axial_positions(3))
    f = sorted(os.listdir(tmp_path))[0]
    raw = bytearray((tmp_path / f).read_bytes())
    at = raw.find(b"\x20\x00\x32\x00DS")               # ImagePositionPatient, explicit VR
    raw[at + 4:at + 6] = b"Q\xff"                       # an unknown VR
    (tmp_path / f).write_bytes(bytes(raw))
    with pytest.raises(DicomError, match=f"{f}.*probably corrupt"):
        load_volume(tmp_path)


def test_truncated_pixel_data(tmp_path):
    write_series(tmp_path, axial_positions(3))
    f = sorted(os.listdir(tmp_path))[1]
    raw = (tmp_path / f).read_bytes()
    (tmp_path / f).write_bytes(raw[:-20])
    with pytest.raises(DicomError, match=f"{f}: cannot decode its pixel data.*truncated"):
        load_volume(tmp_path)


def test_truncated_header_is_reported_with_the_gap(tmp_path):
    write_series(tmp_path, [(0.0, 0.0, 2.0 * m) for m in range(5)])
    by_z = {float(pydicom.dcmread(tmp_path / f).ImagePositionPatient[2]): f
            for f in os.listdir(tmp_path)}
    victim = by_z[4.0]
    (tmp_path / victim).write_bytes((tmp_path / victim).read_bytes()[:200])
    with pytest.raises(DicomError, match=f"gap of 4.000 mm.*incomplete DICOM.*{victim}"):
        load_volume(tmp_path)


def test_missing_path_and_non_dicom_file(tmp_path):
    with pytest.raises(LoadError, match="does not exist"):
        load_volume(tmp_path / "nope")
    (tmp_path / "x.dcm").write_text("text")
    with pytest.raises(DicomError, match="not a DICOM file"):
        load_volume(tmp_path / "x.dcm")


def test_is_dicom_file_and_series_info(tmp_path):
    write_series(tmp_path, axial_positions(2))
    (tmp_path / "t.txt").write_text("x" * 200)
    flags = sorted(is_dicom_file(tmp_path / f) for f in os.listdir(tmp_path))
    assert flags == [False, True, True]
    info = SeriesInfo(uid="1.2", description="d", modality="CT", n_slices=3, rows=4, columns=5,
                      n_files=3)
    assert info.size == (5, 4, 3) and info.is_ct and str(info) == "1.2 'd' (CT, 3 slices, 5x4)"
    vol, got, notes = read_dicom(tmp_path)
    assert got.uid == "1.2.3.4" and got.n_files == 2 and notes == ["skipped 1 non-DICOM file(s)"]
