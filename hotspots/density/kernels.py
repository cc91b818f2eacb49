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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hotspots.core.errors import ValidationError

DEFAULT_KERNEL = "quartic"
DEFAULT_TRUNCATE = 3.0


@dataclass(frozen=True)
class Kernel:
    """One registered kernel.

    Attributes
    ----------
    name : the registered name.
    code : the integer the numba kernels switch on.
    reach : distance, in bandwidths, beyond which the kernel is zero.
    norm : constant making ``norm / h² * p(u²)`` integrate to one over the plane.
    lipschitz : the largest ``|dp/du|``; ``None`` where ``p`` jumps (uniform, truncated Gaussian),
        so that no worst-case bound on binning error exists.
    """

    name: str
    code: int
    reach: float
    norm: float
    lipschitz: float | None

    def profile(self, u2: np.ndarray) -> np.ndarray:
        """``p(u²)`` in plain NumPy (zero at and beyond the reach), shape of ``u2``."""
        u2 = np.asarray(u2, dtype=float)
        inside = u2 < self.reach * self.reach
        if self.code == QUARTIC:
            value = (1.0 - u2) ** 2
        elif self.code == EPANECHNIKOV:
            value = 1.0 - u2
        elif self.code == TRIANGULAR:
            value = 1.0 - np.sqrt(np.maximum(u2, 0.0))
        elif self.code == UNIFORM:
            value = np.ones_like(u2)
        else:
            value = np.exp(-0.5 * u2)
        return np.where(inside, value, 0.0)


QUARTIC, EPANECHNIKOV, TRIANGULAR, UNIFORM, GAUSSIAN = range(5)

_FIXED = {
    "quartic": Kernel("quartic", QUARTIC, 1.0, 3.0 / math.pi, 8.0 / (3.0 * math.sqrt(3.0))),
    "epanechnikov": Kernel("epanechnikov", EPANECHNIKOV, 1.0, 2.0 / math.pi, 2.0),
    "triangular": Kernel("triangular", TRIANGULAR, 1.0, 3.0 / math.pi, 1.0),
    "uniform": Kernel("uniform", UNIFORM, 1.0, 1.0 / math.pi, None),
}
KERNEL_NAMES = (*_FIXED, "gaussian")


def get_kernel(name: str, truncate: float = DEFAULT_TRUNCATE) -> Kernel:
    """The kernel registered as ``name``; ``truncate`` (bandwidths) applies to the Gaussian only.

    Raises
    ------
    ValidationError
        For an unknown name (the message lists the valid ones) or a truncation below one bandwidth.
    """
    key = str(name).lower()
    if key == "biweight":
        key = "quartic"
    if key in _FIXED:
        return _FIXED[key]
    if key == "gaussian":
        if not (isinstance(truncate, int | float) and math.isfinite(truncate) and truncate >= 1.0):
            raise ValidationError(f"truncate={truncate!r} must be a number of bandwidths, at least 1 (3 keeps 98.9% of the "
                                  "mass)", arguments="truncate")
        mass = 1.0 - math.exp(-0.5 * truncate * truncate)
        return Kernel("gaussian", GAUSSIAN, float(truncate), 1.0 / (2.0 * math.pi * mass), None)
    raise ValidationError(f"kernel={name!r} is not known; use one of: {', '.join(KERNEL_NAMES)}", arguments="kernel")
