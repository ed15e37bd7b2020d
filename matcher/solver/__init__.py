"""The solver: triage, a bisected pooled construction, OR-Tools re-routing; the one package using OR-Tools."""

from matcher.solver.solve import SolveParams, solve

__all__ = ["SolveParams", "solve"]
