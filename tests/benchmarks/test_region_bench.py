"""The regional benchmark skips with a clear message when its map is absent (the shared maps folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import region


def test_skips_without_the_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert region.main(["--map", str(tmp_path / "porto_portugal.osm.pbf")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Skipped the regional benchmark:")
    assert "porto_portugal.osm.pbf is not there" in out
