"""The offline address index and base-map features read from the bundled Kotka map and a tiny hand-made one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import osmium
import pytest

from matcher.errors import MapError
from matcher.roads.addresses import AddressIndex, MatchKind, normalize, split_number
from matcher.roads.features import load_features, parse_features
from matcher.roads.load import load_road_graph, parse_road_graph

KOTKA = Path(__file__).resolve().parents[3] / "data" / "kotka.osm.pbf"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> AddressIndex:
    return AddressIndex(load_features(KOTKA, tmp_path_factory.mktemp("cache")))


def test_features_of_the_bundled_town() -> None:
    """Street names, house numbers, buildings, green areas and neighbourhood names come out of the map file."""
    features = parse_features(KOTKA)
    names = {s.name for s in features.streets}
    assert {"Tikankatu", "Kortetie", "Vanha Viipurintie"} <= names
    assert ("Tikankatu", "11") in {(a.street, a.housenumber) for a in features.addresses}
    assert len(features.areas["building"]) > 2000 and features.areas["green"] and features.lines["waterway"]
    assert "Marttila" in {p.name for p in features.places}
    for polygon in features.areas["building"][:50]:
        assert polygon[0][0] == polygon[0][-1]  # closed rings


def test_features_are_cached_by_content(tmp_path: Path) -> None:
    """The second load reads the cache file (same result); a broken cache file is ignored, not fatal."""
    first = load_features(KOTKA, tmp_path)
    [cache_file] = tmp_path.glob("mapfeatures-*.json.gz")
    again = load_features(KOTKA, tmp_path)
    assert again.to_dict() == first.to_dict()
    cache_file.write_bytes(b"not gzip")
    assert load_features(KOTKA, tmp_path).to_dict() == first.to_dict()


def test_features_and_roads_come_from_one_pass_over_the_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The service needs the features and the road graph: the map file is read once for both (the graph goes to
    its cache, so loading it afterwards reads nothing), and the graph equals the roads-only reader's."""
    opened: list[Any] = []
    real = osmium.FileProcessor
    monkeypatch.setattr(osmium, "FileProcessor", lambda *a, **k: (opened.append(a[0]), real(*a, **k))[1])
    load_features(KOTKA, tmp_path)
    graph = load_road_graph(KOTKA, tmp_path)
    assert opened == [str(KOTKA)]
    monkeypatch.undo()
    alone = parse_road_graph(KOTKA).arrays()
    assert all(np.array_equal(array, alone[name]) for name, array in graph.arrays().items())


def test_a_missing_map_is_a_map_error(tmp_path: Path) -> None:
    with pytest.raises(MapError, match="cannot read map"):
        load_features(tmp_path / "nowhere.osm.pbf", tmp_path)


@pytest.mark.parametrize(("typed", "street", "number"), [
    ("Tikankatu 11", "tikankatu", "11"),
    ("11 Tikankatu", "tikankatu", "11"),  # number first, as in English addresses
    ("Kämmekkätie 3 b", "kammekkatie", "3b"),  # accents and a letter after the number
    ("Vanha  Viipurintie,", "vanha viipurintie", ""),  # no number; spaces and punctuation
])
def test_split_number(typed: str, street: str, number: str) -> None:
    assert split_number(typed) == (street, number)
    assert street in normalize(typed)


def test_forward_finds_an_address_exactly_and_offers_streets_while_typing(index: AddressIndex) -> None:
    """A full address in the map is found exactly; a prefix offers the streets and addresses starting so."""
    found = index.locate("tikankatu 11")
    assert found is not None and found.exact and found.label == "Tikankatu 11"
    assert (round(found.lat, 4), round(found.lon, 4)) == (60.5204, 26.9497)
    typing = index.search("Tik")
    assert typing[0].label == "Tikankatu" and typing[0].kind == MatchKind.STREET
    assert "Tikankatu 11" in [m.label for m in typing]
    assert all("tik" in normalize(m.label) for m in typing)


def test_forward_never_invents_a_house_number(index: AddressIndex) -> None:
    """A number the map does not have: no exact position, the street is offered instead, not exact."""
    assert index.locate("Tikankatu 99") is None
    assert index.knows_street("Tikankatu 99") == "Tikankatu"
    offered = index.search("Tikankatu 99")
    assert [(m.label, m.kind, m.exact) for m in offered] == [("Tikankatu", MatchKind.STREET, False)]
    assert index.search("Nowhere Street 1") == [] and index.knows_street("Nowhere Street 1") is None


def test_reverse_says_the_address_or_the_street_it_is_near(index: AddressIndex) -> None:
    at = index.describe(60.52037, 26.949651)
    assert at is not None and at.exact and at.label == "Tikankatu 11"
    near = index.describe(60.53277, 26.95735)  # the manifest's "no street address" example of the issue
    assert near is not None and not near.exact and near.label.startswith("near ") and near.meters < 50
    assert index.describe(60.60, 27.20) is None  # kilometres off the map: nothing is near
