"""The model registry on SQLite and PostgreSQL: versions, promotion, rollback, all-or-nothing writes."""

from __future__ import annotations

import numpy as np
import pytest

from hotspots.core.errors import HotspotsError
import models.registry as model_rows
from hotspots.services import models as registry
from models.predictor import RiskModel
from models.training import data_fingerprint, train


@pytest.fixture(scope="module")
def trained(history):
    return train(history, model=RiskModel(max_iter=40, zero_rows_per_period=2_000), backtest_periods=1)


def test_register_list_show(store, trained, history):
    assert registry.list_models(store).empty
    v = registry.register(store, trained)
    assert v == 1
    listed = registry.list_models(store)
    assert listed["version"].tolist() == [1] and not listed["promoted"].any()
    row = registry.model_row(store, 1)
    assert row["target"] == "knife_syv" and row["resolution"] == 9
    assert row["features"] == trained.model.feature_names_
    cutoff = history.calendar.start_day(np.array([trained.forecast_period]))[0]
    used = history.incidents_used[history.end_day <= cutoff]  # the partial last period is not training data
    assert row["data_fingerprint"] == data_fingerprint(used) and len(row["data_fingerprint"]) == 64
    assert row["n_incidents"] == len(used) < len(history.incidents_used)
    assert row["metrics"]["summary"][0]["method"] == "model"
    assert "Not targets" in row["card"] and "best baseline" in row["card"] and "v1" in row["card"]
    assert row["training_end"] < row["forecast_start"]
    loaded = registry.load_model(store, 1)
    p = trained.forecast_period
    np.testing.assert_array_equal(loaded.model.predict(history, p), trained.model.predict(history, p))
    # What is served (the model, a baseline or a blend, recalibrated) is stored and said on the card.
    assert loaded.served.method == trained.served.method and "**Serves**" in row["card"]
    np.testing.assert_allclose(loaded.predict(history, p), trained.served.predict(history, p))
    assert row["metrics"]["served"]["periods"][0]["served"] == "blend"  # nothing before it to choose on
    with pytest.raises(HotspotsError, match="not in the registry"):
        registry.model_row(store, 9)


def test_promote_and_roll_back(store, trained):
    with pytest.raises(HotspotsError, match="no model is promoted"):
        registry.load_promoted(store)
    for _ in range(3):
        registry.register(store, trained)
    registry.promote(store, 1)
    registry.promote(store, 2)
    registry.promote(store, 3, note="better PAI")
    assert registry.promoted_version(store) == 3
    with pytest.raises(HotspotsError, match="already the promoted"):
        registry.promote(store, 3)
    assert registry.rollback(store) == 2
    assert registry.rollback(store) == 1
    assert registry.load_promoted(store).version == 1
    with pytest.raises(HotspotsError, match="nothing to roll back"):
        registry.rollback(store)
    assert registry.events(store)["action"].tolist() == ["promote"] * 3 + ["rollback"] * 2


def test_a_failure_while_writing_leaves_the_registry_unchanged(store, trained, monkeypatch):
    registry.register(store, trained)

    def broken(*_args, **_kwargs):
        raise RuntimeError("killed while writing the card")

    monkeypatch.setattr(model_rows, "model_card", broken)  # the card is built inside the write
    with pytest.raises(RuntimeError):
        registry.register(store, trained)
    assert store.count("model_versions") == 1
    monkeypatch.undo()
    assert registry.register(store, trained) == 2  # no gap, no half-written version


def test_same_data_same_fingerprint(two_years):
    shuffled = two_years.sample(frac=1.0, random_state=0)
    assert data_fingerprint(shuffled) == data_fingerprint(two_years)
    assert data_fingerprint(two_years.iloc[1:]) != data_fingerprint(two_years)
