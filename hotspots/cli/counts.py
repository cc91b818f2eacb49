"""``hotspots select-counts``: a month's hotspots from crime counted per area (police.uk counts per LSOA)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

import shapely
import typer

from hotspots.cli._common import DbOption, app, open_store_at, out
from hotspots.cli.weekly import print_coverage, print_flag_line, print_set, selection_stop_line
from hotspots.core.config import SHIPPED_DATA
from hotspots.core.errors import FormatError, ValidationError
from hotspots.core.validate import check_choice, check_file
from hotspots.geo.areas import Area, NamedAreas
from hotspots.places.evidence import DEFAULT_FDR, DEFAULT_FLOOR_RULE, DEFAULT_MIN_EXPECTED, FLOOR_RULES
from hotspots.places.exports import FORMATS, write_hotspots
from hotspots.places.selection import DEFAULT_AREA_SHARE, DEFAULT_MAX_HOTSPOTS
from hotspots.services.counts import CountSelection, select_from_counts
from hotspots.services.engagement import hotspot_flags
from hotspots.services.weekly import load_set, set_map_page
from maps import write_map

SHIPPED_COUNTS = SHIPPED_DATA / "counts" / "west_midlands_lsoa_month_counts.csv.gz"
SHIPPED_LSOAS = SHIPPED_DATA / "boundaries" / "west_midlands_lsoa21.geojson.gz"
SHIPPED_DISTRICTS = SHIPPED_DATA / "boundaries" / "west_midlands_districts.geojson.gz"
SHIPPED_WARDS = SHIPPED_DATA / "boundaries" / "west_midlands_wards_2025.geojson.gz"
SCORED = "Violence and sexual offences,Robbery"


def incomplete_of(path: Path | None) -> dict[str, str]:
    """Months a TOML file (``[incomplete] "YYYY-MM" = "why"``) names as incomplete."""
    if path is None:
        return {}
    try:
        table = tomllib.loads(check_file(path, "--incomplete").read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"--incomplete {path.name}: not valid TOML ({exc})") from None
    return {str(k): str(v) for k, v in table.get("incomplete", {}).items()}


@app.command("select-counts")
def select_counts(
    counts: Annotated[Path, typer.Option(help="Counts table: area code, category, month (or year and month), count.")] = SHIPPED_COUNTS,
    areas: Annotated[Path, typer.Option(help="Boundary file of the areas the counts name (LSOAs).")] = SHIPPED_LSOAS,
    code_field: Annotated[str | None, typer.Option(help="Column of --areas holding the codes (default: found from the counts).")] = None,
    incomplete: Annotated[Path | None, typer.Option(help="TOML naming months the source calls incomplete ([incomplete] \"YYYY-MM\" = \"why\").")] = None,
    categories: Annotated[str, typer.Option(help="Comma-separated police.uk categories scored.")] = SCORED,
    month: Annotated[str, typer.Option("--for", help="Month to select for, YYYY-MM (default: the month after the last complete one).")] = "",
    districts: Annotated[Path, typer.Option(help="Boundary file of the areas that get quotas and rosters (districts, NPUs).")] = SHIPPED_DISTRICTS,
    district_field: Annotated[str | None, typer.Option(help="Column of --districts naming each one.")] = "LAD_name",
    district_min: Annotated[int, typer.Option(help="At least this many hotspots in every district where the evidence allows.")] = 1,
    area_share: Annotated[float, typer.Option(help="Most of the area the hotspots may cover (0.014 = 1.4%).")] = DEFAULT_AREA_SHARE,
    max_hotspots: Annotated[int, typer.Option(help="Most hotspots.")] = DEFAULT_MAX_HOTSPOTS,
    evidence: Annotated[str, typer.Option(help="Evidence floor: gistar, expected or none.")] = DEFAULT_FLOOR_RULE,
    fdr: Annotated[float, typer.Option(help="False discovery rate of the gistar floor.")] = DEFAULT_FDR,
    min_expected: Annotated[float, typer.Option(help="Least expected crimes a month of the expected floor.")] = DEFAULT_MIN_EXPECTED,
    out_paths: Annotated[list[Path] | None, typer.Option("--out", help="Write the set: .geojson, .gpkg, .kml or .csv (repeatable).")] = None,
    map_path: Annotated[Path | None, typer.Option("--map", help="Write the map (.html).")] = None,
    db: DbOption = "",
):
    """Select a month's hotspots from crime counted per area (police.uk counts per LSOA); store, print and map the set."""
    check_choice(evidence, FLOOR_RULES, "--evidence")
    for p in out_paths or []:
        if p.suffix.lower() not in FORMATS:
            raise ValidationError(f"--out={str(p)!r}: write one of {', '.join(FORMATS)}")
    if map_path is not None and map_path.suffix.lower() != ".html":
        raise ValidationError(f"--map={str(map_path)!r}: a map is an HTML page; give a path ending .html")
    named_incomplete = incomplete_of(incomplete if incomplete or counts != SHIPPED_COUNTS
                                     else SHIPPED_COUNTS.with_name(SHIPPED_COUNTS.name.removesuffix(".csv.gz") + ".toml"))
    district_areas = NamedAreas.from_file(districts, district_field)
    wards = NamedAreas.from_file(SHIPPED_WARDS, "WD25NM") if areas == SHIPPED_LSOAS else None
    store = open_store_at(db)
    chosen = select_from_counts(
        store, counts, areas, districts=district_areas, categories=[c.strip() for c in categories.split(",") if c.strip()],
        month=month or None, code_field=code_field, incomplete_months=named_incomplete, names=wards,
        area_share=area_share, max_hotspots=max_hotspots, district_min=district_min or None, evidence=evidence,
        fdr=fdr, min_expected=min_expected)
    print_count_selection(chosen)
    hs = chosen.result.hotspot_set
    print_flag_line(hotspot_flags(store, hs.hotspots["hotspot_id"]))
    for p in out_paths or []:
        out.print(f"hotspot set written to {write_hotspots(hs, p)}")
    if map_path is not None:
        region = Area(shapely.union_all(district_areas.frame.geometry.to_numpy()), name=districts.name)
        page = set_map_page(store, load_set(store, chosen.set_id), region, areas=district_areas)
        path = write_map(page, map_path)
        out.print(f"map ({path.stat().st_size / 1e6:.2f} MB) written to {path}")


def print_count_selection(chosen: CountSelection) -> None:
    """The set, its coverage, why selection stopped, and what the counts could and could not give."""
    result, counts = chosen.result, chosen.counts
    hs = result.hotspot_set
    for month, why in sorted(counts.incomplete.items()):
        out.print(f"{month} set aside: {why}", highlight=False, soft_wrap=True)
    out.print(f"Placement: {counts.rule}", highlight=False, soft_wrap=True)
    print_set(hs, f"Hotspots for {result.month} (set {chosen.set_id}, scored by {result.score_source})")
    print_coverage(result.coverage, f"Coverage of {result.last_month}, the last month before it")
    out.print(result.sentence, highlight=False, soft_wrap=True)
    out.print(selection_stop_line(hs), highlight=False, soft_wrap=True)
    per_district = hs.hotspots["area_name"].value_counts()
    out.print("hotspots per district: " + ", ".join(f"{k} {v}" for k, v in per_district.items()), highlight=False)
    if hs.dropped:
        out.print(f"dropped since last month: {', '.join(hs.dropped)}", highlight=False)
