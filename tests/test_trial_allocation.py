"""Allocation designs: balance, reproducibility, fingerprints, and re-draws that follow the design."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from hotspots.core.errors import HotspotsError
from hotspots.patrol.clock import PeriodClock
from hotspots.patrol.roster import read_arms
from hotspots.trials.allocation import DESIGNS, allocate, redraw, risk_bands

START = dt.date(2025, 3, 3)


def places(n=23, npus=3, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"place_id": [f"H{i:03d}" for i in range(n)], "npu": [f"NPU{i % npus}" for i in range(n)],
                         "risk": rng.gamma(2.0, 10.0, n)})


@pytest.mark.parametrize("design", DESIGNS)
def test_same_seed_same_allocation_and_fingerprint(design):
    a = allocate(places(), design, seed=7, start=START)
    b = allocate(places(), design, seed=7, start=START)
    c = allocate(places(), design, seed=8, start=START)
    assert np.array_equal(a.treated, b.treated) and a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint
    a.treated[0] = ~a.treated[0]
    assert a.fingerprint != b.fingerprint  # any changed arm shows


def test_simple_treats_exactly_the_share():
    for seed in range(20):
        alloc = allocate(places(23), "simple", seed=seed, share=0.5)
        assert alloc.treated[:, 0].sum() == round(0.5 * 23)


def test_blocked_balances_every_block():
    alloc = allocate(places(60, npus=4), "blocked", seed=1, bands=3)
    frame = alloc.places.assign(t=alloc.treated[:, 0])
    assert frame["block"].nunique() == 12  # 4 NPUs x 3 risk bands
    for _, block in frame.groupby("block"):
        assert abs(block["t"].sum() - len(block) / 2) <= 0.5


def test_pairs_are_neighbours_in_risk_and_split():
    alloc = allocate(places(21, npus=1), "pair", seed=2)
    frame = alloc.places.assign(t=alloc.treated[:, 0]).sort_values("risk", ascending=False)
    assert frame["pair"].tolist() == sorted(frame["pair"].tolist())  # pairs follow the order of risk
    sizes = frame.groupby("pair")["t"].agg(["size", "sum"])
    assert (sizes.loc[sizes["size"] == 2, "sum"] == 1).all() and (sizes["size"] == 1).sum() == 1


def test_crossover_alternates_and_half_of_each_block_is_patrolled_every_period():
    alloc = allocate(places(40, npus=2), "crossover", seed=3, periods=6, period_days=7, start=START)
    assert alloc.treated.shape == (40, 6)
    assert (alloc.treated[:, 1:] != alloc.treated[:, :-1]).all()
    frame = alloc.places
    for _, idx in frame.groupby("block").groups.items():
        patrolled = alloc.treated[idx].sum(axis=0)
        assert (np.abs(patrolled - len(idx) / 2) <= 0.5).all()


def test_redraws_give_every_place_the_same_chance():
    alloc = allocate(places(30), "blocked", seed=4)
    draws = redraw(alloc, np.random.default_rng(0), 4000)[:, :, 0]
    share = draws.mean(axis=0)
    assert np.all(np.abs(share - 0.5) < 4 * np.sqrt(0.25 / 4000) + 0.02)
    # Every draw keeps the design: each block balanced as in the registered draw.
    blocks = alloc.places["block"].to_numpy()
    for b in np.unique(blocks):
        size = (blocks == b).sum()
        assert np.all(np.abs(draws[:, blocks == b].sum(axis=1) - size / 2) <= 0.5)


def test_risk_bands_are_equal_sized_and_ordered():
    bands = risk_bands(np.arange(9.0), 3)
    assert bands.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_crossover_arms_feed_the_roster_planner():
    alloc = allocate(places(6, npus=1), "crossover", seed=5, periods=2, period_days=7, start=START)
    arms = alloc.patrol_arms()
    assert len(arms) == 6 * 14 and set(arms.columns) == {"hotspot_id", "arm", "date"}
    control = read_arms(arms, alloc.places["place_id"].tolist(), PeriodClock(START, 14, "Europe/London"))
    assert np.array_equal(~control[:, 0], alloc.treated[:, 0]) and np.array_equal(~control[:, 7], alloc.treated[:, 1])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"design": "stepped"}, "design='stepped' is not known; use one of: simple, blocked, pair, crossover"),
    ({"design": "blocked", "share": 1.5}, "share=1.5 must be a fraction"),
    ({"design": "crossover", "periods": 1}, "a crossover design needs at least 2 periods"),
    ({"design": "blocked", "strata": ("ward",)}, "strata='ward' is not known"),
])
def test_bad_arguments_name_themselves(kwargs, message):
    with pytest.raises(HotspotsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        allocate(places(), seed=1, **kwargs)


def test_places_must_be_unique_and_at_least_two():
    with pytest.raises(HotspotsError, match="place_id='H000' appears twice"):
        allocate(pd.concat([places(3), places(3)]), "simple", seed=1)
    with pytest.raises(HotspotsError, match="at least 2 places"):
        allocate(places(1), "simple", seed=1)
