"""Operator UI routes: every page of the server-rendered UI, gathered in one router."""

from __future__ import annotations

from fastapi import APIRouter

from depotgrid.manage.web import (
    auth_pages,
    balancing_pages,
    depot_pages,
    entity_pages,
    envelope_pages,
    microgrid_pages,
    oscp_pages,
)

router = APIRouter(include_in_schema=False)
router.include_router(auth_pages.router)
router.include_router(depot_pages.router)
router.include_router(entity_pages.router)
router.include_router(microgrid_pages.router)
router.include_router(balancing_pages.router)
router.include_router(envelope_pages.router)
router.include_router(oscp_pages.router)
