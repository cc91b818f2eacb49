"""The commander's weekly map: risk surface, hotspot geofences, last period's incidents, changes.

A force-wide map must stay small (under 3 MB) and open anywhere, so:

* the risk surface is one PNG image overlay of the top cells by score, rasterised in Web
  Mercator (the projection Leaflet draws in), not tens of thousands of polygons;
* the force outline and named-area boundaries are simplified to about 20 m;
* incidents are plain coordinates clustered in the browser (FastMarkerCluster);
* Leaflet is inlined (see :mod:`maps.offline`) and there are no map tiles unless asked for, so
  with no network the data still draws, on a plain background, with the boundaries for context.
"""

from __future__ import annotations

import html
from pathlib import Path

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement, Template
from folium.plugins import FastMarkerCluster
from pyproj import Transformer

from hotspots.core.errors import ValidationError
from hotspots.geo import cells as h3cells
from hotspots.places.selection import HotspotSet
from maps.offline import data_uri_png, make_offline

#: Yellow-orange-red ramp (ColorBrewer YlOrRd, 5 classes) for the risk surface.
_RAMP = np.array([[255, 255, 178], [254, 204, 92], [253, 141, 60], [240, 59, 32], [189, 0, 38]], float)
SURFACE_TOP_SHARE = 0.10  # the surface shows the top 10% of scored cells; the rest is noise at force scale
_OUTLINE_TOLERANCE_DEG = 0.0002  # about 20 m at UK latitudes
_POPUP_FIELDS = [("rank", "Rank"), ("hotspot_id", "Id"), ("name", "Name"), ("area_name", "Area"),
                 ("status", "Status"), ("incidents", "Incidents last period"), ("harm", "Harm (CCHI days)"),
                 ("knife_enabled", "Knife-enabled"), ("serious_youth_violence", "Serious youth violence"),
                 ("gi_hot_cells", "Gi* hot cells"), ("emerging_class", "Trend"), ("engagement", "Engagement plan")]


def surface_image(scores: pd.Series, cells: np.ndarray, bounds: tuple[float, float, float, float],
                  resolution: int, max_pixels: int = 900) -> tuple[str, list[list[float]]]:
    """Rasterise the top cells' scores into a PNG data URI over ``bounds`` (lon0, lat0, lon1, lat1).

    Pixels are square in Web Mercator, at most ``max_pixels`` along the longer side; a pixel
    takes the score of the cell its centre falls in. Colour is the score's rank among the shown
    cells (quantile colouring: a few extreme cells do not wash out the rest); others are clear.

    Parameters
    ----------
    scores : score per cell, indexed by H3 hex string. cells : uint64 cells shown.
    bounds : (lon0, lat0, lon1, lat1), WGS84 degrees. resolution : H3 resolution of ``cells``.
    max_pixels : pixels along the longer side.

    Returns
    -------
    (str, list)
        The data URI, and the image's [[lat0, lon0], [lat1, lon1]] bounds for Leaflet.
    """
    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    x0, y0 = to_merc.transform(bounds[0], bounds[1])
    x1, y1 = to_merc.transform(bounds[2], bounds[3])
    step = max(x1 - x0, y1 - y0) / max_pixels
    width, height = max(int(np.ceil((x1 - x0) / step)), 1), max(int(np.ceil((y1 - y0) / step)), 1)
    xs = x0 + (np.arange(width) + 0.5) * step
    ys = y1 - (np.arange(height) + 0.5) * step  # row 0 is the north edge
    gx, gy = np.meshgrid(xs, ys)
    lon, lat = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True).transform(gx.ravel(), gy.ravel())
    pixel_cells = h3cells.points_to_cells(np.asarray(lon), np.asarray(lat), resolution)
    cells = np.asarray(cells, dtype=np.uint64)
    values = scores.groupby(level=0).sum().reindex(h3cells.to_strings(cells), fill_value=0.0).to_numpy(float)
    positive = np.sort(values[values > 0])
    rgba = np.zeros((pixel_cells.size, 4), np.uint8)
    if positive.size and cells.size:
        cut = positive[int((1 - SURFACE_TOP_SHARE) * (positive.size - 1))]
        pos = np.searchsorted(cells, pixel_cells).clip(max=cells.size - 1)
        v = np.where(cells[pos] == pixel_cells, values[pos], 0.0)
        shown = v >= max(cut, np.finfo(float).tiny)
        shown_values = positive[positive >= cut]
        q = np.searchsorted(shown_values, v[shown], side="right") / max(shown_values.size, 1)
        idx = q * (len(_RAMP) - 1)
        lo = np.floor(idx).astype(int).clip(0, len(_RAMP) - 2)
        frac = (idx - lo)[:, None]
        rgba[shown, :3] = (_RAMP[lo] * (1 - frac) + _RAMP[lo + 1] * frac).round().astype(np.uint8)
        rgba[shown, 3] = (110 + 120 * q).astype(np.uint8)
    image = rgba.reshape(height, width, 4)
    to_wgs = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    lon_a, lat_a = to_wgs.transform(x0, y1 - height * step)
    lon_b, lat_b = to_wgs.transform(x0 + width * step, y1)
    return data_uri_png(image), [[lat_a, lon_a], [lat_b, lon_b]]


