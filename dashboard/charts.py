"""Plotly figures: the venue map drawn from the venue file, and time series with limit bands.

A little over 400 lines: the venue map (every family draws its layer on it) and the time
series share their colours, bands and axes here.

The map is plain SVG scatter on longitude/latitude with the aspect fixed for the latitude,
so it needs no tile server, no WebGL and no internet. With a tile URL it becomes a
MapLibre map with those tiles under the same layers.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence

import pandas as pd
import plotly.graph_objects as go

from dashboard import lang
from dashboard.lang import N_, _, display_name
from opsroom.venue import Venue

COLOURS = {
    "ok": "#1a9e4b",
    "nodata": "#8a8f98",
    "stale": "#c98a00",
    "warning": "#f0a000",
    "critical": "#d62728",
}
# a shaded band (low or None, high or None, colour) and a level line (value, colour, label)
Band = tuple[float | None, float | None, str]
Line = tuple[float, str, str]
UIREVISION = "keep"  # keeps the user's zoom and legend choices across refreshes


class VenueMap:
    """Layers of a venue map, drawn as plain scatter (offline) or over web tiles."""

    def __init__(self, venue: Venue, tiles: str | None = None) -> None:
        self.venue = venue
        self.tiles = tiles
        self.traces: list[go.Scatter | go.Scattermap] = []
        self._points: list[tuple[float, float]] = []

    def _trace(self, **kw: object) -> go.Scatter | go.Scattermap:
        lat, lon = kw.pop("lat"), kw.pop("lon")
        self._points += [
            (a, b)
            for a, b in zip(lat, lon, strict=True)  # type: ignore[call-overload]
            if a is not None
        ]
        if self.tiles:
            kw.pop("fill", None)
            return go.Scattermap(lat=lat, lon=lon, **kw)
        return go.Scatter(x=lon, y=lat, **kw)

    def zones(
        self,
        colours: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        names: bool = True,
    ) -> VenueMap:
        """Zone polygons, filled by status colour (grey without one), named unless `names` off."""
        for z in self.venue.zones:
            if not z.polygon:
                continue
            ring = [*z.polygon, z.polygon[0]]
            colour = (colours or {}).get(z.id, COLOURS["nodata"])
            label = (labels or {}).get(z.id, "")
            self.traces.append(
                self._trace(
                    lat=[p[0] for p in ring],
                    lon=[p[1] for p in ring],
                    mode="lines",
                    fill="toself",
                    fillcolor=_alpha(colour, 0.35),
                    line={"color": colour, "width": 2},
                    name=display_name(z),
                    hoverinfo="text",
                    text=f"{display_name(z)}<br>{label}",
                    showlegend=False,
                )
            )
        labelled = [z for z in self.venue.zones if z.location and names]
        if labelled:
            self.traces.append(
                self._trace(
                    lat=[z.location[0] for z in labelled if z.location],
                    lon=[z.location[1] for z in labelled if z.location],
                    mode="text",
                    text=[f"{display_name(z)}<br>{(labels or {}).get(z.id, '')}" for z in labelled],
                    textfont={"size": 11, "color": "#222"},
                    hoverinfo="skip",
                    showlegend=False,
                )
            )
        return self

    def gates(self) -> VenueMap:
        """Gates as squares."""
        gates = [g for g in self.venue.gates if g.location]
        if gates:
            self.traces.append(
                self._trace(
                    lat=[g.location[0] for g in gates if g.location],
                    lon=[g.location[1] for g in gates if g.location],
                    mode="markers",
                    marker={"size": 9, "color": "#444", "symbol": "square"},
                    name=_("Gates"),
                    text=[display_name(g) for g in gates],
                    hoverinfo="text",
                )
            )
        return self

    def routes(self) -> VenueMap:
        """Route lines and their stops."""
        palette = ["#1f77b4", "#9467bd", "#17becf", "#8c564b", "#e377c2"]
        for i, r in enumerate(self.venue.routes):
            line = r.geometry()
            colour = palette[i % len(palette)]
            self.traces.append(
                self._trace(
                    lat=[p[0] for p in line],
                    lon=[p[1] for p in line],
                    mode="lines",
                    line={"color": colour, "width": 3},
                    name=display_name(r),
                    hoverinfo="name",
                )
            )
            self.traces.append(
                self._trace(
                    lat=[s.lat for s in r.stops],
                    lon=[s.lon for s in r.stops],
                    mode="markers",
                    marker={"size": 10, "color": "white", "line": {"color": colour, "width": 2}}
                    if not self.tiles
                    else {"size": 10, "color": colour},
                    name=_("Stops: {route}", route=display_name(r)),
                    text=[display_name(s) for s in r.stops],
                    hoverinfo="text",
                )
            )
        return self

    def vehicles(self, shuttles: pd.DataFrame) -> VenueMap:
        """Shuttles by status; stopped and off-route ones marked with an X and a label."""
        shown = shuttles.dropna(subset=["lat", "lon"]) if len(shuttles) else shuttles
        if not len(shown):
            return self
        flag = [
            flags(off, stop) for off, stop in zip(shown["off_route"], shown["stopped"], strict=True)
        ]
        self.traces.append(
            self._trace(
                lat=list(shown["lat"]),
                lon=list(shown["lon"]),
                mode="markers+text",
                marker={
                    "size": 16,
                    "color": [COLOURS.get(s, "#444") for s in shown["status"]],
                    "symbol": ["x" if f else "circle" for f in flag] if not self.tiles else None,
                    "line": {"color": "#000", "width": 1} if not self.tiles else None,
                },
                text=[f"{n} {f}".strip() for n, f in zip(shown["name"], flag, strict=True)],
                textposition="top center",
                name=_("Shuttles"),
                hovertext=[
                    f"{n}: {s:.0f} km/h, {'?' if pd.isna(p) else f'{p:.0f}'} aboard"
                    for n, s, p in zip(
                        shown["name"], shown["speed_kmh"], shown["passengers"], strict=True
                    )
                ],
                hoverinfo="text",
            )
        )
        return self

    def points(self, entities: pd.DataFrame, name: str, symbol: str = "circle") -> VenueMap:
        """Entities as markers coloured by status: a frame with name, lat, lon, status and
        optionally `hover` (the name otherwise); rows without a position are left out."""
        shown = entities.dropna(subset=["lat", "lon"]) if len(entities) else entities
        if not len(shown):
            return self
        hover = shown["hover"] if "hover" in shown.columns else shown["name"]
        self.traces.append(
            self._trace(
                lat=list(shown["lat"]),
                lon=list(shown["lon"]),
                mode="markers",
                marker={
                    "size": 12,
                    "color": [COLOURS.get(s, COLOURS["nodata"]) for s in shown["status"]],
                    "symbol": symbol if not self.tiles else None,
                    "line": {"color": "#000", "width": 1} if not self.tiles else None,
                },
                name=name,
                text=list(hover),
                hoverinfo="text",
            )
        )
        return self

    def figure(self, height: int = 520) -> go.Figure:
        """The figure, framed on everything drawn."""
        fig = go.Figure(self.traces)
        lats = [p[0] for p in self._points] or [0.0]
        lons = [p[1] for p in self._points] or [0.0]
        lat0 = (min(lats) + max(lats)) / 2
        common = {
            "height": height,
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "uirevision": UIREVISION,
            "legend": {
                "orientation": "h",
                "y": 0.01,
                "x": 0.01,
                "bgcolor": "rgba(255,255,255,0.7)",
            },
            "paper_bgcolor": "white",
            "plot_bgcolor": "#f4f6f2",
        }
        if self.tiles:
            span = max(
                max(lats) - min(lats), (max(lons) - min(lons)) * math.cos(math.radians(lat0))
            )
            zoom = max(1.0, min(18.0, math.log2(360 / max(span, 1e-4)) - 1.2))
            fig.update_layout(
                map={
                    "style": "white-bg",
                    "center": {"lat": lat0, "lon": (min(lons) + max(lons)) / 2},
                    "zoom": zoom,
                    "layers": [{"below": "traces", "sourcetype": "raster", "source": [self.tiles]}],
                },
                **common,
            )
            return fig
        fig.update_layout(**common)
        fig.update_xaxes(visible=False)
        # one metre east is as long on screen as one metre north
        fig.update_yaxes(
            visible=False, scaleanchor="x", scaleratio=1 / math.cos(math.radians(lat0))
        )
        return fig


def flags(off_route: bool, stopped: bool) -> str:
    """'OFF ROUTE', 'STOPPED', both, or ''."""
    return ", ".join(
        _(f) for f, on in ((N_("OFF ROUTE"), off_route), (N_("STOPPED"), stopped)) if on
    )


def _alpha(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


_FIGURES: OrderedDict[Hashable, go.Figure] = OrderedDict()
_FIGURES_LOCK = threading.Lock()
_FIGURES_MAX = 64


def _fingerprint(frame: pd.DataFrame) -> str:
    """A digest of a frame's columns and values (row order included)."""
    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.blake2b(rows.tobytes() + str(list(frame.columns)).encode()).hexdigest()


