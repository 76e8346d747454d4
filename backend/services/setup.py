"""Preparing a database for this version of the code."""

from __future__ import annotations

import logging

from backend.services.context import RegionDirectory
from backend.storage.database import Database
from backend.storage.migrations import check_schema, migrate
from backend.storage.regions import upsert_regions

log = logging.getLogger(__name__)


async def prepare_database(
    db: Database, regions: RegionDirectory, *, apply_migrations: bool
) -> None:
    """Migrate (if asked), refuse a schema that does not fit, and mirror the regions file."""
    if apply_migrations:
        await migrate(db)
    status = await check_schema(db)
    await db.transaction(upsert_regions, list(regions))
    log.info("database ready: schema version %d, %d regions", status.applied, len(regions.ids()))