def _hotspot_layer(frame: pd.DataFrame, name: str, colour: str, dash: str | None, show: bool = True) -> folium.GeoJson:
    fields = [f for f, _ in _POPUP_FIELDS if f in frame.columns]
    aliases = [a for f, a in _POPUP_FIELDS if f in frame.columns]
    table = frame[fields].astype(object).where(frame[fields].notna(), "-")
    for col in ("incidents", "harm", "knife_enabled", "serious_youth_violence"):
        if col in table.columns:
            table[col] = [v if v == "-" else f"{float(v):,.1f}" for v in table[col]]
    # Folium's tooltips and popups insert properties as HTML: text from the data (hotspot names come
    # from street and ward names in the incident files) is escaped here, so it shows as text.
    features = [{"type": "Feature", "geometry": shapely.geometry.mapping(g),
                 "properties": {k: (html.escape(str(v)) if not isinstance(v, int | float) else v)
                                for k, v in row.items()}}
                for g, row in zip(frame["geofence"], table.to_dict("records"), strict=True)]
    style = {"color": colour, "weight": 2.5, "fillOpacity": 0.08, "fillColor": colour}
    if dash:
        style["dashArray"] = dash
    return folium.GeoJson(
        {"type": "FeatureCollection", "features": features}, name=name, show=show,
        style_function=lambda _f, s=style: s,
        tooltip=folium.GeoJsonTooltip(fields=["rank", "name"], aliases=["Rank", ""]) if features else None,
        popup=folium.GeoJsonPopup(fields=fields, aliases=aliases, localize=True) if features else None,
    )


def _outline_layer(geometries, names, name: str, colour: str, weight: float, show: bool = True) -> folium.GeoJson:
    features = [{"type": "Feature", "properties": {"name": html.escape(str(n))},
                 "geometry": shapely.geometry.mapping(shapely.simplify(g, _OUTLINE_TOLERANCE_DEG, preserve_topology=True))}
                for g, n in zip(geometries, names, strict=True)]
    return folium.GeoJson({"type": "FeatureCollection", "features": features}, name=name, show=show,
                          style_function=lambda _f: {"color": colour, "weight": weight, "fill": False},
                          tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False) if len(features) > 1 else None)


_LEGEND = """{% macro html(this, kwargs) %}
<div style="position: fixed; bottom: 44px; left: 12px; z-index: 9999; background: white; padding: 8px 10px;
  border: 1px solid #999; border-radius: 4px; font: 12px/1.4 sans-serif; max-width: 300px;">
<b>{{ this.title }}</b><br>{{ this.subtitle }}<br>
<span style="display:inline-block;width:60px;height:10px;background:linear-gradient(to right,
 rgb(255,255,178),rgb(254,204,92),rgb(253,141,60),rgb(240,59,32),rgb(189,0,38));"></span>
 risk surface, top {{ this.top }} of cells (darker = higher)<br>
<span style="border:2px solid #08306b;padding:0 8px;"></span> hotspot geofence
<span style="border:2px dashed #6a00a8;padding:0 8px;margin-left:6px;"></span> new this period<br>
<span style="border:2px dashed #777;padding:0 8px;"></span> dropped since last period
<span style="display:inline-block;width:9px;height:9px;border-radius:50%;background:#222;margin-left:6px;"></span>
 incidents last period
</div>
{% endmacro %}"""


class _Legend(MacroElement):
    def __init__(self, title: str, subtitle: str):
        super().__init__()
        self._template = Template(_LEGEND)
        self.title, self.subtitle, self.top = html.escape(title), html.escape(subtitle), f"{SURFACE_TOP_SHARE:.0%}"


