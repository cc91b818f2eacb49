"""Session fixture for the web tests: a store built from the shipped West Midlands sample the way the
demo builds it (load, select the week's hotspots with wards as NPUs, issue a roster), with a token per
role and one commander limited to a single NPU. Tests copy the pristine file before changing it."""

import shutil

import pytest

from hotspots.core.config import DEFAULT_NAMED_AREAS, SHIPPED_DATA
from hotspots.geo.areas import NamedAreas
from hotspots.ingest.files import IngestOptions
from hotspots.patrol import PatrolResources
from hotspots.services.ingest import ingest_files
from hotspots.services.rosters import issue_roster
from hotspots.services.weekly import select_hotspots, set_calendar
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
