"""The exception hierarchy of drr.

Every error that drr raises on purpose is a :class:`DRRError`, so a caller can
catch one type; the subclasses say which part of the input was wrong.  Each
message names the offending parameter, what it was, and what to do.
"""

__all__ = [
    "DRRError",
    "InputError",
    "VolumeError",
    "GeometryError",
    "LoadError",
    "DicomError",
    "BackendError",
    "OutputError",
]


class DRRError(Exception):
    """Base class of every error that drr raises on purpose."""


class InputError(DRRError, ValueError):
    """An argument has the wrong type, shape or value."""


class VolumeError(InputError):
    """A volume's data or geometry (spacing, origin, direction, units) is invalid."""


class GeometryError(InputError):
    """A source/detector geometry is degenerate or inconsistent."""


class LoadError(DRRError):
    """A file or folder could not be read as a CT volume."""


class DicomError(LoadError):
    """A DICOM series is missing, ambiguous, incomplete or unsupported."""


class BackendError(DRRError, RuntimeError):
    """The requested compute backend is unavailable or failed."""


class OutputError(DRRError):
    """An output file could not be written."""