def weekly_map(hs: HotspotSet, *, region: shapely.Geometry, resolution: int, scores: pd.Series | None = None,
               incidents: pd.DataFrame | None = None, previous: HotspotSet | None = None,
               engagement: pd.DataFrame | None = None, areas=None, npu: str | None = None,
               title: str = "Hotspots", subtitle: str = "", tiles: str | None = None) -> str:
    """Render the weekly map as one self-contained HTML page.

    Parameters
    ----------
    hs : the period's hotspot set (measures and emerging class shown where present).
    region : the force area (WGS84), drawn as the outline and bounding the surface.
    resolution : H3 resolution of the scored cells.
    scores : score per cell (hex index) for the risk surface; None leaves it out.
    incidents : last period's incidents (lon, lat, offence) to cluster; None leaves them out.
    previous : last period's set: its hotspots not in this one are drawn as dropped.
    engagement : current engagement plans (hotspot_id, status, next_review, optional flag) for the
        popups; a hotspot with no plan may still have a row carrying its flag.
    areas : NamedAreas (NPUs or wards) drawn as context; with ``npu``, the map is that area's.
    npu : the NPU whose map this is (with ``areas``); None for the force.
    title, subtitle : the page's heading.
    tiles : a Folium tile name (e.g. "OpenStreetMap") for when there is a network; default none.

    Returns
    -------
    str
        The HTML page, with every script and style inlined (it opens offline).
    """
    frame = hs.hotspots.copy()
    if engagement is not None and len(engagement):
        plans = engagement.set_index("hotspot_id")
        frame["engagement"] = [f"{plans.at[h, 'status']}" + (f", review {plans.at[h, 'next_review']}"
                               if pd.notna(plans.at[h, "next_review"]) else "") if h in plans.index
                               else "none recorded" for h in frame["hotspot_id"]]
    else:
        frame["engagement"] = "none recorded"
    if engagement is not None and "flag" in engagement.columns:
        flags = engagement.set_index("hotspot_id")["flag"]
        frame["engagement"] = [text + (f" ⚠ {flags.get(h)}" if flags.get(h) else "")
                               for h, text in zip(frame["hotspot_id"], frame["engagement"], strict=True)]
    dropped = previous.hotspots[previous.hotspots["hotspot_id"].isin(hs.dropped)] if previous is not None else None
    if npu is not None:
        if areas is None or npu not in areas.names:
            known = ", ".join(areas.names) if areas is not None else "none (give a boundary file of NPUs)"
            raise ValidationError(f"npu={npu!r} is not an area of the map; areas are: {known}", arguments="npu")
        region = shapely.intersection(region, shapely.union_all(areas.frame.loc[
            areas.frame[areas.name_field].astype(str) == npu, "geometry"].values))
        # By where the hotspot is, not by its stored area: the set may have been drawn with other areas.
        frame = frame[shapely.contains_xy(region, frame["centroid_lon"].to_numpy(), frame["centroid_lat"].to_numpy())]
        if dropped is not None:
            dropped = dropped[shapely.contains_xy(region, dropped["centroid_lon"].to_numpy(),
                                                  dropped["centroid_lat"].to_numpy())]
        if incidents is not None and len(incidents):
            incidents = incidents[shapely.contains_xy(region, incidents["lon"].to_numpy(), incidents["lat"].to_numpy())]
    lon0, lat0, lon1, lat1 = shapely.bounds(region)
    m = folium.Map(location=[(lat0 + lat1) / 2, (lon0 + lon1) / 2], tiles=tiles, control_scale=True,
                   zoom_start=11, prefer_canvas=True, max_zoom=19, min_zoom=7,
                   **{"maxZoom": 19, "minZoom": 7})  # without tiles, Leaflet (and clustering) needs them on the map
    m.get_root().header.add_child(folium.Element("<style>.leaflet-container{background:#f4f1ea;}</style>"))
    if scores is not None:
        cells = np.unique(h3cells.from_strings(scores.index[scores.to_numpy() > 0]))
        if npu is not None:
            cells = np.intersect1d(cells, h3cells.region_to_cells(region, resolution))
        uri, bounds = surface_image(scores, cells, (lon0, lat0, lon1, lat1), resolution)
        folium.raster_layers.ImageOverlay(uri, bounds=bounds, name="Risk surface", opacity=0.85,
                                          pixelated=True, interactive=False).add_to(m)
    _outline_layer([region], [npu or "force area"], "Force area" if npu is None else npu, "#333", 1.5).add_to(m)
    if areas is not None:
        _outline_layer(list(areas.frame.geometry), areas.names, "Named areas", "#888", 0.8).add_to(m)
    if dropped is not None and len(dropped):
        _hotspot_layer(dropped.assign(status="dropped"), f"Dropped since last period ({len(dropped)})", "#777",
                       "6 4").add_to(m)
    continuing = frame[frame["status"] != "new"]
    new = frame[frame["status"] == "new"]
    _hotspot_layer(continuing, f"Hotspots ({len(continuing)})", "#08306b", None).add_to(m)
    if len(new):
        _hotspot_layer(new, f"New this period ({len(new)})", "#6a00a8", "6 4").add_to(m)
    if incidents is not None and len(incidents):
        points = np.column_stack([incidents["lat"].to_numpy(float).round(5), incidents["lon"].to_numpy(float).round(5)])
        callback = ("function (row) { return L.circleMarker(new L.LatLng(row[0], row[1]), "
                    "{radius: 4, color: '#222', weight: 1, fillOpacity: 0.7}); }")
        FastMarkerCluster(points.tolist(), callback=callback, name=f"Incidents last period ({len(points)})",
                          show=False).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    _Legend(title, subtitle).add_to(m)
    m.fit_bounds([[lat0, lon0], [lat1, lon1]])
    return make_offline(m.get_root().render())


def write_map(page: str, path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValidationError(f"out={str(path)!r}: a map is an HTML page; give a path ending .html", arguments="out")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
