"""Patrol resources of a tactical period: NPUs, their units, shift windows and funded hours.

Read from a TOML file a tasking board keeps (see ``data/patrol/demo_resources.toml``)::

    hotspot_share = 0.8              # of funded hours for hotspot visits; the rest is discretionary

    [speeds]                         # km/h, and how much longer streets are than the straight line
    foot_kmh = 4.8
    vehicle_kmh = 20
    detour = 1.3
    foot_max_leg_minutes = 20        # longest trip between two visits of a shift
    vehicle_max_leg_minutes = 45

    [[npu]]
    name = "Birmingham West"
    funded_hours = 420               # funded patrol hours of this NPU in the period
    areas = ["Ladywood", "Soho"]     # optional: the hotspot sets' area names this NPU covers

    [[npu.unit]]
    callsign = "BW-F1"               # a call sign, never an officer's name
    mode = "foot"                    # foot or vehicle
    shifts = { "mon-thu" = "15:00-23:00", "fri-sat" = "18:00-02:00" }
    base = [-1.9035, 52.4781]        # optional: where shifts start and end (lon, lat)

A shift whose end is not after its start runs past midnight; ``"00:00-24:00"`` is a whole day.
Day keys are ``mon`` ... ``sun``, ranges such as ``mon-fri`` or ``fri-mon``, ``daily``,
``weekdays`` and ``weekends``; a value may be a list of ranges for split shifts.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hotspots.core.errors import FormatError, ValidationError
from hotspots.core.validate import check_file

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MODES = ("foot", "vehicle")
DEFAULT_SPEEDS_KMH = {"foot": 4.8, "vehicle": 20.0}
# A foot patrol is not sent across an NPU between two visits: legs longer than this are not planned.
DEFAULT_MAX_LEG_MINUTES = {"foot": 20.0, "vehicle": 45.0}
DEFAULT_DETOUR = 1.3
DEFAULT_HOTSPOT_SHARE = 0.8
_TIME_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class Shift:
    """A weekly shift window: local clock minutes on a weekday (0 = Monday); ``end_minute`` may pass 1440."""

    weekday: int
    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class Unit:
    callsign: str
    npu: str
    mode: str
    shifts: tuple[Shift, ...]
    base: tuple[float, float] | None = None


@dataclass(frozen=True)
class Npu:
    name: str
    funded_hours: float
    units: tuple[Unit, ...]
    areas: tuple[str, ...] = ()


@dataclass(frozen=True)
class PatrolResources:
    """Everything a roster may spend: per-NPU funded hours and units, travel speeds, the hotspot share."""

    npus: tuple[Npu, ...]
    hotspot_share: float = DEFAULT_HOTSPOT_SHARE
    speeds_kmh: dict = field(default_factory=lambda: dict(DEFAULT_SPEEDS_KMH))
    detour: float = DEFAULT_DETOUR
    max_leg_minutes: dict = field(default_factory=lambda: dict(DEFAULT_MAX_LEG_MINUTES))

    @classmethod
    def from_file(cls, path: str | Path) -> PatrolResources:
        p = check_file(path, "resources")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"resources={str(p)!r} is not valid TOML: {exc}", arguments="resources") from None
        return cls.from_text(text, where=p.name, shown=repr(str(p)))

    @classmethod
    def from_text(cls, text: str, where: str = "resources", shown: str = "") -> PatrolResources:
        """Resources from TOML text (an uploaded or typed file); ``where`` names it in messages."""
        try:
            spec = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise FormatError(f"resources={shown or where} is not valid TOML: {exc}", arguments="resources") from None
        return cls.from_dict(spec, where=where)

    @classmethod
    def from_dict(cls, spec: dict, where: str = "resources") -> PatrolResources:
        """Validate a parsed resources document; every message names the entry at fault."""
        share = _number(spec.get("hotspot_share", DEFAULT_HOTSPOT_SHARE), f"{where}: hotspot_share")
        if not 0 < share <= 1:
            raise FormatError(f"{where}: hotspot_share={share!r} must be a fraction above 0 and at most 1 (0.8 = 80%)")
        speeds_spec = spec.get("speeds", {})
        speeds = {mode: _number(speeds_spec.get(f"{mode}_kmh", v), f"{where}: speeds.{mode}_kmh")
                  for mode, v in DEFAULT_SPEEDS_KMH.items()}
        detour = _number(speeds_spec.get("detour", DEFAULT_DETOUR), f"{where}: speeds.detour")
        legs = {mode: _number(speeds_spec.get(f"{mode}_max_leg_minutes", v), f"{where}: speeds.{mode}_max_leg_minutes")
                for mode, v in DEFAULT_MAX_LEG_MINUTES.items()}
        if min(legs.values()) <= 0:
            raise FormatError(f"{where}: the longest legs between visits must be above 0 minutes; got {legs}")
        if min(speeds.values()) <= 0 or detour < 1:
            raise FormatError(f"{where}: speeds must be above 0 km/h and detour at least 1; got {speeds}, detour {detour}")
        npus_spec = spec.get("npu")
        if not isinstance(npus_spec, list) or not npus_spec:
            raise FormatError(f"{where}: no [[npu]] entries; each NPU needs a name, funded_hours and [[npu.unit]] entries")
        npus = tuple(_npu(n, f"{where}: npu[{i}]") for i, n in enumerate(npus_spec))
        _unique([n.name for n in npus], f"{where}: NPU name")
        _unique([u.callsign for n in npus for u in n.units], f"{where}: unit callsign")
        return cls(npus=npus, hotspot_share=float(share), speeds_kmh=speeds, detour=float(detour), max_leg_minutes=legs)

    def to_dict(self) -> dict:
        """The resources as a plain document (stored with each roster; ``from_dict`` reads it back)."""
        return {
            "hotspot_share": self.hotspot_share,
            "speeds": {**{f"{m}_kmh": v for m, v in self.speeds_kmh.items()}, "detour": self.detour,
                       **{f"{m}_max_leg_minutes": v for m, v in self.max_leg_minutes.items()}},
            "npu": [{"name": n.name, "funded_hours": n.funded_hours, "areas": list(n.areas),
                     "unit": [{"callsign": u.callsign, "mode": u.mode,
                               "shifts": [asdict(s) for s in u.shifts],
                               **({"base": list(u.base)} if u.base else {})} for u in n.units]}
                    for n in self.npus],
        }

    def with_share(self, share: float | None) -> PatrolResources:
        if share is None:
            return self
        if not 0 < share <= 1:
            raise ValidationError(f"hotspot_share={share!r} must be a fraction above 0 and at most 1 (0.8 = 80%)",
                                  arguments="hotspot_share")
        return PatrolResources(self.npus, float(share), self.speeds_kmh, self.detour, self.max_leg_minutes)


def _npu(spec, where: str) -> Npu:
    if not isinstance(spec, dict):
        raise FormatError(f"{where} must be a table with name, funded_hours and units")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise FormatError(f"{where}: name={name!r} must be a non-empty string, e.g. 'Birmingham West'")
    where = f"{where} ({name})"
    hours = _number(spec.get("funded_hours"), f"{where}: funded_hours")
    if hours < 0:
        raise FormatError(f"{where}: funded_hours={hours!r} must be zero or more (hours in the period)")
    areas = spec.get("areas", [])
    if not isinstance(areas, list) or not all(isinstance(a, str) for a in areas):
        raise FormatError(f"{where}: areas={areas!r} must be a list of area names, e.g. ['Ladywood', 'Soho']")
    units_spec = spec.get("unit", [])
    if not isinstance(units_spec, list) or not units_spec:
        raise FormatError(f"{where}: no [[npu.unit]] entries; give each unit a callsign, mode and shifts")
    units = tuple(_unit(u, name, f"{where}: unit[{i}]") for i, u in enumerate(units_spec))
    return Npu(name=name, funded_hours=float(hours), units=units, areas=tuple(areas))


def _unit(spec, npu: str, where: str) -> Unit:
    if not isinstance(spec, dict):
        raise FormatError(f"{where} must be a table with callsign, mode and shifts")
    callsign = spec.get("callsign")
    if not isinstance(callsign, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 _./-]{0,31}", callsign):
        raise FormatError(f"{where}: callsign={callsign!r} must be a short call sign (letters, digits, - _ . /), e.g. 'BW-F1'")
    where = f"{where} ({callsign})"
    mode = spec.get("mode", "foot")
    if mode not in MODES:
        raise FormatError(f"{where}: mode={mode!r} is not known; use one of: {', '.join(MODES)}")
    shifts_spec = spec.get("shifts")
    if isinstance(shifts_spec, list):  # the stored form, from to_dict
        shifts = tuple(Shift(int(s["weekday"]), int(s["start_minute"]), int(s["end_minute"])) for s in shifts_spec)
    elif isinstance(shifts_spec, dict) and shifts_spec:
        shifts = tuple(s for key, value in shifts_spec.items() for s in _shifts(key, value, f"{where}: shifts"))
    else:
        raise FormatError(f"{where}: shifts={shifts_spec!r} must map days to time ranges, e.g. {{ \"mon-fri\" = \"14:00-22:00\" }}")
    base = spec.get("base")
    if base is not None:
        if (not isinstance(base, list) or len(base) != 2 or not all(isinstance(v, int | float) for v in base)
                or not (-180 <= base[0] <= 180 and -90 <= base[1] <= 90)):
            raise FormatError(f"{where}: base={base!r} must be [lon, lat] in degrees, e.g. [-1.9035, 52.4781]")
        base = (float(base[0]), float(base[1]))
    return Unit(callsign=callsign, npu=npu, mode=mode, shifts=tuple(sorted(shifts, key=lambda s: (s.weekday, s.start_minute))),
                base=base)


def _shifts(key: str, value, where: str) -> list[Shift]:
    days = _days(key, where)
    ranges = value if isinstance(value, list) else [value]
    out = []
    for r in ranges:
        m = _TIME_RANGE.match(r) if isinstance(r, str) else None
        if m is None:
            raise FormatError(f"{where}[{key!r}]={r!r} is not a time range; use HH:MM-HH:MM, e.g. '14:00-22:00'")
        h0, m0, h1, m1 = map(int, m.groups())
        if h0 > 23 or m0 > 59 or h1 > 24 or m1 > 59 or (h1 == 24 and m1):
            raise FormatError(f"{where}[{key!r}]={r!r} has a clock time that does not exist; use 00:00 to 24:00")
        start, end = h0 * 60 + m0, h1 * 60 + m1
        if end <= start:  # runs past midnight
            end += 1440
        out += [Shift(d, start, end) for d in days]
    return out


def _days(key: str, where: str) -> list[int]:
    k = key.strip().lower()
    named = {"daily": list(range(7)), "weekdays": list(range(5)), "weekends": [5, 6]}
    if k in named:
        return named[k]
    parts = [p.strip()[:3] for p in k.split("-")]
    if len(parts) in (1, 2) and all(p in DAYS for p in parts):
        a, b = DAYS.index(parts[0]), DAYS.index(parts[-1])
        return [(a + i) % 7 for i in range((b - a) % 7 + 1)]
    raise FormatError(f"{where}: {key!r} is not a day or range of days; use mon..sun, 'mon-fri', daily, weekdays or weekends")


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormatError(f"{where}={value!r} must be a number")
    return float(value)


def _unique(names: list[str], what: str) -> None:
    seen = set()
    for n in names:
        if n in seen:
            raise FormatError(f"{what} {n!r} appears twice; each must be unique")
        seen.add(n)
