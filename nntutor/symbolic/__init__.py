"""Exact derivatives with sympy (imported lazily, only by the lessons that derive)."""
