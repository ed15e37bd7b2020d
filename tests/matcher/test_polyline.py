"""Encoded polylines: the format's published example, exact round trips at OSM resolution, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.plan import Leg
from matcher.polyline import decode, encode, encode_many

# The example of Google's format description: (38.5, -120.2), (40.7, -120.95), (43.252, -126.453) at 1e-5.
GOOGLE_POINTS = [(-120.2, 38.5), (-120.95, 40.7), (-126.453, 43.252)]
GOOGLE_TEXT = "_p~iF~ps|U_ulLnnqC_mqNvxq`@"


def _osm_points(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random (lon, lat) positions at OSM's 1e-7 degree resolution, as the map loader makes them."""
    lon = rng.integers(-1_800_000_000, 1_800_000_000, n) / 1e7
    lat = rng.integers(-900_000_000, 900_000_000, n) / 1e7
    return np.column_stack((lon, lat))


def test_published_example_encodes_and_decodes() -> None:
    """The format's own example at precision 5, both ways (latitude first in the text, as the format says)."""
    assert encode(GOOGLE_POINTS, precision=5) == GOOGLE_TEXT
    assert decode(GOOGLE_TEXT, precision=5).tolist() == [list(p) for p in GOOGLE_POINTS]


def test_osm_positions_round_trip_exactly() -> None:
    """At 1e-7 a decoded path equals the map's coordinates bit for bit, including far jumps and repeats."""
    rng = np.random.default_rng(3)
    for n in (1, 2, 17, 500):
        points = _osm_points(rng, n)
        points[n // 2] = points[0]  # a repeated point gives a zero delta
        assert np.array_equal(decode(encode(points)), points)
    assert decode("").shape == (0, 2) and encode([]) == ""


def test_encode_many_matches_one_by_one() -> None:
    """The one-pass encoder gives each path's own polyline, empty paths included."""
    rng = np.random.default_rng(4)
    paths = [_osm_points(rng, int(n)) for n in rng.integers(0, 30, 60)]
    assert encode_many(paths) == [encode(p) for p in paths]


@pytest.mark.parametrize(
    "text",
    [
        "_p~iF~ps|U_ulLnnqC_mqNvxq",  # cut in the middle of a value
        "_p~iF~ps|U_ulL",  # an odd number of values: a latitude without its longitude
        "ab c",  # a space is below '?'
        "_p~iF\u00e9",  # not ASCII
    ],
)
def test_malformed_polyline_is_a_value_error(text: str) -> None:
    """A broken polyline (a hand-edited plan) raises ValueError instead of decoding to wrong points."""
    with pytest.raises(ValueError, match="polyline"):
        decode(text)


def test_leg_keeps_coordinates_through_its_polyline() -> None:
    """A leg built from coordinates gives them back, and its JSON in both formats reads back equal."""
    coordinates = ((25.0, 60.0), (25.001, 60.0), (25.0012345, 60.0001234))
    leg = Leg(4.5, 120.0, coordinates)
    assert leg.coordinates == coordinates
    for version in (1, 2):
        assert Leg.from_dict(leg.to_dict(version)) == leg
    assert "polyline" in leg.to_dict() and leg.to_dict(1)["coordinates"] == [list(c) for c in coordinates]
