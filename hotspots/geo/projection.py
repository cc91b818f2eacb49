"""WGS84 in and out; a projected metric CRS for every distance.

British National Grid (EPSG:27700) for data in Great Britain, otherwise the UTM zone of the
data's centre. Bandwidths and buffers elsewhere in the project are metres in this CRS.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from hotspots.core.errors import ValidationError

log = logging.getLogger(__name__)

BRITISH_NATIONAL_GRID = "EPSG:27700"
# Great Britain's mainland and islands, generously: beyond this BNG distorts badly.
_GB_BOUNDS = (-8.8, 49.8, 2.0, 61.0)


def utm_crs(lon: float, lat: float) -> str:
    """EPSG code of the WGS84 UTM zone containing (lon, lat)."""
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def choose_crs(lon: np.ndarray, lat: np.ndarray) -> str:
    """Pick the projected CRS for points: BNG inside Great Britain, else their UTM zone."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise ValidationError("cannot choose a projection: no valid coordinates; set projected_crs explicitly")
    mlon, mlat = float(np.median(lon[ok])), float(np.median(lat[ok]))
    x0, y0, x1, y1 = _GB_BOUNDS
    crs = BRITISH_NATIONAL_GRID if (x0 <= mlon <= x1 and y0 <= mlat <= y1) else utm_crs(mlon, mlat)
    log.info("projected CRS chosen automatically: %s (data centre %.4f, %.4f)", crs, mlon, mlat)
    return crs


def check_crs(crs: str, name: str = "projected_crs") -> str:
    try:
        parsed = CRS.from_user_input(crs)
    except CRSError:
        raise ValidationError(f"{name}={crs!r} is not a coordinate reference system; use e.g. EPSG:27700", arguments=name) from None
    if not parsed.is_projected:
        raise ValidationError(f"{name}={crs!r} is not projected (distances would be in degrees); use e.g. EPSG:27700", arguments=name)
    return crs


@lru_cache(maxsize=16)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def project(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat (degrees) to x/y in metres of ``crs``; arrays of shape (n,)."""
    x, y = _transformer("EPSG:4326", crs).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x, float), np.asarray(y, float)


def unproject(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """x/y in metres of ``crs`` to WGS84 lon/lat in degrees."""
    lon, lat = _transformer(crs, "EPSG:4326").transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon, float), np.asarray(lat, float)


#: Without a force area, a point further from the file's median centre than this many times the
#: points' median distance from it, and at least ``PLAUSIBLE_MIN_KM``, is taken for a typing error
#: (latitude and longitude swapped, a sign dropped). A force's file spreads over tens of km, so
#: its limit is 100 km; one file of many forces spreads wider and its limit grows with it.
PLAUSIBLE_SPREAD = 10.0
PLAUSIBLE_MIN_KM = 100.0
#: Below this many positions a file has no spread to judge by: every position is kept.
PLAUSIBLE_MIN_POINTS = 10
EARTH_RADIUS_KM = 6371.0088


def implausible_positions(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, float]:
    """Which positions lie implausibly far from the rest (see ``PLAUSIBLE_SPREAD``).

    Parameters
    ----------
    lon, lat : degrees, WGS84, shape (n,); NaN where a row has no position.

    Returns
    -------
    (numpy.ndarray, float)
        A boolean mask, shape (n,), and the limit in km (NaN when there were too few positions).
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    known = np.isfinite(lon) & np.isfinite(lat)
    far = np.zeros(lon.size, dtype=bool)
    if known.sum() < PLAUSIBLE_MIN_POINTS:
        return far, float("nan")
    c_lon, c_lat = np.radians(np.median(lon[known])), np.radians(np.median(lat[known]))
    p_lon, p_lat = np.radians(lon[known]), np.radians(lat[known])
    h = np.sin((p_lat - c_lat) / 2) ** 2 + np.cos(c_lat) * np.cos(p_lat) * np.sin((p_lon - c_lon) / 2) ** 2
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    limit = max(PLAUSIBLE_MIN_KM, PLAUSIBLE_SPREAD * float(np.median(km)))
    far[known] = km > limit
    return far, limit
