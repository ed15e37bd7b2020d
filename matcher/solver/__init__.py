"""The solver: the one package that imports OR-Tools."""
