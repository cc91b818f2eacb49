"""Randomising places to patrol (treatment) and control: ``allocate``.

Four designs, each drawn from a recorded seed so it can be registered before the trial and
regenerated exactly:

* ``simple``: complete randomisation; exactly ``round(share * n)`` places are treated.
* ``blocked``: complete randomisation within each block (by default NPU x risk band), so arms
  are balanced where crime and resourcing differ. A block's odd place goes to treatment with
  probability ``share``.
* ``pair``: places sorted by risk (within NPU) and paired with their neighbour in that order;
  one of each pair is treated. An odd place out is treated with probability ``share``.
* ``crossover``: every place is patrolled in some periods and is its own control in the
  others. Arms alternate period by period (treatment, control, ... or the reverse), and which
  places start treated is drawn within blocks, so in every period half of each block is patrolled.

The same drawing code re-draws allocations for randomisation inference
(:func:`redraw`), so a test's reference distribution always follows the design actually used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hotspots.core.errors import ValidationError
from hotspots.core.validate import check_choice, check_fraction, check_positive

DESIGNS = ("simple", "blocked", "pair", "crossover")
ARM_COLUMNS = ["place_id", "period", "period_start", "arm"]
PLACE_COLUMNS = ["place_id", "npu", "risk", "risk_band", "block", "pair"]


@dataclass
class Allocation:
    """Who is patrolled when.

    places : PLACE_COLUMNS, one row per place; ``block`` and ``pair`` are -1 where unused.
    treated : (n_places, n_periods) bool; one period for parallel designs.
    design, seed, parameters : what was drawn and how.
    """

    places: pd.DataFrame
    treated: np.ndarray
    design: str
    seed: int
    parameters: dict = field(default_factory=dict)
    issue: dict = field(default_factory=dict)

    @property
    def period_days(self) -> int:
        return int(self.parameters.get("period_days", 0))

    @property
    def start(self) -> dt.date:
        return dt.date.fromisoformat(self.parameters["start"])

    def arms(self) -> pd.DataFrame:
        """ARM_COLUMNS: one row per place (parallel designs, period_start empty) or per place and period."""
        n, periods = self.treated.shape
        ids = np.repeat(self.places["place_id"].to_numpy(object), periods)
        period = np.tile(np.arange(periods), n)
        if self.design == "crossover":
            starts = [(self.start + dt.timedelta(days=int(p) * self.period_days)).isoformat() for p in period]
        else:
            starts = [""] * len(period)
        arm = np.where(self.treated.ravel(), "treatment", "control")
        return pd.DataFrame({"place_id": ids, "period": period, "period_start": starts, "arm": arm})

    def patrol_arms(self) -> pd.DataFrame:
        """The ``--arms`` file of ``hotspots patrol plan``: hotspot_id, arm and, for crossover, each day."""
        arms = self.arms().rename(columns={"place_id": "hotspot_id"})
        if self.design != "crossover":
            return arms[["hotspot_id", "arm"]]
        days = []
        for r in arms.itertuples(index=False):
            first = dt.date.fromisoformat(r.period_start)
            days += [(r.hotspot_id, r.arm, (first + dt.timedelta(days=d)).isoformat()) for d in range(self.period_days)]
        return pd.DataFrame(days, columns=["hotspot_id", "arm", "date"])

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the design, seed, parameters and every place's arm: any silent change shows."""
        payload = {"design": self.design, "seed": int(self.seed), "parameters": self.parameters,
                   "places": self.places.astype(object).where(self.places.notna(), None).to_dict("records"),
                   "treated": self.treated.astype(int).tolist()}
        text = json.dumps(payload, sort_keys=True, default=_plain)
        return hashlib.sha256(text.encode()).hexdigest()

    def summary(self) -> str:
        n, periods = self.treated.shape
        if self.design == "crossover":
            return (f"{self.design} design: {n} places alternate over {periods} periods of {self.period_days} days; "
                    f"{int(self.treated[:, 0].sum())} start patrolled")
        return f"{self.design} design: {int(self.treated[:, 0].sum())} of {n} places patrolled, the rest controls"


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


def places_from_set(hs, risk: str = "harm") -> pd.DataFrame:
    """A stored hotspot set's places: id, NPU (the hotspot's area name) and ``risk`` (harm, score or incidents)."""
    check_choice(risk, ("harm", "score", "incidents"), "risk")
    hot = hs.hotspots
    values = pd.to_numeric(hot[risk], errors="coerce")
    if values.isna().all():
        raise ValidationError(f"set {hs.parameters.get('set_id')} records no {risk} per hotspot; use risk score")
    return pd.DataFrame({"place_id": hot["hotspot_id"].astype(str), "npu": hot["area_name"].fillna(""),
                         "risk": values.fillna(0.0)})


