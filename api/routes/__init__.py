"""HTTP routes, one module per resource; each route parses, calls one operation, and shapes the answer."""
