"""Territories: map areas a team works, the BDs assigned to them, and the merchants they cover."""
