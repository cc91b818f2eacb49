"""Session fixture for the web tests: a store built from the shipped West Midlands sample the way the
demo builds it (load, select the week's hotspots with wards as NPUs, issue a roster), with a token per
role and one commander limited to a single NPU. Tests copy the pristine file before changing it."""

import shutil

import pandas as pd
import pytest

from hotspots.core.config import DEFAULT_NAMED_AREAS, SHIPPED_DATA
from hotspots.geo import cells as h3cells
from hotspots.geo.areas import NamedAreas
from hotspots.ingest.files import IngestOptions
from hotspots.patrol import PatrolResources
from hotspots.services.ingest import ingest_files
from hotspots.services.rosters import issue_roster, load_roster
from hotspots.services.weekly import load_set, select_hotspots, set_calendar
from hotspots.store import open_store
from hotspots.store.tokens import ROLES, add_token

SAMPLES = sorted((SHIPPED_DATA / "samples").glob("*west-midlands*")) + sorted(
    (SHIPPED_DATA / "samples").glob("birmingham*"))
DEMO_RESOURCES = SHIPPED_DATA / "patrol" / "demo_resources.toml"


@pytest.fixture(scope="session")
def sample_site(tmp_path_factory, force_area):
    """(path of a pristine SQLite store, tokens by role and 'limited', the limited commander's NPU)."""
    folder = tmp_path_factory.mktemp("site")
    path = folder / "sample.sqlite"
    store = open_store(f"sqlite:///{path}")
    ingest_files(SAMPLES, store, IngestOptions(force_area=force_area))
    wards = NamedAreas.from_file(DEFAULT_NAMED_AREAS)
    chosen = select_hotspots(store, force_area, set_calendar("week"), resolution=10, npus=wards, names=wards)
    issue_roster(store, PatrolResources.from_file(DEMO_RESOURCES), set_id=chosen.set_id, seed=7,
                 actor="test:tasking", reason="web test")
    tokens = {role: add_token(store, f"{role}-post", role, actor="test") for role in ROLES}
    npu = chosen.weekly.hotspot_set.hotspots["area_name"].value_counts().index[0]
    tokens["limited"] = add_token(store, "one-npu-inspector", "commander", [npu], actor="test")
    store.dispose()
    return path, tokens, npu


def copy_site(sample_site, folder):
    """A private copy of the sample store: its URL, tokens and limited NPU."""
    path, tokens, npu = sample_site
    shutil.copy(path, folder / "site.sqlite")
    return f"sqlite:///{folder / 'site.sqlite'}", tokens, npu


def gps_log(store, visits: int) -> pd.DataFrame:
    """A GPS log that delivers roster 1's first ``visits`` visits: a ping every 30 s for 15 minutes at a
    member cell of each visited hotspot (unit, timestamp, lon, lat)."""
    roster, members = load_roster(store, 1), load_set(store, 1).members
    cell = members.groupby("hotspot_id")["h3_cell"].first()
    rows = []
    for v in roster.visits.head(visits).itertuples():
        lon, lat = h3cells.cell_centres(h3cells.from_strings([cell[v.hotspot_id]]))
        rows += [(v.unit, (v.starts_at + pd.Timedelta(seconds=k)).isoformat(), float(lon[0]), float(lat[0]))
                 for k in range(0, 15 * 60, 30)]
    return pd.DataFrame(rows, columns=["unit", "timestamp", "lon", "lat"])
