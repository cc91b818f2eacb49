"""The ``hotspots`` command. User mistakes print one line and exit 2; bugs keep their traceback.

Each module registers its commands on the one Typer app: ``explore`` (ingest, cells, kde,
synth), ``weekly`` (select, map, sets, export, engagement), ``model`` (the predictor),
``patrol`` (rosters), ``trial`` (allocation, power, dosage, evaluation), ``serve`` (the API and its ``users``) and ``demo``.
"""

from __future__ import annotations

import logging
import sys

from hotspots.cli import demo as _demo  # noqa: F401  (registers commands)
from hotspots.cli import explore as _explore  # noqa: F401
from hotspots.cli import model as _model  # noqa: F401
from hotspots.cli import patrol as _patrol  # noqa: F401
from hotspots.cli import serve as _serve  # noqa: F401
from hotspots.cli import trial as _trial  # noqa: F401
from hotspots.cli import weekly as _weekly  # noqa: F401
from hotspots.cli._common import app, err
from hotspots.core.errors import HotspotsError


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; a HotspotsError becomes one line on stderr and exit code 2."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("alembic", "pyogrio", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        app(args=argv, standalone_mode=True)
    except HotspotsError as exc:
        err.print(f"error: {exc}", highlight=False, soft_wrap=True, markup=False)
        return 2
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
