"""Evacuation ride-share matcher: road map -> travel times -> problem -> solver -> plan -> check.

A pure library: no web framework, no database, no network.
"""
