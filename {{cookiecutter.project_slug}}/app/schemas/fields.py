"""Constraints every resource's schemas share: ids and text the database can hold, refused with a 422 first."""

from __future__ import annotations

# Ids are INTEGER columns: PostgreSQL refuses a larger number even in a comparison, so refuse it first, with a 422.
ID_MAX = 2**31 - 1
# PostgreSQL text cannot hold NUL characters: refuse them here with a 422, not in the database with a 500.
WITHOUT_NUL = r"^[^\x00]*$"
