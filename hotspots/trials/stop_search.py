"""Stop and search in and out of hotspots: counts, rates with exact intervals, the outcome test and
disproportionality.

Everything here works on aggregates (:data:`COUNT_KEYS` plus ``searches``), the only form stop and
search takes in the store. Rates are per km² per 28 days (a place's exposure is its area times the
days of the window that the loaded months cover); ratios of two Poisson rates get the exact
conditional (Clopper-Pearson) interval, which stays honest with a handful of searches; proportions
(find rates) get Wilson's.

The outcome test (Knowles, Persico & Todd 2001; the "hit rate" test): if officers stop one group on
weaker grounds, fewer searches of that group find what they were looking for. A lower find rate for a
group is a signal, not proof: groups may differ in what they are searched for.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from scipy import stats

from hotspots.core.errors import ValidationError
from hotspots.trials.outcomes import cell_lookup, locate

#: The windows a search falls in, relative to the set's period: before it (``before_days`` long),
#: during it (designation), after it, and earlier than the before window.
WINDOWS = ("earlier", "before", "during", "after")
COUNT_KEYS = ["hotspot_id", "month", "window", "search_type", "legislation", "object_of_search", "outcome",
              "linked", "self_group", "officer_group", "age_band"]
REST = "rest of force"
UNPLACED = "unplaced"
REFERENCE_GROUP = "White"
NO_FURTHER_ACTION = "A no further action disposal"
#: Below this share of searches with "outcome linked to object of search" recorded, the find rate is
#: the share with any outcome beyond no further action (West Midlands records the link on ~1%).
LINKED_MIN_SHARE = 0.5
PER_DAYS = 28


def count_searches(searches: pd.DataFrame, members: pd.DataFrame, *, period_start: dt.date, period_end: dt.date,
                   before_days: int, timezone: str = "Europe/London") -> pd.DataFrame:
    """Count searches per hotspot (or the rest of the force, or unplaced), month, window and category.

    Parameters
    ----------
    searches : one row per search (:data:`hotspots.ingest.stop_search.FRAME_COLUMNS`): ``at`` in UTC,
        ``lon``/``lat`` NaN where unplaced.
    members : the set's cells (hotspot_id, h3_cell).
    period_start, period_end : the set's period, local days, end inclusive.
    before_days : length of the before window, in days.
    timezone : the force's time zone, for local days and months.

    Returns
    -------
    pandas.DataFrame
        COUNT_KEYS and ``searches`` (int), one row per combination seen.
    """
    if before_days < 1:
        raise ValidationError(f"before_days={before_days!r}: give at least 1 day", arguments="before_days")
    if searches.empty:
        return pd.DataFrame(columns=[*COUNT_KEYS, "searches"])
    ids = list(dict.fromkeys(members["hotspot_id"]))
    cells, owner, resolution = cell_lookup(members, ids)
    lon, lat = searches["lon"].to_numpy(float), searches["lat"].to_numpy(float)
    placed = ~np.isnan(lon) & ~np.isnan(lat)
    where = np.full(len(searches), -1)
    where[placed] = locate(lon[placed], lat[placed], cells, owner, resolution)
    names = np.asarray([*ids, REST], dtype=object)
    hotspot = np.where(placed, names[where], UNPLACED)  # -1 picks REST, the last name
    local = pd.DatetimeIndex(searches["at"]).tz_convert(timezone).tz_localize(None)
    day = local.normalize()
    start, end = pd.Timestamp(period_start), pd.Timestamp(period_end)
    window = np.select([day < start - pd.Timedelta(days=before_days), day < start, day <= end],
                       ["earlier", "before", "during"], "after")
    frame = searches.assign(hotspot_id=hotspot, month=local.strftime("%Y-%m"), window=window)
    counted = frame.groupby(COUNT_KEYS, observed=True, sort=True).size().rename("searches").reset_index()
    return counted.astype({"searches": np.int64})


def window_days(months: list[str], *, period_start: dt.date, period_end: dt.date, before_days: int) -> dict[str, int]:
    """Days of the before and during windows that fall in the loaded ``months`` ('YYYY-MM')."""
    covered = set(months)
    spans = {"before": (period_start - dt.timedelta(days=before_days), period_start - dt.timedelta(days=1)),
             "during": (period_start, period_end)}
    out = {}
    for name, (first, last) in spans.items():
        days = pd.date_range(first, last, freq="D")
        out[name] = int(np.isin(days.strftime("%Y-%m"), list(covered)).sum())
    return out


def rate_ratio(a: float, exposure_a: float, b: float, exposure_b: float, level: float = 0.95) -> dict:
    """Ratio of two Poisson rates, ``(a / exposure_a) / (b / exposure_b)``, with the exact conditional
    interval: given ``a + b``, ``a`` is binomial, and its Clopper-Pearson bounds map onto the ratio.

    Parameters
    ----------
    a, b : the two counts.
    exposure_a, exposure_b : their exposures (area × time, people, ...), in the same units.
    level : the interval's coverage.

    Returns
    -------
    dict
        ratio, low, high (NaN where a count or exposure leaves them undefined).
    """
    if exposure_a <= 0 or exposure_b <= 0:
        return {"ratio": np.nan, "low": np.nan, "high": np.nan}
    n = a + b
    scale = exposure_b / exposure_a
    ratio = np.nan if b == 0 else a / b * scale
    if n == 0:
        return {"ratio": ratio, "low": np.nan, "high": np.nan}
    tail = (1 - level) / 2
    p_low = 0.0 if a == 0 else stats.beta.ppf(tail, a, n - a + 1)
    p_high = 1.0 if a == n else stats.beta.ppf(1 - tail, a + 1, n - a)
    return {"ratio": ratio, "low": p_low / (1 - p_low) * scale, "high": np.inf if p_high >= 1 else p_high / (1 - p_high) * scale}


def wilson(k: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n``."""
    if n == 0:
        return (np.nan, np.nan)
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def poisson_interval(k: float, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson count."""
    tail = (1 - level) / 2
    low = 0.0 if k == 0 else stats.chi2.ppf(tail, 2 * k) / 2
    return (low, stats.chi2.ppf(1 - tail, 2 * k + 2) / 2)


def place_rates(counts: pd.DataFrame, *, hotspot_area_m2: float, rest_area_m2: float, days: dict[str, int]) -> dict:
    """Search rates inside the hotspots and in the rest of the force, before and during designation.

    Parameters
    ----------
    counts : COUNT_KEYS and ``searches``.
    hotspot_area_m2, rest_area_m2 : areas of all hotspots and of the rest of the force, m².
    days : covered days of the ``before`` and ``during`` windows (:func:`window_days`).

    Returns
    -------
    dict
        ``rates``: one row per place and window (searches, km², days, rate per km² per 28 days and
        its interval); ``comparisons``: inside against outside during designation, during against
        before inside, the same for the rest of the force, and the ratio of the two changes.
    """
    inside = ~counts["hotspot_id"].isin([REST, UNPLACED])
    n = {(place, w): int(counts.loc[mask & counts["window"].eq(w), "searches"].sum())
         for place, mask in (("hotspots", inside), ("rest", counts["hotspot_id"].eq(REST)))
         for w in ("before", "during")}
    area = {"hotspots": hotspot_area_m2 / 1e6, "rest": rest_area_m2 / 1e6}
    rows = []
    for (place, w), k in n.items():
        exposure = area[place] * days.get(w, 0) / PER_DAYS
        low, high = poisson_interval(k)
        rows.append({"place": place, "window": w, "searches": k, "km2": area[place], "days": days.get(w, 0),
                     "rate": k / exposure if exposure else np.nan,
                     "low": low / exposure if exposure else np.nan, "high": high / exposure if exposure else np.nan})
    rates = pd.DataFrame(rows)
    exp = {(r.place, r.window): r.km2 * r.days for r in rates.itertuples()}
    comparisons = []
    for label, a, b in (("hotspots against rest, during", ("hotspots", "during"), ("rest", "during")),
                        ("hotspots: during against before", ("hotspots", "during"), ("hotspots", "before")),
                        ("rest: during against before", ("rest", "during"), ("rest", "before"))):
        comparisons.append({"comparison": label, "searches_a": n[a], "searches_b": n[b],
                            **rate_ratio(n[a], exp[a], n[b], exp[b])})
    # Both places have the same windows, so areas and days cancel out of the ratio of their changes.
    comparisons.append({"comparison": "change in hotspots over change in rest", "searches_a": n["hotspots", "during"],
                        "searches_b": n["rest", "during"],
                        **ratio_of_ratios(n["hotspots", "during"], n["hotspots", "before"], n["rest", "during"],
                                          n["rest", "before"])})
    return {"rates": rates, "comparisons": pd.DataFrame(comparisons)}


def ratio_of_ratios(a: float, b: float, c: float, d: float) -> dict:
    """``(a / b) / (c / d)`` for four Poisson counts (two places, each in a later and an earlier window
    of the same length), with its log-normal 95% interval; NaN with a zero count."""
    if min(a, b, c, d) == 0:
        return {"ratio": np.nan, "low": np.nan, "high": np.nan}
    centre = np.log(a / b) - np.log(c / d)
    half = 1.959964 * np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return {"ratio": float(np.exp(centre)), "low": float(np.exp(centre - half)), "high": float(np.exp(centre + half))}


def find_measure(counts: pd.DataFrame) -> str:
    """``linked`` when most searches record whether the outcome was linked to the object, else ``any outcome``."""
    total = counts["searches"].sum()
    recorded = counts.loc[counts["linked"].ne("not recorded"), "searches"].sum()
    return "linked" if total and recorded / total >= LINKED_MIN_SHARE else "any outcome"


def found(counts: pd.DataFrame, measure: str) -> pd.Series:
    """Whether each count row is a find under ``measure``."""
    if measure == "linked":
        return counts["linked"].eq("yes")
    return ~counts["outcome"].isin([NO_FURTHER_ACTION, "not recorded"])


def find_rates(counts: pd.DataFrame, group: str = "self_group", measure: str | None = None) -> pd.DataFrame:
    """The outcome test: each group's find rate (Wilson interval) and its ratio to the White group's
    (Katz log interval), over the rows of ``counts`` given (select inside or outside beforehand).

    Parameters
    ----------
    counts : COUNT_KEYS and ``searches``.
    group : ``self_group`` or ``officer_group``.
    measure : ``linked`` or ``any outcome``; None chooses by :func:`find_measure`.

    Returns
    -------
    pandas.DataFrame
        group, searches, finds, find_rate, low, high, ratio_to_white, ratio_low, ratio_high, measure.
    """
    if group not in ("self_group", "officer_group"):
        raise ValidationError(f"group={group!r}: choose self_group or officer_group", arguments="group")
    measure = measure or find_measure(counts)
    hits = counts.assign(finds=counts["searches"].where(found(counts, measure), 0))
    table = hits.groupby(group)[["searches", "finds"]].sum()
    ref = table.loc[REFERENCE_GROUP] if REFERENCE_GROUP in table.index else None
    rows = []
    for name, r in table.iterrows():
        low, high = wilson(r.finds, r.searches)
        row = {"group": name, "searches": int(r.searches), "finds": int(r.finds),
               "find_rate": r.finds / r.searches if r.searches else np.nan, "low": low, "high": high,
               "ratio_to_white": np.nan, "ratio_low": np.nan, "ratio_high": np.nan, "measure": measure}
        if name == REFERENCE_GROUP:
            row["ratio_to_white"] = 1.0
        elif ref is not None and min(r.finds, ref.finds) > 0:
            ratio = (r.finds / r.searches) / (ref.finds / ref.searches)
            se = np.sqrt(1 / r.finds - 1 / r.searches + 1 / ref.finds - 1 / ref.searches)
            row.update(ratio_to_white=ratio, ratio_low=ratio * np.exp(-1.959964 * se),
                       ratio_high=ratio * np.exp(1.959964 * se))
        rows.append(row)
    return pd.DataFrame(rows)


def disproportionality(counts: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Searches per 1,000 residents of each self-defined ethnic group, and the ratio to the White
    group's rate (exact conditional interval), by age band too where ``population`` has one.

    Parameters
    ----------
    counts : COUNT_KEYS and ``searches`` (all places; the population is force-wide).
    population : ``ethnic_group`` (ONS 5+1 group names), ``population``, optional ``age_band``.

    Returns
    -------
    pandas.DataFrame
        age_band ("all" or a band), group, searches, population, per_1000, low, high, ratio_to_white,
        ratio_low, ratio_high. Searches whose ethnicity is not stated have no population and are
        left out of the ratios (their number is the "Not stated" row).
    """
    by_age = "age_band" in population.columns
    pop_keys = ["age_band", "ethnic_group"] if by_age else ["ethnic_group"]
    pop = population.groupby(pop_keys)["population"].sum()
    rows = []
    bands = ["all", *sorted(population["age_band"].unique())] if by_age else ["all"]
    for band in bands:
        chosen = counts if band == "all" else counts[counts["age_band"].eq(band)]
        n = chosen.groupby("self_group")["searches"].sum()
        residents = pop.groupby(level="ethnic_group").sum() if band == "all" else pop.xs(band, level="age_band")
        ref_n, ref_pop = float(n.get(REFERENCE_GROUP, 0)), float(residents.get(REFERENCE_GROUP, 0))
        for name in [g for g in n.index.union(residents.index)]:
            k, people = float(n.get(name, 0)), float(residents.get(name, 0))
            low, high = poisson_interval(k)
            ratio = (rate_ratio(k, people, ref_n, ref_pop) if people and ref_pop
                     else {"ratio": np.nan, "low": np.nan, "high": np.nan})
            rows.append({"age_band": band, "group": name, "searches": int(k), "population": people,
                         "per_1000": 1000 * k / people if people else np.nan,
                         "low": 1000 * low / people if people else np.nan,
                         "high": 1000 * high / people if people else np.nan,
                         "ratio_to_white": ratio["ratio"], "ratio_low": ratio["low"], "ratio_high": ratio["high"]})
    return pd.DataFrame(rows)
