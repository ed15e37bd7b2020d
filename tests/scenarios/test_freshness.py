"""Roster freshness in the drill report: records not confirmed within the setting on the drill date, which, and a
clear error for a ``confirmed_at`` that is not a date."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from matcher.errors import InputError
from scenarios.freshness import roster_freshness
from scenarios.render import Doc
from scenarios.report import _freshness
from scenarios.spec import drill_from_dict
from tests.scenarios.conftest import DRILLS

AS_OF = "2026-10-01"


def _scenario(households: list[Any], drivers: list[Any]) -> dict[str, Any]:
    return {"households": [{"id": f"H{i}", "name": f"Home {i}", **({} if c is ... else {"confirmed_at": c})}
                           for i, c in enumerate(households)],
            "drivers": [{"id": f"D{i}", "name": f"Driver {i}", **({} if c is ... else {"confirmed_at": c})}
                        for i, c in enumerate(drivers)]}


def test_no_record_carries_confirmed_at_no_section() -> None:
    assert roster_freshness(_scenario([..., ...], [...]), AS_OF) is None


@pytest.mark.parametrize(("confirmed", "stale"), [
    ("2026-09-30", False),            # yesterday
    ("2026-08-17", False),            # 45 days ago: still fresh (the setting is "within 45 days")
    ("2026-08-16", True),             # 46 days ago
    ("2026-08-16T23:59:00+00:00", True),  # a date-time, as the service writes it
    (None, True),                     # never confirmed
    (..., True),                      # field missing while others carry it: never confirmed
])
def test_stale_records_are_counted_and_named(confirmed: Any, stale: bool) -> None:
    fresh = roster_freshness(_scenario([confirmed, "2026-09-01"], ["2026-09-01"]), AS_OF)
    assert fresh is not None and fresh["days"] == 45 and fresh["as_of"] == AS_OF
    households = fresh["households"]
    assert households["total"] == 2 and households["stale"] == int(stale)
    assert [r["id"] for r in households["records"]] == (["H0"] if stale else [])
    assert households["never_confirmed"] == int(confirmed is None or confirmed is ...)
    assert fresh["drivers"] == {"total": 1, "stale": 0, "never_confirmed": 0, "records": []}


def test_setting_changes_the_cut() -> None:
    fresh = roster_freshness(_scenario(["2026-09-01"], ["2026-09-25", None]), AS_OF, days=10)
    assert fresh is not None
    assert [(r["id"], r["days_since"]) for r in fresh["households"]["records"]] == [("H0", 30)]
    assert [(r["id"], r["confirmed_at"]) for r in fresh["drivers"]["records"]] == [("D1", None)]


def test_report_lists_them() -> None:
    fresh = roster_freshness(_scenario(["2026-01-05", "2026-09-30"], [None]), AS_OF)
    doc = Doc()
    _freshness(doc, fresh)
    text = doc.markdown()
    assert "## Roster freshness" in text
    assert "1 of 1 drivers (1 never) and 1 of 2 households (0 never)" in text
    assert "Home 0" in text and "2026-01-05" in text and "269" in text and "never" in text


def test_a_bad_confirmed_at_names_the_record_and_field() -> None:
    data = yaml.safe_load((DRILLS / "storm_night.yaml").read_text(encoding="utf-8"))
    bad = copy.deepcopy(data)
    bad["households"][2]["confirmed_at"] = "last spring"
    with pytest.raises(InputError) as caught:
        drill_from_dict(bad)
    assert caught.value.record == f"household {bad['households'][2]['id']}"
    assert caught.value.field == "confirmed_at" and "last spring" in caught.value.message
    good = copy.deepcopy(data)
    good["households"][2]["confirmed_at"] = "2026-09-01"
    good["drill"]["freshness_days"] = 30
    spec = drill_from_dict(good)
    assert spec.freshness_days == 30
