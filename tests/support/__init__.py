"""Helpers for the template's own test tier."""
