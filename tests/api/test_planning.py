"""The bridge to the matcher: plan ids, positions on the map, scenarios without names or phones."""

from __future__ import annotations

from datetime import UTC, datetime

from api import models, planning
from api.config import Settings
from tests.api.factories import kotka


def test_plan_ids_round_trip() -> None:
    assert planning.plan_id("household", 12) == "H12" and planning.db_id("H12") == 12
    assert planning.db_id("X12") is None and planning.db_id("Hx") is None


def test_off_map_lists_every_far_position() -> None:
    settings = Settings()
    h = kotka()["households"][0]
    far = planning.off_map(settings, [h["lat"], 60.17, 61.0], [h["lon"], 24.94, 27.0])
    assert [i for i, _ in far] == [1, 2] and "off the map" in far[0][1]


def test_scenario_leaves_out_names_and_phones() -> None:
    settings = Settings()
    alert = models.Alert(id=1, name="", deadline_minutes=60, flood_zones=[], closed_ways=[],
                         start=datetime(2026, 9, 14, tzinfo=UTC))
    h = kotka()["households"][0]
    home = models.Household(id=3, name="Secret Name", phone="+358 123", lat=h["lat"], lon=h["lon"], people=2,
                            wheelchair_users=0, priority=1, needs=["oxygen"], pets=0, language="fi")
    s = kotka()["shelters"][0]
    shelter = models.Shelter(id=1, name="School", lat=s["lat"], lon=s["lon"], capacity=10, wheelchair_accessible=True)
    data = planning.build_scenario(alert, [home], [], [shelter], settings)
    assert data["households"][0]["id"] == "H3" and data["households"][0]["needs"] == ["oxygen"]
    assert "Secret Name" not in str(data) and "+358 123" not in str(data)
    assert data["map"] == str(settings.map_path())
