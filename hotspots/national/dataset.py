"""Incidents as a partitioned GeoParquet data set, by force and month: the layout a national store keeps.

``root/force=<force>/month=<YYYY-MM>/<digest>.parquet``, one file per force, month and write,
each a GeoParquet file (point geometry in WGS84) holding the normalised incident columns
(:data:`hotspots.crime.aggregate.INCIDENT_COLUMNS`, ``x``/``y`` in the data set's projected CRS).
``root/_dataset.json`` records that CRS; every write must agree with it.

Rows are sorted by H3 cell and written in small row groups, so each row group covers a compact
patch and carries tight x/y statistics: a reader asking for a box (a KDE part's halo) skips
the files and row groups that cannot hold it, and never holds the whole data set.

A file is named by the SHA-256 of its rows and written under a temporary name, then renamed, so a
reader never sees half a file. Incidents whose id is already in their partition are left out, so
loading the same export again, or one that overlaps it, adds nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.core.errors import FormatError, NotFoundError, NotReadyError, ValidationError
from hotspots.crime.aggregate import INCIDENT_COLUMNS, counted_groups

PARTITIONS = ("force", "month")
META_FILE = "_dataset.json"
#: Rows per row group: small enough that a row group is a compact patch, large enough to read fast.
ROW_GROUP_ROWS = 16_384
_FORCE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_NEEDED = ("incident_id", "occurred_from", "occurred_to", "lon", "lat", "x", "y", "h3_cell")


def check_force(force: str, name: str = "force") -> str:
    if not isinstance(force, str) or not _FORCE.match(force):
        raise ValidationError(f"{name}={force!r}: use lower-case letters, digits and hyphens, e.g. 'west-midlands'", arguments=name)
    return force


def write_incidents_dataset(frame: pd.DataFrame, root: str | Path, force: str, crs: str,
                            timezone: str = "Europe/London") -> list[Path]:
    """Add one force's normalised incidents to the data set at ``root`` (created if need be).

    Parameters
    ----------
    frame : normalised incidents (as ingest makes them), ``x``/``y`` in metres of ``crs``.
    root : the data set's folder.
    force : the force's name, lower-case with hyphens (``west-midlands``).
    crs : the projected CRS of ``x``/``y``; must match the data set's.
    timezone : months are those of ``occurred_from`` on the local calendar, so a data.police.uk
        month (from local midnight) lands in its own month.

    Returns
    -------
    The files written, one per month with new incidents (none when all were there already).
    """
    import geopandas as gpd

    check_force(force)
    missing = set(_NEEDED) - set(frame.columns)
    if missing:
        raise FormatError(f"incidents lack the columns {', '.join(sorted(missing))}; normalise them with ingest first")
    root = Path(root)
    _agree_meta(root, crs)
    months = pd.to_datetime(frame["occurred_from"], utc=True).dt.tz_convert(timezone).dt.strftime("%Y-%m")
    written = []
    for month, rows in frame.groupby(months.to_numpy(), sort=True):
        folder = root / f"force={force}" / f"month={month}"
        rows = rows.drop(columns=[c for c in PARTITIONS if c in rows.columns])
        rows = rows[~rows["incident_id"].isin(_partition_ids(folder))].drop_duplicates("incident_id")
        if rows.empty:
            continue
        rows = rows.sort_values(["h3_cell", "incident_id"], ignore_index=True)
        digest = hashlib.sha256(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes()).hexdigest()[:24]
        path = folder / f"{digest}.parquet"
        folder.mkdir(parents=True, exist_ok=True)
        geo = gpd.GeoDataFrame(rows, geometry=gpd.points_from_xy(rows["lon"], rows["lat"]), crs="EPSG:4326")
        tmp = path.with_suffix(".tmp")
        geo.to_parquet(tmp, index=False, row_group_size=ROW_GROUP_ROWS)
        tmp.replace(path)  # a reader never sees half a file
        written.append(path)
    return written


def _agree_meta(root: Path, crs: str) -> None:
    meta = root / META_FILE
    held = dataset_crs(root)
    if held is not None:
        if held != crs:
            raise ValidationError(f"crs={crs!r}: the data set at {str(root)!r} holds x/y in {held}; "
                                f"load with crs {held}", arguments="crs")
        return
    root.mkdir(parents=True, exist_ok=True)
    tmp = meta.with_suffix(".tmp")
    tmp.write_text(json.dumps({"projected_crs": crs, "partitioning": list(PARTITIONS)}))
    tmp.replace(meta)


def dataset_crs(root: str | Path) -> str | None:
    """The projected CRS of the data set at ``root``; ``None`` where there is none yet."""
    meta = Path(root) / META_FILE
    return json.loads(meta.read_text())["projected_crs"] if meta.is_file() else None


def _partition_ids(folder: Path) -> np.ndarray:
    import pyarrow.parquet as pq

    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    ids = [pq.read_table(f, columns=["incident_id"]).column(0).to_numpy(zero_copy_only=False) for f in files]
    return np.concatenate(ids) if ids else np.zeros(0, dtype=object)


class IncidentDataset:
    """A data set opened for reading: its CRS, files and each file's x/y box (from the footers).

    Parameters
    ----------
    root : the data set's folder (holding ``_dataset.json``).
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        meta = self.root / META_FILE
        if not meta.is_file():
            raise FormatError(f"{str(self.root)!r} is not an incident data set (no {META_FILE}); "
                                f"write one with 'hotspots ingest FILES --dataset DIR --force NAME'")
        self.crs = dataset_crs(self.root)
        self.files = sorted(self.root.glob("force=*/month=*/*.parquet"))
        self._boxes: np.ndarray | None = None

    @property
    def forces(self) -> list[str]:
        return sorted({f.parent.parent.name.removeprefix("force=") for f in self.files})

    def check_forces(self, forces: list[str] | None, name: str = "force") -> list[str] | None:
        """The forces asked for, each one checked to be in the data set (``None``: all)."""
        for force in forces or []:
            if force not in self.forces:
                raise NotFoundError(f"{name}={force!r} is not in the data set; it holds: {', '.join(self.forces) or 'none'}",
                                    arguments=name)
        return list(forces) if forces else None

    def _partition(self, path: Path) -> tuple[str, str]:
        return path.parent.parent.name.removeprefix("force="), path.parent.name.removeprefix("month=")

    @property
    def boxes(self) -> np.ndarray:
        """Each file's (xmin, xmax, ymin, ymax) in metres, shape (files, 4), read from the footers once."""
        import pyarrow.parquet as pq

        if self._boxes is None:
            boxes = np.empty((len(self.files), 4))
            for i, path in enumerate(self.files):
                meta = pq.ParquetFile(path).metadata
                names = [meta.schema.column(j).name for j in range(meta.num_columns)]
                jx, jy = names.index("x"), names.index("y")
                stats = [(meta.row_group(g).column(jx).statistics, meta.row_group(g).column(jy).statistics)
                         for g in range(meta.num_row_groups)]
                boxes[i] = (min(s[0].min for s in stats), max(s[0].max for s in stats),
                            min(s[1].min for s in stats), max(s[1].max for s in stats))
            self._boxes = boxes
        return self._boxes

    def select_files(self, forces=None, months=None, box=None) -> list[Path]:
        """Files of the chosen forces and months whose x/y box meets ``box`` (xmin, xmax, ymin, ymax)."""
        keep = np.ones(len(self.files), bool)
        if forces or months:
            parts = [self._partition(f) for f in self.files]
            keep &= np.array([(not forces or p[0] in forces) and (not months or p[1] in months) for p in parts], bool)
        if box is not None and self.files:
            b = self.boxes
            keep &= (b[:, 0] <= box[1]) & (b[:, 1] >= box[0]) & (b[:, 2] <= box[3]) & (b[:, 3] >= box[2])
        return [f for f, k in zip(self.files, keep, strict=True) if k]

    def read(self, columns=None, *, forces=None, months=None, offence_groups=None, since=None, until=None,
             box=None) -> pd.DataFrame:
        """Incidents of the chosen forces, months and offence groups as one frame.

        Parameters
        ----------
        columns : columns to read (default all but the geometry); ``force`` and ``month`` are added.
        forces, months : partitions to read (default all); months as "YYYY-MM".
        offence_groups : groups to keep (default all).
        since, until : keep incidents whose interval overlaps [since, until) (aware timestamps).
        box : (xmin, xmax, ymin, ymax) in the data set's projected metres, edges included.

        Returns
        -------
        pandas.DataFrame
            One row per incident; an empty selection keeps the columns and their types.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        tables = list(self.batches(columns, forces=forces, months=months, offence_groups=offence_groups,
                                   since=since, until=until, box=box))
        if not tables:
            if not self.files:
                return pd.DataFrame(columns=[*(columns or []), *PARTITIONS])
            # Nothing selected: the columns still have their types, so code downstream treats an
            # empty part like any other.
            schema = pq.read_schema(self.files[0])
            names = [c for c in schema.names if c != "geometry"] if columns is None else list(columns)
            tables = [schema.empty_table().select(names).append_column("force", pa.array([], pa.string()))
                      .append_column("month", pa.array([], pa.string()))]
        frame = pa.concat_tables(tables).to_pandas()
        for name in PARTITIONS:
            frame[name] = frame[name].astype(str)
        return frame

    def batches(self, columns=None, *, forces=None, months=None, offence_groups=None, since=None, until=None,
                box=None) -> Iterator:
        """The same selection as :meth:`read`, a few row groups at a time.

        Parameters
        ----------
        columns, forces, months, offence_groups, since, until, box : as for :meth:`read`.

        Yields
        ------
        pyarrow.Table
            Non-empty tables with the chosen columns plus ``force`` and ``month``.
        """
        import pyarrow as pa
        import pyarrow.dataset as ds

        files = self.select_files(forces, months, box)
        if not files:
            return
        data = ds.dataset([str(f) for f in files], format="parquet",
                          partitioning=ds.partitioning(flavor="hive"), partition_base_dir=str(self.root))
        where = ds.scalar(True)
        if offence_groups:
            where &= ds.field("offence_group").isin(list(offence_groups))
        if since is not None:
            where &= ds.field("occurred_to") >= pa.scalar(pd.Timestamp(since).to_pydatetime(), pa.timestamp("us", "UTC"))
        if until is not None:
            where &= ds.field("occurred_from") < pa.scalar(pd.Timestamp(until).to_pydatetime(), pa.timestamp("us", "UTC"))
        if box is not None:
            where &= ((ds.field("x") >= box[0]) & (ds.field("x") <= box[1]) & (ds.field("y") >= box[2])
                      & (ds.field("y") <= box[3]))
        names = [c for c in data.schema.names if c != "geometry"] if columns is None else [*columns, *PARTITIONS]
        for batch in data.to_batches(columns=names, filter=where):
            if batch.num_rows:
                yield pa.Table.from_batches([batch])


def read_incidents_dataset(root: str | Path, forces: list[str] | None = None, months: list[str] | None = None,
                           columns: list[str] | None = None) -> pd.DataFrame:
    """The incidents of the chosen forces and months (default: all), with ``force`` and ``month`` columns."""
    return IncidentDataset(root).read(columns, forces=forces, months=months)


def dataset_incidents(dataset: IncidentDataset, offence_groups: list[str] | None = None, since=None, until=None,
                      forces: list[str] | None = None, name: str = "offence_group") -> pd.DataFrame:
    """Incidents of a data set as :func:`hotspots.services.ingest.stored_incidents` gives a store's: the
    same columns, offence groups chosen the same way (by default crime that patrols do not find).

    Parameters
    ----------
    dataset : the incident data set.
    offence_groups : groups to keep; None for recorded crime except offences detected by police.
    since, until : keep incidents whose interval overlaps [since, until) (aware timestamps).
    forces : forces to read (default all).
    name : what the front end calls ``offence_groups``, for the message naming an unknown group.

    Returns
    -------
    pandas.DataFrame
        INCIDENT_COLUMNS plus ``force`` and ``month``, sorted by incident_id.

    Raises
    ------
    NotReadyError
        When nothing matches.
    """
    frame = dataset.read(INCIDENT_COLUMNS, forces=dataset.check_forces(forces),
                         offence_groups=counted_groups(offence_groups, name), since=since, until=until)
    if frame.empty:
        raise NotReadyError("the data set holds no incidents of those forces, offence groups and dates")
    return frame.sort_values("incident_id", ignore_index=True)
