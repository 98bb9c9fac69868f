"""Thread pools kept between calls, and chunked runs of the GIL-free Numba kernels."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor


def _threads(workers, work_units):
    """Threads to use: ``workers`` (None: the CPU count, at most 8), at most one per work unit."""
    w = min(os.cpu_count() or 1, 8) if workers is None else workers
    return max(1, min(w, work_units))


_POOLS = {}                    # threads -> (pid, ThreadPoolExecutor), kept between calls


_POOLS_LOCK = threading.Lock()


def _pool(nthreads):
    """A thread pool of ``nthreads`` workers, created once per process and size.

    Starting threads costs ~3 ms per call on a loaded 2-core machine (three pools
    per :func:`find_peaks` call); a pool made before a ``fork`` has no threads in
    the child, so the child makes its own.
    """
    with _POOLS_LOCK:
        pid, ex = _POOLS.get(nthreads, (None, None))
        if ex is None or pid != os.getpid():
            ex = ThreadPoolExecutor(max_workers=nthreads, thread_name_prefix="drr-peaks")
            _POOLS[nthreads] = (os.getpid(), ex)
        return ex


def _run_chunks(fn, bounds):
    """``[fn(bounds[i], bounds[i + 1]) ...]``, in threads when there are several chunks.

    The Numba kernels release the GIL, so the chunks run in parallel; each
    chunk's result is independent of the chunking, so the output is too.  The
    chunks never submit work to the pool themselves, so they cannot deadlock it.
    """
    if bounds.size <= 2:
        return [fn(bounds[0], bounds[-1])]
    return list(_pool(bounds.size - 1).map(fn, bounds[:-1], bounds[1:]))
