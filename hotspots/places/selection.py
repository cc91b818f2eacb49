"""Selecting hotspots from a score per cell under a budget: ``hotspot_select``.

The score can be anything per cell (kernel density, predicted risk, harm). Cells are taken in
order of score and grown into hotspots:

* a cell next to one or more hotspots joins them (they merge into one), unless the merged
  hotspot would exceed ``max_cells``, in which case the cell is passed over: contiguous selected
  cells are always one hotspot;
* a cell next to none starts a new hotspot while there are fewer than ``max_hotspots`` (and
  fewer than its area's quota) and the budget can still pay for ``min_cells``, and at once takes its best free neighbours
  (scored or not) up to ``min_cells``, or is undone if it cannot;
* nothing is taken beyond ``area_share`` of the region's area;
* with an evidence ``floor`` (:mod:`hotspots.places.evidence`), only cells over it are taken,
  and padding to ``min_cells`` only takes cells over its lower padding floor: the budget and the
  count are ceilings, and the set records why it stopped (``parameters["stopped"]``) and, in
  ``left_out``, why the best cells it did not take were left out.

Per-area minimums (every NPU gets its share) are met first by seeding each area's best cells. With ``previous`` and ``hysteresis``,
last period's cells compete with their score raised by that fraction, so a hotspot is replaced
only by one that beats it clearly and sets do not flicker from week to week.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hotspots.core.errors import ValidationError
from hotspots.core.validate import check_fraction
from hotspots.geo import cells as h3cells
from hotspots.geo.areas import NamedAreas
from hotspots.places.evidence import EvidenceFloor
from hotspots.places.geofence import geofence, unique_names
from hotspots.places.gistar import neighbourhood

log = logging.getLogger(__name__)

DEFAULT_AREA_SHARE = 0.014
DEFAULT_MAX_HOTSPOTS = 57
#: Columns of a hotspot set's table, in order (geofence is a shapely geometry in WGS84).
HOTSPOT_COLUMNS = ["hotspot_id", "rank", "name", "area_name", "status", "n_cells", "area_m2", "score",
                   "centroid_lon", "centroid_lat", "geofence"]
#: Columns of ``HotspotSet.left_out``: the best-ranked cells not taken, and why.
LEFT_OUT_COLUMNS = ["h3_cell", "rank", "score", "over_floor", "reason"]
#: How many of the best cells left out a set explains.
LEFT_OUT_SHOWN = 20


@dataclass
class HotspotSet:
    """A period's hotspots: one row each, and which cells make each one.

    hotspots : HOTSPOT_COLUMNS, ranked by score (1 is the highest).
    members : hotspot_id and h3_cell, one row per cell.
    dropped : ids of last period's hotspots that are not in this set.
    region_area_m2 : area of the region the budget is a share of.
    parameters : every choice made, automatic or not, for the record (the evidence floor and why
        selection stopped included).
    left_out : LEFT_OUT_COLUMNS, the best-ranked cells not taken and why (empty for a stored set).
    """

    hotspots: pd.DataFrame
    members: pd.DataFrame
    region_area_m2: float
    dropped: list[str] = field(default_factory=list)
    parameters: dict = field(default_factory=dict)
    left_out: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LEFT_OUT_COLUMNS))

    def cells_of(self, hotspot_id: str | None = None) -> np.ndarray:
        """uint64 cells of one hotspot, or of all of them."""
        m = self.members if hotspot_id is None else self.members[self.members["hotspot_id"] == hotspot_id]
        return np.sort(h3cells.from_strings(m["h3_cell"]))

    @property
    def area_share(self) -> float:
        """Share of the region's area in the hotspots' cells (on the sphere, as the budget is counted)."""
        if not self.region_area_m2 or self.members.empty:
            return 0.0
        return float(h3cells.cell_areas_m2(self.cells_of()).sum() / self.region_area_m2)

    def summary(self) -> str:
        return f"{len(self.hotspots)} hotspots, {self.area_share:.1%} of the area"


def format_id(number: int) -> str:
    return f"HS-{number:04d}"


def id_number(hotspot_id: str) -> int:
    return int(str(hotspot_id).split("-")[-1])


def _per_area(value, names: list[str], name: str) -> dict[str, int]:
    if value is None:
        return {}
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValidationError(f"{name}: {unknown[0]!r} is not an area; areas are: {', '.join(names)}", arguments=name)
        return {k: int(v) for k, v in value.items()}
    return dict.fromkeys(names, int(value))


class _Growth:
    """Bookkeeping of the greedy growth: labels per region cell, sizes, budget, quotas."""

    def __init__(self, ranking, areas_m2, cell_area_name, indptr, indices, budget_m2, max_hotspots, min_cells,
                 max_cells, area_max, pad_ok):
        self.ranking = ranking
        self.pad_ok = pad_ok
        self.why: dict[int, str] = {}  # cell -> why it was not taken
        self.label = np.full(areas_m2.size, -1, np.int64)
        self.areas_m2, self.cell_area_name = areas_m2, cell_area_name
        self.indptr, self.indices = indptr, indices
        self.budget_m2, self.used_m2 = budget_m2, 0.0
        self.max_hotspots, self.min_cells, self.max_cells = max_hotspots, min_cells, max_cells
        self.area_max = area_max
        self.size: dict[int, int] = {}
        self.home: dict[int, str | None] = {}
        self.next_label = 0
        self.typical_m2 = float(np.median(areas_m2)) if areas_m2.size else 0.0

    def adjacent(self, c: int) -> set[int]:
        nb = self.label[self.indices[self.indptr[c]:self.indptr[c + 1]]]
        return set(nb[nb >= 0].tolist())

    def in_area(self, name) -> int:
        return sum(1 for h in self.size if self.home[h] == name)

    def cannot_start(self, c: int) -> str | None:
        """Why cell ``c`` cannot start a new hotspot, or None if it can."""
        if len(self.size) >= self.max_hotspots:
            return "the most hotspots are chosen"
        home = self.cell_area_name[c]
        if home in self.area_max and self.in_area(home) >= self.area_max[home]:
            return f"its area ({home}) has its most hotspots"
        if self.used_m2 + self.min_cells * self.typical_m2 > self.budget_m2 + 1e-6:
            return "the area budget cannot pay for another hotspot"
        return None

    def take(self, c: int, allow_new: bool = True) -> bool:
        if self.label[c] >= 0:
            return False
        if self.used_m2 + self.areas_m2[c] > self.budget_m2 + 1e-6:
            self.why[c] = "the area budget is spent"
            return False
        near = self.adjacent(c)
        if near:
            if sum(self.size[h] for h in near) + 1 > self.max_cells:
                self.why[c] = "joining would make a hotspot larger than its most cells"
                return False
            keep = min(near, key=lambda h: (-self.size[h], h))  # the largest absorbs the others
            for h in near - {keep}:
                self.label[self.label == h] = keep
                self.size[keep] += self.size.pop(h)
                self.home.pop(h)
            self.label[c] = keep
            self.size[keep] += 1
        elif allow_new and (why := self.cannot_start(c)) is not None:
            self.why[c] = why
            return False
        elif allow_new:
            h = self.next_label
            self.next_label += 1
            self.label[c] = h
            self.size[h] = 1
            self.home[h] = self.cell_area_name[c]
            self.used_m2 += self.areas_m2[c]
            if not self._reach_min_size(h):
                self.why[c] = "too few cells over the padding floor around it to make a hotspot of its least size"
                return False
            return True
        else:
            return False
        self.used_m2 += self.areas_m2[c]
        return True

    def _reach_min_size(self, h: int) -> bool:
        """Grow a new hotspot into its best free neighbours up to ``min_cells``; undo it if it cannot.

        Neighbours that touch another hotspot are not taken (that would merge them), and only
        cells over the padding floor (``pad_ok``) are: a patrol area needs a least size, but not
        at the price of an empty street.
        """
        while self.size[h] < self.min_cells:
            own = np.flatnonzero(self.label == h)
            ring = np.unique(np.concatenate([self.indices[self.indptr[c]:self.indptr[c + 1]] for c in own]))
            free = [c for c in ring[np.argsort(-self.ranking[ring], kind="stable")]
                    if self.label[c] < 0 and self.pad_ok[c] and self.adjacent(c) == {h}]
            if not free or not self.take(free[0], allow_new=False):
                self.drop(h, np.flatnonzero(self.label == h))
                return False
        return True

    def drop(self, h: int, cells_of: np.ndarray) -> None:
        self.label[cells_of] = -1
        self.used_m2 -= self.areas_m2[cells_of].sum()
        self.size.pop(h)
        self.home.pop(h)


def hotspot_select(
    scores: pd.Series,
    cells: np.ndarray,
    *,
    crs: str,
    area_share: float = DEFAULT_AREA_SHARE,
    max_hotspots: int = DEFAULT_MAX_HOTSPOTS,
    min_cells: int = 1,
    max_cells: int | None = None,
    areas: NamedAreas | None = None,
    area_min: int | dict | None = None,
    area_max: int | dict | None = None,
    previous: HotspotSet | None = None,
    hysteresis: float = 0.0,
    smooth_m: float = 0.0,
    next_number: int = 1,
    names: NamedAreas | None = None,
    locations: pd.DataFrame | None = None,
    floor: EvidenceFloor | None = None,
) -> HotspotSet:
    """Choose hotspots from a score per cell within the budgets; see the module docstring.

    Parameters
    ----------
    scores : Series indexed by H3 hex string; cells of the region not in it score 0. Only cells
        with a positive score are selected, except to bring a hotspot up to ``min_cells``.
    cells : sorted unique uint64 cells of the region (the force area).
    crs : projected metric CRS for geofences and areas.
    area_share : most of the region's area the hotspots may cover (0.014 = 1.4%).
    max_hotspots : most hotspots.
    min_cells, max_cells : smallest and largest hotspot, in cells (None: no largest).
    areas : named areas (NPUs) that quotas count in; each hotspot takes the area of its best cell.
    area_min, area_max : hotspots per area, one number for every area or a dict by name.
    previous : last period's set: overlapping hotspots keep their ids; with ``hysteresis``,
        its cells' scores count ``1 + hysteresis`` times when ranking.
    smooth_m : geofence smoothing distance in metres (0: the cells' exact outline).
    next_number : number of the next new hotspot id (ids are never reused).
    names : named areas (wards) for readable names; ``locations`` (h3_cell, location) adds streets.
    floor : the evidence floor over ``cells`` (:func:`hotspots.places.evidence.evidence_floor`);
        None takes any positive score and pads with any cell.

    Returns
    -------
    HotspotSet
        The hotspots ranked by score with their geofences and cells, the previous set's dropped
        ids, and every choice made (``parameters``).
    """
    check_fraction(area_share, "area_share")
    check_fraction(hysteresis, "hysteresis")
    if int(max_hotspots) != max_hotspots or max_hotspots < 1:
        raise ValidationError(f"max_hotspots={max_hotspots!r} must be a whole number, 1 or more", arguments="max_hotspots")
    if int(min_cells) != min_cells or min_cells < 1:
        raise ValidationError(f"min_cells={min_cells!r} must be a whole number of cells, 1 or more", arguments="min_cells")
    if max_cells is not None and max_cells < min_cells:
        raise ValidationError(f"max_cells={max_cells!r} is below min_cells={min_cells!r}; raise it or leave it unset", arguments="max_cells")
    cells = np.asarray(cells, dtype=np.uint64)
    hex_cells = h3cells.to_strings(cells)
    if not isinstance(scores, pd.Series):
        raise ValidationError("scores must be a pandas Series of score per cell, indexed by H3 cell")
    raw = scores.groupby(level=0).sum().reindex(hex_cells, fill_value=0.0).to_numpy(float)
    if not np.isfinite(raw).all():
        raise ValidationError("scores contain NaN or infinity; give a finite score per cell")
    areas_m2 = h3cells.cell_areas_m2(cells)
    region_m2 = float(areas_m2.sum())
    budget_m2 = area_share * region_m2

    area_names = list(areas.names) if areas is not None else []
    lon, lat = h3cells.cell_centres(cells)
    cell_area_name = areas.name_of(lon, lat) if areas is not None else np.full(cells.size, None, dtype=object)
    if (area_min or area_max) and areas is None:
        raise ValidationError("area_min/area_max need areas (a boundary file of NPUs) to count in")
    mins, maxs = _per_area(area_min, area_names, "area_min"), _per_area(area_max, area_names, "area_max")
    if sum(mins.values()) > max_hotspots:
        raise ValidationError(f"area_min asks for {sum(mins.values())} hotspots but max_hotspots={max_hotspots}; "
                            "lower the minimums or raise max_hotspots")

    ranking = raw.copy()
    previous_cells = np.zeros(0, np.uint64) if previous is None else previous.cells_of()
    if hysteresis and previous_cells.size:
        ranking[np.isin(cells, previous_cells)] *= 1.0 + hysteresis
    eligible = np.ones(cells.size, bool) if floor is None else np.asarray(floor.eligible, bool)
    pad_ok = np.ones(cells.size, bool) if floor is None else np.asarray(floor.padding, bool)
    if eligible.shape != (cells.size,) or pad_ok.shape != (cells.size,):
        raise ValidationError(f"floor: {eligible.size} cells for a region of {cells.size}; build it on the same cells",
                              arguments="floor")
    ranked = np.lexsort((cells, -ranking))
    ranked = ranked[ranking[ranked] > 0]
    order = ranked[eligible[ranked]]
    indptr, indices = neighbourhood(cells, 1)
    grow = _Growth(ranking, areas_m2, cell_area_name, indptr, indices, budget_m2, int(max_hotspots), int(min_cells),
                   int(max_cells) if max_cells else cells.size, maxs, pad_ok)
    for name, wanted in mins.items():
        for c in order[cell_area_name[order] == name]:
            if grow.in_area(name) >= wanted:
                break
            if not grow.adjacent(c):
                grow.take(c)
        if grow.in_area(name) < wanted:
            log.warning("area %s: only %d of its minimum %d hotspots have a scored cell", name,
                        grow.in_area(name), wanted)
    for c in order:
        grow.take(c)

    label = grow.label
    stopped = _stop_reason(grow, order, areas_m2, floor)
    left_out = _left_out(ranked, label, eligible, grow.why, hex_cells, raw)
    chosen = np.flatnonzero(label >= 0)
    members = pd.DataFrame({"label": label[chosen], "cell": cells[chosen], "score": raw[chosen]})
    hotspots = _describe(members, cells, cell_area_name, crs, smooth_m, names, locations)
    ids, status, dropped = _match_ids(hotspots, members, previous, next_number)
    hotspots.insert(0, "hotspot_id", ids)
    hotspots.insert(4, "status", status)
    members = pd.DataFrame({"hotspot_id": pd.Series(ids, index=hotspots["label"]).loc[members["label"]].to_numpy(),
                            "h3_cell": h3cells.to_strings(members["cell"].to_numpy())})
    params = {"area_share": area_share, "max_hotspots": int(max_hotspots), "min_cells": int(min_cells),
              "max_cells": max_cells, "areas": area_names, "area_min": mins, "area_max": maxs, "hysteresis": hysteresis,
              "smooth_m": smooth_m, "region_cells": int(cells.size), "budget_m2": budget_m2,
              "previous_set": previous.parameters.get("set_id") if previous is not None else None,
              "evidence_floor": floor.as_dict() if floor is not None else None, "stopped": stopped}
    result = HotspotSet(hotspots=hotspots[HOTSPOT_COLUMNS], members=members.sort_values(["hotspot_id", "h3_cell"],
                        ignore_index=True), region_area_m2=region_m2, dropped=dropped, parameters=params,
                        left_out=left_out)
    log.info("selected %s (budget %.1f%% = %.3f km²): %s; %d kept their id, %d new, %d dropped", result.summary(),
             100 * area_share, budget_m2 / 1e6, stopped, (result.hotspots["status"] == "continuing").sum(),
             (result.hotspots["status"] == "new").sum(), len(dropped))
    return result


def _stop_reason(grow: _Growth, order: np.ndarray, areas_m2: np.ndarray, floor: EvidenceFloor | None) -> str:
    """Why selection took no more cells: the budget, the count, or the evidence running out."""
    untaken = order[grow.label[order] < 0]
    nothing_left = floor.nothing_left if floor is not None else "no further cells score above zero"
    if untaken.size == 0:
        return nothing_left
    if grow.used_m2 + float(areas_m2[untaken].min()) > grow.budget_m2 + 1e-6:
        return "the area budget is spent"
    if len(grow.size) >= grow.max_hotspots:
        return "the most hotspots are chosen"
    return f"{nothing_left} that can join or start a hotspot within its limits"


def _left_out(ranked, label, eligible, why, hex_cells, raw) -> pd.DataFrame:
    """The best-ranked cells with a positive score that no hotspot took, and why (LEFT_OUT_COLUMNS)."""
    rank = np.arange(1, ranked.size + 1)
    out = ranked[label[ranked] < 0][:LEFT_OUT_SHOWN]
    position = dict(zip(ranked.tolist(), rank.tolist(), strict=True))
    return pd.DataFrame({
        "h3_cell": [hex_cells[c] for c in out], "rank": [position[c] for c in out], "score": raw[out],
        "over_floor": eligible[out],
        "reason": [why.get(c, "passed over") if eligible[c] else "below the evidence floor" for c in out.tolist()],
    }, columns=LEFT_OUT_COLUMNS)


def _describe(members, cells, cell_area_name, crs, smooth_m, names, locations) -> pd.DataFrame:
    rows = []
    pos = {c: i for i, c in enumerate(cells.tolist())}
    streets: dict = {}
    if locations is not None and len(members):
        # Each incident location to the hotspot its cell is in, once for all hotspots.
        owner = pd.Series(members["label"].to_numpy(), index=h3cells.to_strings(members["cell"].to_numpy()))
        located = locations.assign(label=owner.reindex(locations["h3_cell"]).to_numpy()).dropna(subset=["label"])
        streets = {lab: group["location"] for lab, group in located.groupby("label")}
    for lab, group in members.groupby("label", sort=False):
        member_cells = np.sort(group["cell"].to_numpy(np.uint64))
        idx = np.array([pos[c] for c in member_cells.tolist()])
        wgs, proj = geofence(member_cells, crs, smooth_m)
        centroid = wgs.centroid
        best = idx[np.argmax(group.set_index("cell").loc[member_cells, "score"].to_numpy())]
        rows.append({"label": lab, "street": streets.get(lab), "area_name": cell_area_name[best],
                     "n_cells": member_cells.size, "area_m2": float(proj.area), "score": float(group["score"].sum()),
                     "centroid_lon": round(centroid.x, 6), "centroid_lat": round(centroid.y, 6), "geofence": wgs})
    lon = np.array([r["centroid_lon"] for r in rows], float)
    lat = np.array([r["centroid_lat"] for r in rows], float)
    wards = names.name_of(lon, lat) if names is not None else [None] * len(rows)
    named = unique_names([row.pop("street") for row in rows], list(wards), lon, lat)
    for row, name in zip(rows, named, strict=True):
        row["name"] = name
    frame = pd.DataFrame(rows, columns=["label", "name", "area_name", "n_cells", "area_m2", "score", "centroid_lon",
                                        "centroid_lat", "geofence"])
    frame = frame.sort_values(["score", "centroid_lon"], ascending=[False, True], ignore_index=True)
    frame.insert(1, "rank", np.arange(1, len(frame) + 1))
    return frame


def _match_ids(hotspots: pd.DataFrame, members: pd.DataFrame, previous: HotspotSet | None,
               next_number: int) -> tuple[list[str], list[str], list[str]]:
    """Ids by overlap with last period: the largest overlaps are matched first, one to one."""
    labels = hotspots["label"].tolist()
    ids: dict[int, str] = {}
    if previous is not None and len(previous.members):
        old = previous.members.assign(cell=h3cells.from_strings(previous.members["h3_cell"]))
        pairs = members.merge(old, on="cell")
        overlap = pairs.groupby(["label", "hotspot_id"]).size().reset_index(name="n")
        overlap = overlap.sort_values(["n", "hotspot_id", "label"], ascending=[False, True, True])
        taken: set[str] = set()
        for r in overlap.itertuples():
            if r.label not in ids and r.hotspot_id not in taken:
                ids[r.label] = r.hotspot_id
                taken.add(r.hotspot_id)
        next_number = max([next_number] + [id_number(h) + 1 for h in previous.hotspots["hotspot_id"]])
    status = []
    out = []
    for lab in labels:
        if lab in ids:
            out.append(ids[lab])
            status.append("continuing")
        else:
            out.append(format_id(next_number))
            next_number += 1
            status.append("new")
    dropped = [] if previous is None else sorted(set(previous.hotspots["hotspot_id"]) - set(out))
    return out, status, dropped