def risk_bands(risk: np.ndarray, bands: int) -> np.ndarray:
    """Band 0 (lowest) to ``bands - 1`` by rank of risk, as equal in size as possible."""
    n = len(risk)
    if n == 0:
        return np.zeros(0, int)
    order = np.argsort(np.argsort(-np.asarray(risk, float), kind="stable"), kind="stable")
    return (bands - 1 - (order * bands) // n).astype(int)


def allocate(
    places: pd.DataFrame,
    design: str = "blocked",
    *,
    seed: int,
    share: float = 0.5,
    strata: tuple[str, ...] = ("npu", "risk_band"),
    bands: int = 3,
    start: dt.date | None = None,
    periods: int = 8,
    period_days: int = 7,
) -> Allocation:
    """Randomise ``places`` to patrol and control under ``design``.

    Parameters
    ----------
    places : DataFrame with ``place_id`` and optionally ``npu`` (text) and ``risk`` (any score,
        higher is riskier; e.g. last period's harm). One row per place.
    design : one of ``DESIGNS``.
    seed : seed of the draw; recorded with the allocation.
    share : share of places treated (parallel designs) or starting treated (crossover).
    strata : columns that define blocks (``blocked`` and ``crossover``): any of npu, risk_band.
    bands : number of risk bands (equal-sized by rank of risk).
    start, periods, period_days : the trial's first day, and for crossover its number of periods
        and their length in days (7 for weeks, 1 for days).

    Returns
    -------
    Allocation
        The places with their block and arm, the (places, periods) treated matrix, and every choice.
    """
    check_choice(design, DESIGNS, "design")
    check_fraction(share, "share")
    check_positive(bands, "bands")
    if "place_id" not in places.columns:
        raise ValidationError("places need a place_id column (the hotspot ids of a stored set)")
    if places["place_id"].duplicated().any():
        dup = places.loc[places["place_id"].duplicated(), "place_id"].iloc[0]
        raise ValidationError(f"place_id={dup!r} appears twice; each place is allocated once", arguments="place_id")
    if len(places) < 2:
        raise ValidationError(f"a trial needs at least 2 places; got {len(places)}")
    for s in strata:
        check_choice(s, ("npu", "risk_band"), "strata")
    if design == "crossover":
        if periods < 2:
            raise ValidationError(f"periods={periods!r}: a crossover design needs at least 2 periods", arguments="periods")
        check_positive(period_days, "period_days", "days")
    else:
        periods = 1
    frame = pd.DataFrame({"place_id": places["place_id"].astype(str).to_numpy()})
    frame["npu"] = places["npu"].fillna("").astype(str).to_numpy() if "npu" in places else ""
    frame["risk"] = pd.to_numeric(places["risk"], errors="coerce").fillna(0.0).to_numpy() if "risk" in places else 0.0
    frame["risk_band"] = risk_bands(frame["risk"].to_numpy(), int(bands))
    frame["block"] = -1
    frame["pair"] = -1
    if design in ("blocked", "crossover") and strata:
        frame["block"] = frame.groupby(list(strata), sort=True).ngroup().to_numpy()
    elif design in ("blocked", "crossover"):
        frame["block"] = 0
    if design == "pair":
        frame["pair"] = _pairs(frame)
    params = {"share": share, "strata": list(strata), "bands": int(bands), "periods": int(periods),
              "period_days": int(period_days) if design == "crossover" else 0,
              "start": (start or dt.date.today()).isoformat()}
    alloc = Allocation(places=frame[PLACE_COLUMNS], treated=np.zeros((len(frame), periods), bool), design=design,
                       seed=int(seed), parameters=params)
    alloc.treated = redraw(alloc, np.random.default_rng(seed), 1)[0]
    return alloc


def _pairs(frame: pd.DataFrame) -> np.ndarray:
    """Pair number per place: adjacent in order of risk within NPU; a lone last place gets its own."""
    ordered = frame.sort_values(["npu", "risk"], ascending=[True, False], kind="stable")
    pair = np.empty(len(frame), int)
    next_pair = 0
    for _, group in ordered.groupby("npu", sort=True):
        idx = group.index.to_numpy()  # still in order of risk
        pair[idx] = next_pair + np.arange(len(idx)) // 2
        next_pair += (len(idx) + 1) // 2
    return pair


def redraw(alloc: Allocation, rng: np.random.Generator, draws: int) -> np.ndarray:
    """``draws`` fresh allocations under ``alloc``'s design: (draws, n_places, n_periods) bool."""
    n, periods = alloc.treated.shape
    share = float(alloc.parameters["share"])
    places = alloc.places
    if alloc.design == "simple":
        groups = [np.arange(n)]
    elif alloc.design == "pair":
        groups = [np.flatnonzero(places["pair"].to_numpy() == p) for p in np.unique(places["pair"])]
    else:
        groups = [np.flatnonzero(places["block"].to_numpy() == b) for b in np.unique(places["block"])]
    first = np.zeros((draws, n), bool)
    whole = alloc.design == "simple"
    for members in groups:
        first[:, members] = _complete(rng, draws, len(members), share, whole)
    if alloc.design != "crossover":
        return first[:, :, None]
    alternate = (np.arange(periods) % 2 == 0)[None, None, :]
    return np.where(first[:, :, None], alternate, ~alternate)


def _complete(rng: np.random.Generator, draws: int, size: int, share: float, whole: bool) -> np.ndarray:
    """(draws, size) bool with floor(share * size) True in each row, plus one more with probability
    equal to the remainder (or exactly round(share * size) when ``whole``)."""
    if whole:
        k = np.full(draws, int(round(share * size)))
    else:
        base = int(np.floor(share * size))
        k = base + (rng.random(draws) < share * size - base)
    keys = rng.random((draws, size))
    ranks = np.argsort(np.argsort(keys, axis=1), axis=1)
    return ranks < k[:, None]
