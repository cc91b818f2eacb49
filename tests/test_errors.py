"""Typed errors: every engine error says which kind it is, names the engine's own arguments, and each
front end writes those names its own way (the CLI as its flags, the API as its fields)."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hotspots.core.errors import (
    FormatError,
    HotspotsError,
    IntegrityError,
    NotFoundError,
    NotReadyError,
    ValidationError,
)
from hotspots.core.validate import check_choice, check_resolution

ROOT = Path(__file__).resolve().parents[1]
#: Everything below the front ends: the engine, services, store, models and maps.
BELOW_FRONT_ENDS = [p for top in ("hotspots", "models", "maps") for p in (ROOT / top).rglob("*.py")
                    if "cli" not in p.relative_to(ROOT).parts]


def _raises(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name):
            yield node.exc


def test_every_kind_is_a_user_error():
    for kind in (ValidationError, FormatError, NotFoundError, NotReadyError, IntegrityError):
        assert issubclass(kind, HotspotsError)


def test_no_module_below_the_front_ends_raises_the_untyped_base():
    bare = [f"{p.relative_to(ROOT)}:{call.lineno}" for p in BELOW_FRONT_ENDS for call in _raises(p)
            if call.func.id == "HotspotsError"]
    assert bare == []


def test_no_message_below_the_front_ends_names_a_cli_flag():
    """A flag may appear only inside a quoted command line ('hotspots ingest ... --dataset DIR')."""
    flagged = []
    for p in BELOW_FRONT_ENDS:
        for call in _raises(p):
            if not call.func.id.endswith("Error") or not call.args:
                continue
            text = "".join(part.value for part in ast.walk(call.args[0])
                           if isinstance(part, ast.Constant) and isinstance(part.value, str))
            text = re.sub(r"'hotspots [^']*'", "", text)
            if re.search(r"(?<![\w-])--[a-z]", text):
                flagged.append(f"{p.relative_to(ROOT)}:{call.lineno}: {text[:60]}")
    assert flagged == []


def test_arguments_are_renamed_as_whole_words_only():
    exc = ValidationError("visits_per_day=0 must be at least 1 and min_gap_minutes=-1 not negative; "
                          "the visits_per_day_cap is separate", arguments=("visits_per_day", "min_gap_minutes"))
    flag = exc.message_as(lambda name: "--" + name.replace("_", "-"))
    assert flag == ("--visits-per-day=0 must be at least 1 and --min-gap-minutes=-1 not negative; "
                    "the visits_per_day_cap is separate")
    assert str(exc).startswith("visits_per_day=0")
    # Where the argument is written name=value, only those mentions are its; other uses of the word stay.
    dask = ValidationError("scheduler='tcp://x:1': no Dask scheduler answered; start one with 'dask scheduler'",
                           arguments="scheduler")
    assert dask.message_as(lambda n: "--" + n) == ("--scheduler='tcp://x:1': no Dask scheduler answered; "
                                                   "start one with 'dask scheduler'")
    # Where it never is, its first mention is.
    reason = ValidationError("a new version needs reason (the reason it replaces the last)", arguments="reason")
    assert reason.message_as(lambda n: "--" + n) == "a new version needs --reason (the reason it replaces the last)"


def test_shared_validators_name_the_argument_they_were_given():
    with pytest.raises(ValidationError) as got:
        check_choice("fortnight", ["week", "month"], "period")
    assert got.value.arguments == ("period",) and str(got.value).startswith("period='fortnight'")
    with pytest.raises(ValidationError) as got:
        check_resolution(14)
    assert got.value.arguments == ("resolution",)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        # the engine's ``resolution`` is ``--res`` on the model commands and ``--resolution`` on cells
        (["model", "train", "--res", "14"], "error: --res=14 is outside the supported H3 resolutions"),
        (["cells", "--resolution", "14"], "error: --resolution=14 is outside the supported H3 resolutions"),
        # a positional argument keeps its name; an option gets its flag
        (["users", "add", "", "--role", "commander"], "error: name='': give 1 to 64 characters"),
        (["users", "add", "x", "--role", "analyst", "--npu", "A"], "error: --npu=['A']: only a commander's view"),
    ],
)
def test_the_cli_writes_engine_arguments_as_the_command_spells_them(args, line, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOTS_")} | {
        "HOTSPOTS_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "hotspots.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith(line), done.stderr
