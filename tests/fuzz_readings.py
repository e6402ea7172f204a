"""Hypothesis strategies for readings aimed at the store layer: extreme ints and floats, long
strings, odd Unicode. Shared by the SQLite and the InfluxDB write-path fuzz tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from opsroom.families import FAMILIES
from opsroom.telemetry import Payload, Reading

T0 = datetime(2026, 7, 4, 18, 0, tzinfo=UTC)
# every example gets its own timestamp, so that it is the newest point of its series
_tick = itertools.count(1)

EXTREME_INTS = st.one_of(
    st.sampled_from(
        [
            0,
            -1,
            2**31,
            2**53 + 1,
            2**63 - 1,
            -(2**63),
            2**63,
            -(2**63) - 1,
            2**64 - 1,
            2**64,  # the poison reading of issue 11
            10**30,
            -(10**30),
            2**10000,  # 3,011 digits: too many for a message
        ]
    ),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-1000, max_value=1000),
)
EXTREME_FLOATS = st.one_of(
    st.sampled_from(
        [
            0.0,
            -0.0,
            5e-324,
            2.2250738585072014e-308,
            1.7976931348623157e308,
            -1.7976931348623157e308,
            2.0**63,
            2.0**64,
            1e20,
            -1.5e-7,
            float("nan"),
            float("inf"),
            float("-inf"),
        ]
    ),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
)
VALUES = st.one_of(EXTREME_INTS, EXTREME_FLOATS, st.booleans())

ODD_TEXT = st.one_of(
    st.sampled_from(
        [
            "x",
            "zone-1",
            "",
            " ",
            "a b,c=d",
            '"quoted"',
            "back\\slash",
            "trailing\\",
            "nul\x00byte",
            "new\nline",
            "tab\there",
            "del\x7f",
            "\ud800lone surrogate",
            "kühlraum 3",
            "冷藏库",
            "\u202eright-to-left",
            "line\u2028separator",
            "\ufeffbom",
            "\U0001f9ca ice",
            "\u0085nel",
            "_underscore",
            "#hash",
            "time",
            "drill",
            "sensor_id",
        ]
    ),
    st.text(max_size=30),
    st.text(st.characters(blacklist_categories=()), max_size=10),  # with surrogates
    # long: 2 kB to 70 kB, around InfluxDB's 64 KiB key limit
    st.builds(
        lambda c, n: c * n, st.sampled_from(["a", "é", "冷", "\U0001f9ca"]), st.integers(1, 70_000)
    ),
)
FIELD_NAMES = st.one_of(
    st.sampled_from(
        sorted(
            {
                info.alias or name
                for family in FAMILIES.values()
                for name, info in family.model.model_fields.items()
                if name not in Payload.common_fields
            }
        )
    ),
    ODD_TEXT,
)


@st.composite
def readings(draw: st.DrawFn) -> Reading:
    """One reading with a timestamp no other example has."""
    kind = draw(st.one_of(st.sampled_from(sorted(FAMILIES)), ODD_TEXT))
    sensor_id = draw(ODD_TEXT)
    values = draw(st.dictionaries(FIELD_NAMES, VALUES, max_size=4))
    ts = T0 + timedelta(microseconds=next(_tick))
    return Reading(kind, sensor_id, ts, values, draw(st.booleans()))
