"""Numba compilation flags, kept in one place so every kernel is compiled the same way.

* ``cache=True``: machine code is stored beside the module (or under ``NUMBA_CACHE_DIR`` where
  that folder is read-only), so a command-line call loads it instead of recompiling.
* ``fastmath`` is limited to ``reassoc`` and ``nsz``: reassociation is what lets LLVM vectorise a
  cell's running sum; ``contract`` (fused multiply-add) is left out on purpose, so a squared
  distance is rounded exactly as the NumPy reference in ``tests/naive.py`` rounds it and a point
  at exactly the kernel's reach is outside in both.
* ``nogil=True`` lets a server thread run a kernel while others answer requests.

Set ``NUMBA_DISABLE_JIT=1`` to run the kernels as plain Python (coverage, debugging); ``prange``
then becomes ``range`` and the results are the same.
"""

from __future__ import annotations

import numba

FASTMATH = frozenset({"reassoc", "nsz"})

#: Options of a serial kernel.
JIT = {"cache": True, "nogil": True, "fastmath": set(FASTMATH)}
#: Options of a kernel whose outer loop is a ``prange``.
PARALLEL_JIT = {**JIT, "parallel": True}


def threads() -> int:
    """Threads a parallel kernel will use (``NUMBA_NUM_THREADS``, else one per core)."""
    return numba.get_num_threads()
