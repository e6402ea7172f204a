"""The venue map draws offline by default and over web tiles only when configured."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard import charts
from tests.dashboard import data


def test_the_map_is_plain_scatter_with_no_tiles_by_default() -> None:
    venue = data.venue()
    fig = charts.VenueMap(venue).zones().gates().routes().figure()
    assert fig.data and all(isinstance(t, go.Scatter) for t in fig.data)
    assert not fig.layout.map.layers and fig.layout.map.style is None
    # every zone polygon is closed and every route drawn with its stops
    names = {t.name for t in fig.data}
    assert {"Main Arena", "Town shuttle", "Stops: Car park loop", "Gates"} <= names
    assert fig.layout.yaxis.scaleanchor == "x"


def test_web_tiles_are_an_optional_backdrop() -> None:
    url = "https://tile.example.org/{z}/{x}/{y}.png"
    fig = charts.VenueMap(data.venue(), url).zones().routes().figure()
    assert all(isinstance(t, go.Scattermap) for t in fig.data)
    assert fig.layout.map.style == "white-bg" and fig.layout.map.layers[0].source == (url,)


def test_vehicles_are_marked_when_stopped_or_off_route() -> None:
    buses = pd.DataFrame(
        {
            "name": ["A", "B"],
            "lat": [52.07, 52.08],
            "lon": [-1.0, -1.01],
            "speed_kmh": [0.0, 20.0],
            "passengers": [3.0, None],
            "off_route": [True, False],
            "stopped": [True, False],
            "status": ["warning", "ok"],
        }
    )
    fig = charts.VenueMap(data.venue()).vehicles(buses).figure()
    (trace,) = fig.data
    assert list(trace.text) == ["A OFF ROUTE, STOPPED", "B"]
    assert list(trace.marker.symbol) == ["x", "circle"]
