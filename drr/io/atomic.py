"""Write files atomically: to a temporary name beside the target, then rename.

A reader (or a crash) never sees a half-written output: either the old file,
or the complete new one.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

from ..errors import OutputError

__all__ = ["atomic_path"]


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary name keeps ``path``'s suffixes (so writers that choose a format
    by extension still work) and starts with a dot.  On any exception the
    temporary file is removed and ``path`` is left untouched.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "a.npy")
    >>> with atomic_path(target) as tmp:
    ...     np.save(tmp, np.zeros(3))
    >>> os.path.exists(target)
    True
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {str(path)!r}: folder {str(parent)!r} does not exist")
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    tmp = parent / f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{suffix}"
    try:
        yield tmp
        if not tmp.exists():
            raise OutputError(f"writing {str(path)!r} produced no file")
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
