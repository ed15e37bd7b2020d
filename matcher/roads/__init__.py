"""Road maps: OpenStreetMap files to a drivable graph, closures, and snapping places onto it."""
