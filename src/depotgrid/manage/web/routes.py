"""Operator UI routes (placeholder until the UI shell lands)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
