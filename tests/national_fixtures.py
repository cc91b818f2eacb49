"""Fixtures for national scale: a two-worker LocalCluster, and a synthetic force written as a data set."""

import pandas as pd
import pytest

from hotspots.crime.aggregate import INCIDENT_COLUMNS
from hotspots.geo import cells as h3cells


@pytest.fixture(scope="module")
def client():
    import distributed  # installed by the test extra: a missing install fails here, it is not skipped

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as cluster, distributed.Client(cluster) as c:
        yield c


def as_normalised(stored: pd.DataFrame) -> pd.DataFrame:
    """Synthetic incidents (as the model fixtures give them) with every column a data set keeps."""
    cells = h3cells.points_to_cells(stored["lon"].to_numpy(float), stored["lat"].to_numpy(float), 10)
    return stored.assign(time_precision="exact", location=None, h3_cell=h3cells.to_strings(cells))[INCIDENT_COLUMNS]


@pytest.fixture(scope="module")
def force_dataset(tmp_path_factory, force_area):
    """A synthetic West Midlands year of 20,000 incidents as a data set (split over two forces so
    parts read from both), and the frame written."""
    from model_fixtures import as_stored

    from hotspots.national.dataset import IncidentDataset, write_incidents_dataset
    from hotspots.synth import SynthParams, generate

    frame = as_normalised(as_stored(generate(SynthParams(seed=11, incidents=20_000, days=400), force_area).incidents))
    root = tmp_path_factory.mktemp("dataset")
    west = frame["x"] < frame["x"].median()
    write_incidents_dataset(frame[west], root, "west-midlands-west", "EPSG:27700")
    write_incidents_dataset(frame[~west], root, "west-midlands-east", "EPSG:27700")
    return IncidentDataset(root), frame
