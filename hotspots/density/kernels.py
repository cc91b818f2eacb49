"""Kernel functions for two-dimensional density, registered by name.

Every kernel is radially symmetric and written as a *profile* ``p(u²)`` of the squared scaled
distance ``u = r / h`` (``h`` the bandwidth in metres). The density a weight ``w`` at distance
``r`` adds at a point is ``w * norm / h² * p(u²)``, in weight per square metre; ``norm`` makes
the kernel integrate to one over the plane.

========================  ==========================  ========  ===========================
name                      profile p, for u < reach    reach     norm
========================  ==========================  ========  ===========================
quartic (biweight)        (1 - u²)²                   1         3 / π
epanechnikov              1 - u²                      1         2 / π
triangular (cone)         1 - u                       1         3 / π
uniform (disc)            1                           1         1 / π
gaussian (truncated)      exp(-u² / 2)                truncate  1 / (2π (1 - exp(-t²/2)))
========================  ==========================  ========  ===========================

For the Gaussian the bandwidth is the standard deviation and the kernel is cut at
``truncate`` bandwidths, then rescaled so its mass stays one. Quartic is the crime-mapping
default (it is what ArcGIS and CrimeStat call the quartic kernel, with ``h`` its radius).

A new kernel is one ``register`` call: its shape ``p(u²)`` written in plain arithmetic (so the
same function runs on NumPy arrays and compiles with numba), its reach, its normalising constant
and its slope bound. The numba density loops take the compiled shape as an argument; nothing
else changes, and the tests parametrised over ``KERNEL_NAMES`` check it integrates to one and
matches brute force.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from hotspots.core.errors import ValidationError
from hotspots.core.numba_config import JIT

DEFAULT_KERNEL = "quartic"
DEFAULT_TRUNCATE = 3.0


@dataclass(frozen=True)
class Kernel:
    """One registered kernel, ready to evaluate.

    Attributes
    ----------
    name : the registered name.
    reach : distance, in bandwidths, at and beyond which the kernel is zero.
    norm : constant making ``norm / h² * p(u²)`` integrate to one over the plane.
    lipschitz : the largest ``|dp/du|``; ``None`` where ``p`` jumps (uniform, truncated Gaussian),
        so that no worst-case bound on binning error exists.
    shape : ``p(u²)`` below the reach, in plain arithmetic (scalars or arrays).
    compiled : ``shape`` compiled by numba, for the density loops (one scalar at a time).
    """

    name: str
    reach: float
    norm: float
    lipschitz: float | None
    shape: Callable = field(repr=False, compare=False)
    compiled: Callable = field(repr=False, compare=False)

    def profile(self, u2: np.ndarray) -> np.ndarray:
        """``p(u²)`` in plain NumPy (zero at and beyond the reach), shape of ``u2``."""
        u2 = np.asarray(u2, dtype=float)
        return np.where(u2 < self.reach * self.reach, self.shape(u2), 0.0)


@dataclass(frozen=True)
class _Entry:
    shape: Callable
    compiled: Callable
    norm_at: Callable[[float], float]  # the normalising constant for a given reach
    reach: float | None  # None: the reach is the ``truncate`` argument
    lipschitz: float | None


_REGISTRY: dict[str, _Entry] = {}
_ALIASES: dict[str, str] = {}


def register(name: str, shape: Callable, *, norm: float | Callable[[float], float], reach: float | None,
             lipschitz: float | None, aliases: tuple[str, ...] = ()) -> None:
    """Register a kernel under ``name`` (and ``aliases``).

    Parameters
    ----------
    name : lower-case name users pass as ``kernel=``.
    shape : ``p(u²)`` for ``u² < reach²``, written with arithmetic and ``np`` functions only, so
        that it runs on arrays and compiles with numba.
    norm : the constant making ``norm / h² * p(u²)`` integrate to one, or a function of the reach
        for a kernel truncated at a chosen reach.
    reach : bandwidths at which ``p`` is cut to zero; ``None`` takes the ``truncate`` argument.
    lipschitz : the largest ``|dp/du|`` below the reach; ``None`` where ``p`` jumps there.
    aliases : other names for the same kernel.
    """
    norm_at = norm if callable(norm) else (lambda _reach, value=float(norm): value)
    _REGISTRY[name] = _Entry(shape, njit(**JIT)(shape), norm_at, reach, lipschitz)
    _ALIASES.update({alias: name for alias in aliases})


def _quartic(u2):
    t = 1.0 - u2
    return t * t


def _epanechnikov(u2):
    return 1.0 - u2


def _triangular(u2):
    return 1.0 - np.sqrt(u2)


def _uniform(u2):
    return u2 * 0.0 + 1.0


def _gaussian(u2):
    return np.exp(-0.5 * u2)


register("quartic", _quartic, norm=3.0 / math.pi, reach=1.0, lipschitz=8.0 / (3.0 * math.sqrt(3.0)),
         aliases=("biweight",))
register("epanechnikov", _epanechnikov, norm=2.0 / math.pi, reach=1.0, lipschitz=2.0)
register("triangular", _triangular, norm=3.0 / math.pi, reach=1.0, lipschitz=1.0)
register("uniform", _uniform, norm=1.0 / math.pi, reach=1.0, lipschitz=None)
register("gaussian", _gaussian, norm=lambda t: 1.0 / (2.0 * math.pi * (1.0 - math.exp(-0.5 * t * t))), reach=None,
         lipschitz=None)
KERNEL_NAMES = tuple(_REGISTRY)


def get_kernel(name: str, truncate: float = DEFAULT_TRUNCATE) -> Kernel:
    """The kernel registered as ``name``; ``truncate`` (bandwidths) applies to kernels without a fixed
    reach (the Gaussian).

    Raises
    ------
    ValidationError
        For an unknown name (the message lists the valid ones) or a truncation below one bandwidth.
    """
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    entry = _REGISTRY.get(key)
    if entry is None:
        raise ValidationError(f"kernel={name!r} is not known; use one of: {', '.join(KERNEL_NAMES)}", arguments="kernel")
    reach = entry.reach
    if reach is None:
        if not (isinstance(truncate, int | float) and math.isfinite(truncate) and truncate >= 1.0):
            raise ValidationError(f"truncate={truncate!r} must be a number of bandwidths, at least 1 (3 keeps 98.9% of the "
                                  "mass)", arguments="truncate")
        reach = float(truncate)
    return Kernel(key, reach, entry.norm_at(reach), entry.lipschitz, entry.shape, entry.compiled)
