"""Encoded polylines (the Google/OSRM format) for leg road paths, vectorised with numpy.

A plan holds one polyline per leg instead of lists of number pairs: about a tenth of the size, and
written and read without walking millions of Python floats. Points are ``(lon, lat)`` in this
package; the encoding stores latitude first, as the format defines. ``PRECISION`` is 7 decimal
digits because OSM stores positions as integers of 1e-7 degrees: a path decodes to exactly the
coordinates of its road nodes, so the checker and the drills can match them to the map without a
tolerance (at 6 digits, nodes closer than about 10 cm would merge). Any polyline library decodes
it with ``precision=7``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Decimal digits of the encoded coordinates (OSM's own resolution).
PRECISION = 7
#: Five-bit chunks enough for any zig-zagged delta of a WGS84 coordinate at 1e-7 (2**35 > 2 * 3.6e9).
_CHUNKS = 7

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def _chars(values: Ints) -> npt.NDArray[np.uint8]:
    """The format's characters for signed integers, in order: zig-zag, 5-bit chunks, +63."""
    zig = np.where(values < 0, ~(values << 1), values << 1)
    count = np.ones(len(zig), dtype=np.int64)
    rest = zig >> 5
    while True:  # at most _CHUNKS rounds; each touches only the values that still have bits left
        more = rest > 0
        if not more.any():
            break
        count += more
        rest = rest >> 5
    offset = np.cumsum(count) - count
    out = np.empty(int(count.sum()), dtype=np.uint8)
    out[offset] = ((zig & 31) | np.where(count > 1, 0x20, 0)) + 63
    index = np.flatnonzero(count > 1)
    for k in range(1, _CHUNKS):
        if k > 1:
            index = index[count[index] > k]
        if not len(index):
            break
        chunk = (zig[index] >> (5 * k)) & 31
        chunk |= np.where(count[index] > k + 1, 0x20, 0)
        out[offset[index] + k] = chunk + 63
    return out


def encode(lonlat: npt.ArrayLike, precision: int = PRECISION) -> str:
    """One polyline for ``(lon, lat)`` points; empty string for no points."""
    points = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    if len(points) == 0:
        return ""
    ints = np.rint(points[:, ::-1] * 10.0**precision).astype(np.int64)  # (lat, lon) as the format wants
    deltas = np.diff(ints, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).reshape(-1)
    return _chars(deltas).tobytes().decode("ascii")


def encode_many(paths: list[npt.NDArray[np.float64]], precision: int = PRECISION) -> list[str]:
    """``encode`` of each path, in one numpy pass over all of them."""
    if not paths:
        return []
    sizes = np.array([len(p) for p in paths], dtype=np.int64)
    if sizes.sum() == 0:
        return [""] * len(paths)
    points = np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in paths])
    ints = np.rint(points[:, ::-1] * 10.0**precision).astype(np.int64)
    deltas = np.diff(ints, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    starts = np.cumsum(sizes) - sizes
    firsts = starts[sizes > 0]
    deltas[firsts] = ints[firsts]  # every path starts from zero
    values = deltas.reshape(-1)
    chars = _chars(values)
    # Characters per value: the count of chunks is where the continuation bit is clear.
    ends = np.flatnonzero((chars - 63) & 0x20 == 0)
    value_end = ends + 1  # end offset (exclusive) in chars of every value
    path_values = np.cumsum(sizes * 2)
    text = chars.tobytes().decode("ascii")
    out: list[str] = []
    at = 0
    for size, end_value in zip(sizes.tolist(), path_values.tolist(), strict=True):
        if size == 0:
            out.append("")
            continue
        stop = int(value_end[end_value - 1])
        out.append(text[at:stop])
        at = stop
    return out


def decode(text: str, precision: int = PRECISION) -> Floats:
    """The ``(lon, lat)`` points of a polyline as an ``(n, 2)`` array; raises ``ValueError`` if malformed."""
    if not text:
        return np.zeros((0, 2), dtype=np.float64)
    try:
        raw = np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.int64) - 63
    except UnicodeEncodeError:
        raise ValueError("a polyline holds only ASCII characters") from None
    if raw.min() < 0 or raw.max() > 63:
        raise ValueError("a polyline holds only the characters '?' to '~'")
    last = np.flatnonzero(raw & 0x20 == 0)
    if len(last) == 0 or last[-1] != len(raw) - 1 or len(last) % 2:
        raise ValueError("a polyline must hold whole (lat, lon) pairs")
    first = np.concatenate(([0], last[:-1] + 1))
    value_of = np.repeat(np.arange(len(last)), last - first + 1)
    position = np.arange(len(raw)) - first[value_of]
    if position.max() >= _CHUNKS:
        raise ValueError("a polyline value is too large for a coordinate")
    zig = np.zeros(len(last), dtype=np.int64)
    np.add.at(zig, value_of, (raw & 31) << (5 * position))
    values = np.where(zig & 1, ~(zig >> 1), zig >> 1)
    ints = np.cumsum(values.reshape(-1, 2), axis=0)
    return ints[:, ::-1] / 10.0**precision


class EncodedPath:
    """A road path kept as its polyline (``polyline``), decoded to ``(lon, lat)`` points on first use.

    Mixed into the frozen leg types: building, storing and writing a plan never touches the points
    one by one; only a reader that asks for ``coordinates`` (a map, a drill) pays for decoding.
    """

    polyline: str

    def _init_path(self, coordinates: npt.ArrayLike | None, polyline: str | None) -> None:
        # Coordinates win when both are given: ``dataclasses.replace(leg, coordinates=...)`` passes the old polyline.
        if coordinates is not None or polyline is None:
            points = np.zeros((0, 2)) if coordinates is None else np.asarray(coordinates, dtype=np.float64)
            polyline = encode(points)
        object.__setattr__(self, "polyline", polyline)

    @property
    def lonlat(self) -> Floats:
        """The points as an ``(n, 2)`` array of ``(lon, lat)``."""
        cached = self.__dict__.get("_lonlat")
        if cached is None:
            cached = decode(self.polyline)
            object.__setattr__(self, "_lonlat", cached)
        return cached

    @property
    def coordinates(self) -> tuple[tuple[float, float], ...]:
        """The points as ``(lon, lat)`` tuples in driving order (empty when the leg has no road path)."""
        return tuple((lon, lat) for lon, lat in self.lonlat.tolist())