def series_chart(
    frame: pd.DataFrame,
    names: dict[str, str],
    title: str,
    unit: str,
    bands: Sequence[Band] = (),
    lines: Sequence[Line] = (),
    timezone: str = "UTC",
    height: int = 300,
) -> go.Figure:
    """A line per sensor; `bands` shade out-of-limit areas (low, high, colour), `lines` mark levels.

    A band (None, x) shades everything below x; (x, None) everything above x. The figure is
    built once for the same inputs and shared by every screen showing them (building it is
    most of a refresh's work): callers hand it to st.plotly_chart and do not change it.
    """
    key = (
        _fingerprint(frame),
        tuple(sorted(names.items())),
        title,
        unit,
        tuple(bands),
        tuple(lines),
        timezone,
        height,
        lang.locale(),  # the time axis's format
    )
    with _FIGURES_LOCK:
        fig = _FIGURES.get(key)
        if fig is not None:
            _FIGURES.move_to_end(key)
            return fig
    fig = _series_figure(frame, names, title, unit, bands, lines, timezone, height)
    with _FIGURES_LOCK:
        _FIGURES[key] = fig
        while len(_FIGURES) > _FIGURES_MAX:
            _FIGURES.popitem(last=False)
    return fig


def _series_figure(
    frame: pd.DataFrame,
    names: dict[str, str],
    title: str,
    unit: str,
    bands: Sequence[Band] = (),
    lines: Sequence[Line] = (),
    timezone: str = "UTC",
    height: int = 300,
) -> go.Figure:
    traces = []
    if len(frame):
        local = frame.assign(ts=frame["ts"].dt.tz_convert(timezone))
        for sid, part in local.groupby("sensor_id", sort=True):
            traces.append(
                {
                    "type": "scatter",
                    "x": part["ts"],
                    "y": part["value"],
                    "mode": "lines",
                    "name": names.get(str(sid), str(sid)),
                    "line": {"width": 1.8},
                }
            )
    values = list(frame["value"]) if len(frame) else []
    limits_seen = [v for b in bands for v in b[:2] if v is not None] + [v for v, _, _ in lines]
    lo = min(values + limits_seen) if values or limits_seen else 0.0
    hi = max(values + limits_seen) if values or limits_seen else 1.0
    pad = (hi - lo) * 0.1 or 1.0
    # shapes and labels given to the layout at once: add_hrect/add_hline validate the figure
    # on every call and were half of a page's refresh time (bench/sessions.py)
    span = {"xref": "x domain", "x0": 0, "x1": 1, "yref": "y"}
    shapes = [
        {
            **span,
            "type": "rect",
            "y0": low if low is not None else lo - pad * 10,
            "y1": high if high is not None else hi + pad * 10,
            "fillcolor": colour,
            "opacity": 0.12,
            "line": {"width": 0},
            "layer": "below",
        }
        for low, high, colour in bands
    ] + [
        {
            **span,
            "type": "line",
            "y0": value,
            "y1": value,
            "line": {"color": colour, "dash": "dash", "width": 1.5},
        }
        for value, colour, _ in lines
    ]
    labels = [
        {
            "xref": "x domain",
            "x": 0,
            "yref": "y",
            "y": value,
            "text": label,
            "showarrow": False,
            "xanchor": "left",
            "yanchor": "bottom",
        }
        for value, _, label in lines
    ]
    layout = {
        "title": {"text": title, "font": {"size": 15}},
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "yaxis": {"title": unit, "range": [lo - pad, hi + pad]},
        "xaxis": lang.time_axis(),
        "uirevision": UIREVISION,
        "legend": {"orientation": "h", "y": -0.2},
        "shapes": shapes,
        "annotations": labels,
    }
    return go.Figure(data=traces, layout=layout)


def bar_chart(
    labels: Sequence[str], values: Sequence[float], colours: Sequence[str], title: str, unit: str
) -> go.Figure:
    """Horizontal bars, one per entity, coloured by status."""
    fig = go.Figure(
        go.Bar(
            y=list(labels),
            x=list(values),
            orientation="h",
            marker={"color": list(colours)},
            text=[f"{v:.0f}" for v in values],
            textposition="auto",
        )
    )
    fig.update_layout(
        title={"text": title, "font": {"size": 15}},
        height=max(220, 40 * len(labels) + 80),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"title": unit},
        yaxis={"autorange": "reversed"},
        uirevision=UIREVISION,
    )
    return fig
