"""Scenario files and the drill runner."""
