"""The `drr` command (render, demo) and the image writers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk

import drr
from drr.cli.main import main
from drr.io.images import to_display, write_image


@pytest.fixture
def small_ct(tmp_path):
    """A 12x10x8 HU phantom as .nii.gz: water cylinder with a bone rod, in air."""
    k, j, i = np.mgrid[0:8, 0:10, 0:12]
    hu = np.full((8, 10, 12), -1000.0, np.float32)
    hu[(i - 5.5) ** 2 + (j - 4.5) ** 2 < 16] = 0.0
    hu[(i - 4) ** 2 + (j - 4) ** 2 < 2] = 1000.0
    img = sitk.GetImageFromArray(hu)
    img.SetSpacing((2.0, 2.0, 3.0))
    img.SetOrigin((-11.0, -9.0, -10.5))
    path = tmp_path / "ct.nii.gz"
    sitk.WriteImage(img, str(path))
    return path


def read(path):
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def test_render_explicit_geometry_raw_matches_api(small_ct, tmp_path, capsys):
    out = tmp_path / "v.npy"
    args = ["render", str(small_ct), "-o", str(out), "--backend", "cpu",
            "--source", "0", "0", "-400", "--detector-center", "0", "0", "300",
            "--detector-u", "1", "0", "0", "--detector-v", "0", "1", "0",
            "--shape", "6", "7", "--spacing", "4", "4"]
    assert main(args) == 0
    assert "6x7 DRR" in capsys.readouterr().out
    got = np.load(out)
    vol = drr.load_volume(small_ct)
    geo = drr.Geometry((0, 0, -400), (0, 0, 300), (1, 0, 0), (0, 1, 0), (4, 4), (6, 7))
    np.testing.assert_array_equal(got, drr.render(vol, geo, backend="cpu"))
    assert got.max() > 0


def test_render_method_trilinear_from_the_cli(small_ct, tmp_path):
    out = tmp_path / "t.npy"
    common = ["--backend", "cpu", "--shape", "5", "6", "--spacing", "3", "3"]
    assert main(["render", str(small_ct), "-o", str(out), "--method", "trilinear", "--step", "0.25",
                 *common]) == 0
    vol = drr.load_volume(small_ct)
    geo = drr.Geometry.carm(vol.center(), sid=1000, sdd=1500, shape=(5, 6), pixel_spacing=3.0)
    want = drr.render(vol, geo, backend="cpu", method="trilinear", step=0.25)
    np.testing.assert_array_equal(np.load(out), want)
    assert not np.array_equal(want, drr.render(vol, geo, backend="cpu"))


def test_render_a_sweep_of_carm_angles(small_ct, tmp_path, capsys):
    out = tmp_path / "sweep.npy"
    assert main(["render", str(small_ct), "-o", str(out), "--primary", "0", "45", "90",
                 "--secondary", "10", "--shape", "6", "7", "--backend", "cpu"]) == 0
    assert "3 x 6x7 DRR" in capsys.readouterr().out
    got = np.load(out)
    assert got.shape == (3, 6, 7)
    # One pitch for every pose of the batch: the largest of the per-pose fitted pitches.
    from drr.cli.render import fit_spacing
    vol = drr.load_volume(small_ct)

    def pose(primary, pitch):
        return drr.Geometry.carm(vol.center(), sid=1000, sdd=1500, primary_deg=primary,
                                 secondary_deg=10, shape=(6, 7), pixel_spacing=pitch)
    pitch = max(fit_spacing(vol, lambda p, a=a: pose(a, p), (6, 7))[0] for a in (0, 45, 90))
    np.testing.assert_array_equal(got, drr.render(vol, pose([0, 45, 90], pitch), backend="cpu"))
    # Mismatched angle lists and a batch into a PNG are one-line errors.
    assert main(["render", str(small_ct), "-o", str(out), "--primary", "0", "1",
                 "--secondary", "1", "2", "3"]) == 2
    assert main(["render", str(small_ct), "-o", str(tmp_path / "s.png"), "--primary", "0", "1"]) == 2
    err = capsys.readouterr().err
    assert "--secondary must give one angle" in err and "PNG holds one image" in err


def test_render_default_and_carm_png_tif(small_ct, tmp_path):
    png = tmp_path / "pa.png"
    assert main(["render", str(small_ct), "-o", str(png), "--shape", "20", "30"]) == 0
    img = read(png)
    assert img.dtype == np.uint16 and img.shape == (20, 30)
    assert img.max() == 65535 and img.min() == 0          # auto window spans the range
    tif = tmp_path / "lat.tif"
    assert main(["render", str(small_ct), "-o", str(tif), "--primary", "90", "--raw",
                 "--shape", "40", "40"]) == 0
    assert read(tif).dtype == np.float32
    # the fitted board holds the whole volume (95% of the tighter side): the border
    # pixels see only air, and the volume reaches to within a pixel of it
    raw = read(tif)
    border = np.r_[raw[0, :], raw[-1, :], raw[:, 0], raw[:, -1]]
    assert np.all(border == 0)
    assert np.any(raw[1, :] > 0) or np.any(raw[:, 1] > 0) or np.any(raw[1:-1, -2] > 0) or np.any(raw[-2, :] > 0)


def test_demo_renders_the_bundled_ct(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert main(["demo", "-o", str(out), "--shape", "64", "64"]) == 0
    img = read(out)
    assert img.shape == (64, 64) and img.max() == 65535
    assert "example CT" in capsys.readouterr().out


@pytest.mark.parametrize("argv, match", [
    (["render", "{missing}", "-o", "{out}"], "does not exist"),
    (["render", "{ct}", "-o", "{out_jpg}"], "must end in"),
    (["render", "{ct}", "-o", "{out}", "--source", "0", "0", "0"], "needs both"),
    (["render", "{ct}", "-o", "{out}", "--source", "0", "0", "-100", "--detector-center", "0", "0",
      "100", "--sid", "500"], "not both"),
    (["render", "{ct}", "-o", "{out}", "--backend", "cuda"], "cuda"),
    (["render", "{ct}", "-o", "{out}", "--backend", "cpu", "--method", "trilinear", "--filtering",
      "software"], "needs backend 'cuda'"),
    (["render", "{ct}", "-o", "{out}", "--spacing", "0", "1"], "pixel_spacing"),
    (["render", "{ct}", "-o", "{outdir_missing}"], "does not exist"),
    (["render", "{ct}", "-o", "{out}", "--source", "0", "0", "0", "--detector-center", "0", "0", "100",
      "--up", "0", "1", "0"], "--spacing"),
])
def test_cli_errors_are_one_line_and_leave_no_file(small_ct, tmp_path, capsys, argv, match):
    from drr.backends import cuda_unavailable_reason
    if "cuda" in argv and cuda_unavailable_reason() is None:
        pytest.skip("a GPU is present")
    fill = dict(missing=str(tmp_path / "nope"), ct=str(small_ct), out=str(tmp_path / "o.png"),
                out_jpg=str(tmp_path / "o.jpg"), outdir_missing=str(tmp_path / "no" / "o.png"))
    assert main([a.format(**fill) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ct.nii.gz"]


def test_console_entry_point_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "drr", "render", str(tmp_path / "x"), "-o",
                           str(tmp_path / "o.png")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    help_ = subprocess.run([sys.executable, "-m", "drr", "render", "--help"], capture_output=True, text=True)
    assert help_.returncode == 0 and "LPS" in help_.stdout and "bright = more attenuation" in help_.stdout


def test_display_mapping():
    img = np.array([[0.0, 1.0], [2.0, 4.0]])
    np.testing.assert_array_equal(to_display(img), [[0, 16384], [32768, 65535]])
    np.testing.assert_array_equal(to_display(img, window=(1, 2)), [[0, 0], [65535, 65535]])
    np.testing.assert_array_equal(to_display(img, invert=True), [[65535, 49151], [32768, 0]])
    assert np.all(to_display(np.full((2, 2), 3.0)) == 0)
    with pytest.raises(drr.InputError, match="window"):
        to_display(img, window=(2, 1))
    with pytest.raises(drr.InputError, match="finite"):
        to_display(np.array([[np.nan]]))


def test_write_image_formats_and_atomicity(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    batch = rng.uniform(0, 3, size=(3, 4, 5)).astype(np.float32)
    write_image(tmp_path / "b.npy", batch)
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), batch)
    write_image(tmp_path / "b.tif", batch, raw=True)
    np.testing.assert_array_equal(read(tmp_path / "b.tif"), batch)
    with pytest.raises(drr.OutputError, match="PNG holds one image"):
        write_image(tmp_path / "b.png", batch)
    with pytest.raises(drr.OutputError, match="must end in"):
        write_image(tmp_path / "b.png", batch[0], raw=True)
    # A writer that fails half-way leaves neither the target nor a temporary file.
    (tmp_path / "keep.png").write_bytes(b"old")

    def boom(image, path):
        open(path, "wb").write(b"partial")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(sitk, "WriteImage", boom)
    with pytest.raises(drr.OutputError, match="No space left"):
        write_image(tmp_path / "keep.png", batch[0])
    assert (tmp_path / "keep.png").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.npy", "b.tif", "keep.png"]
