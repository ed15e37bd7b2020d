"""Bounded travel times: every computed time equals the full matrix's, shelters are complete, legs follow roads."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.matrix import build_travel_times
from matcher.roads.graph import RoadGraph
from matcher.roads.load import parse_road_graph
from matcher.travel import LocationRef
from matcher.travel_bounded import Reach, regional_times
from tests.matcher.regionkit import KOTKA


@pytest.fixture(scope="module")
def kotka() -> RoadGraph:
    return parse_road_graph(KOTKA)


def _places(graph: RoadGraph) -> tuple[list[LocationRef], np.ndarray]:
    rng = np.random.default_rng(5)
    nodes = rng.choice(graph.node_count, size=70, replace=False)
    kinds = ["driver"] * 15 + ["household"] * 50 + ["shelter"] * 5
    return [LocationRef(k, f"{k[0]}{i}") for i, k in enumerate(kinds)], nodes  # type: ignore[arg-type]


def test_bounded_times_equal_the_full_matrix_where_computed(kotka: RoadGraph) -> None:
    """Finite entries are exact; shelter rows and columns are complete; short legs are all there."""
    refs, nodes = _places(kotka)
    full = build_travel_times(kotka, refs, nodes)
    reach = Reach(household_minutes=3.0, car_minutes=5.0)
    times = regional_times(kotka, refs, nodes, reach=reach)
    got = times.minutes.astype(np.float64)
    known = np.isfinite(got)
    assert np.allclose(got[known], full.minutes[known], atol=1e-3)
    shelters = slice(65, 70)
    assert np.array_equal(known[shelters, :], np.isfinite(full.minutes[shelters, :]))
    assert np.array_equal(known[:, shelters], np.isfinite(full.minutes[:, shelters]))
    households = slice(15, 65)
    near = full.minutes[households, households] <= reach.household_minutes - 0.01
    assert known[households, households][near].all()
    # The bound is real: some household pairs are left out (else the test shows nothing).
    assert not known[households, households].all()


def test_fill_rows_and_router_paths(kotka: RoadGraph) -> None:
    """A filled row is the full row; legs from the router have the full router's length and follow roads."""
    refs, nodes = _places(kotka)
    full = build_travel_times(kotka, refs, nodes)
    times = regional_times(kotka, refs, nodes, reach=Reach(3.0, 5.0))
    times.fill_rows([0])
    times.fill_columns([20])
    assert np.allclose(times.minutes[0], full.minutes[0], atol=1e-3)
    assert np.allclose(times.minutes[:, 20], full.minutes[:, 20], atol=1e-3)
    travel = times.travel_times()
    pairs = [(0, 30), (16, 66), (66, 17), (20, 21), (0, 20)]
    pairs += [(i, j) for i in range(15, 65) for j in range(15, 65) if i != j and np.isfinite(times.minutes[i, j])][:20]
    got = travel.router.paths(pairs)  # type: ignore[union-attr]
    want = full.router.paths(pairs)  # type: ignore[union-attr]
    for pair, a, b in zip(pairs, got, want, strict=True):
        assert a.meters == pytest.approx(b.meters, abs=0.5), pair
        assert kotka.follows_roads(a.coordinates) is None, pair


def test_legs_in_one_pass_equal_legs_one_by_one(kotka: RoadGraph) -> None:
    """The router's batched legs are the same polylines and lengths as building each leg on its own,
    including a leg that stays in place."""
    from matcher.travel_bounded import _leg, _legs

    refs, nodes = _places(kotka)
    times = regional_times(kotka, refs, nodes, reach=Reach(3.0, 5.0))
    travel = times.travel_times()
    pairs = [(i, j) for i in range(0, 70, 3) for j in range(65, 70)] + [(j, i) for i in range(15, 65, 4)
                                                                        for j in range(65, 70)]
    walks = [_walk_of(times, i, j) for i, j in pairs] + [np.array([int(times.vertex[66])])]
    minutes = [float(times.minutes[i, j]) for i, j in pairs] + [0.0]
    batched = _legs(times.graph, walks, minutes)
    single = [_leg(times.graph, w, m) for w, m in zip(walks, minutes, strict=True)]
    assert [(a.polyline, a.minutes) for a in batched] == [(b.polyline, b.minutes) for b in single]
    assert [a.meters for a in batched] == pytest.approx([b.meters for b in single])
    assert travel.router is not None
    assert [leg.polyline for leg in travel.router.paths(pairs)] == [leg.polyline for leg in single[:-1]]


def _walk_of(times: object, i: int, j: int) -> np.ndarray:
    from matcher.travel_bounded import RegionalRouter, RegionalTimes, _walk

    assert isinstance(times, RegionalTimes)
    vi, vj = int(times.vertex[i]), int(times.vertex[j])
    if vj in times.backward_pred:
        return RegionalRouter._walk_back(times.backward_pred[vj], vi, vj)
    return _walk(times.forward_pred[vi], vi, vj)


def test_fill_cells_equals_whole_rows_to_the_bit(kotka: RoadGraph) -> None:
    """A cell searched only as far as its bound has the whole row's time exactly; a bound too short for a
    cell gets that cell's whole row (nothing left impossible that the roads allow)."""
    refs, nodes = _places(kotka)
    whole = regional_times(kotka, refs, nodes, reach=Reach(3.0, 5.0))
    cells = regional_times(kotka, refs, nodes, reach=Reach(3.0, 5.0))
    missing = [(i, j) for i in range(12, 30)
               for j in [j for j in range(15, 65) if not np.isfinite(cells.minutes[i, j])][:3]]
    assert len({i for i, _ in missing}) >= 3  # the bound left some out, else the test shows nothing
    whole.fill_rows(sorted({i for i, _ in missing}))
    exact = [float(whole.minutes[i, j]) for i, j in missing]
    short = missing[0]
    # Too short for the first cell's row: that row is searched whole.
    bounds = [m / 2 if i == short[0] else m + 0.5 for (i, _), m in zip(missing, exact, strict=True)]
    cells.fill_cells(missing, bounds)
    for (i, j), minutes in zip(missing, exact, strict=True):
        assert cells.minutes[i, j] == np.float32(minutes)
    assert np.array_equal(cells.minutes[short[0]], whole.minutes[short[0]])
    assert short[0] in cells.full_rows
    others = [i for i, _ in missing if i != short[0]]
    assert others and not np.isfinite(cells.minutes[others[0]]).all()  # only the cells asked for


def test_floors_are_lower_bounds_on_the_drives_the_table_lacks(kotka: RoadGraph) -> None:
    """What the clearance bound reads for a drive the bounded table lacks: never above the true time (the full
    matrix's), at least the search bound of its origin, raised by the shelters' triangle somewhere; the times the
    table has are kept as they are."""
    refs, nodes = _places(kotka)
    full = build_travel_times(kotka, refs, nodes).minutes
    times = regional_times(kotka, refs, nodes, reach=Reach(household_minutes=3.0, car_minutes=5.0))
    rows, columns = np.arange(65), np.arange(15, 65)  # cars and households, to households
    block = times.minutes[np.ix_(rows, columns)].astype(np.float64)
    known = np.isfinite(block)
    assert not known.all()
    got = times.floors(rows, columns, block.copy())
    truth = full[np.ix_(rows, columns)]
    assert np.all(got <= truth + 1e-4)
    assert np.array_equal(got[known], block[known])
    search = np.where(rows < 15, 5.0, 3.0)[:, None] * np.ones_like(block)
    assert np.all(got[~known] >= search[~known])
    assert (got[~known] > search[~known] + 1e-6).any()  # the triangle through a shelter told more
