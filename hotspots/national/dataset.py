"""Incidents as a partitioned GeoParquet data set, by force and month: the layout a national store keeps.

``root/force=<force>/month=<YYYY-MM>/<digest>.parquet``, one file per force, month and write,
each a GeoParquet file (point geometry in WGS84). A file is named by the SHA-256 of its rows, so
writing the same incidents again adds nothing. Readers take only the partitions they ask for.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pandas as pd

from hotspots.errors import HotspotsError

PARTITIONS = ("force", "month")
_FORCE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def write_incidents_dataset(frame: pd.DataFrame, root: str | Path, force: str) -> list[Path]:
    """Add normalised incidents (``occurred_from``, ``lon``, ``lat``, ...) of one force to the data set.

    Months are those of ``occurred_from`` in UTC. Returns the files written (none for data
    already there).
    """
    import geopandas as gpd

    if not _FORCE.match(force):
        raise HotspotsError(f"force={force!r}: use lower-case letters, digits and hyphens, e.g. 'west-midlands'")
    missing = {"occurred_from", "lon", "lat"} - set(frame.columns)
    if missing:
        raise HotspotsError(f"incidents lack the columns {', '.join(sorted(missing))}; normalise them with ingest first")
    root = Path(root)
    months = pd.to_datetime(frame["occurred_from"], utc=True).dt.strftime("%Y-%m")
    written = []
    for month, rows in frame.groupby(months.to_numpy(), sort=True):
        rows = rows.drop(columns=[c for c in PARTITIONS if c in rows.columns]).reset_index(drop=True)
        digest = hashlib.sha256(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes()).hexdigest()[:24]
        path = root / f"force={force}" / f"month={month}" / f"{digest}.parquet"
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        geo = gpd.GeoDataFrame(rows, geometry=gpd.points_from_xy(rows["lon"], rows["lat"]), crs="EPSG:4326")
        tmp = path.with_suffix(".tmp")
        geo.to_parquet(tmp, index=False)
        tmp.replace(path)  # a reader never sees half a file
        written.append(path)
    return written


def read_incidents_dataset(root: str | Path, forces: list[str] | None = None, months: list[str] | None = None,
                           columns: list[str] | None = None) -> pd.DataFrame:
    """The incidents of the chosen forces and months (default: all), with ``force`` and ``month`` columns."""
    import pyarrow.dataset as ds

    root = Path(root)
    if not root.is_dir():
        raise HotspotsError(f"{str(root)!r} is not a folder holding an incident data set")
    data = ds.dataset(root, format="parquet", partitioning="hive")
    where = None
    for name, values in (("force", forces), ("month", months)):
        if values:
            clause = ds.field(name).isin(list(values))
            where = clause if where is None else where & clause
    wanted = None if columns is None else [*columns, *PARTITIONS]
    table = data.to_table(columns=[c for c in wanted if c != "geometry"] if wanted else None, filter=where)
    frame = table.drop_columns([c for c in ("geometry",) if c in table.column_names]).to_pandas()
    for name in PARTITIONS:
        if name in frame:
            frame[name] = frame[name].astype(str)
    return frame.reset_index(drop=True) if len(frame) else frame.iloc[:0]

