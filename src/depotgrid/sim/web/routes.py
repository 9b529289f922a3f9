"""Simulator UI routes (filled in by the UI step)."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Mount the UI's pages and assets."""
