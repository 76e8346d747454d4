"""Preparing a database for this version of the code."""

from __future__ import annotations

import logging
from pathlib import Path

from backend.config.regions import RegionsFileError, load_regions
from backend.services.context import RegionDirectory, ServiceContext
from backend.storage.database import Database
from backend.storage.migrations import check_schema, migrate
from backend.storage.regions import upsert_regions

log = logging.getLogger(__name__)


async def reload_regions(ctx: ServiceContext, path: Path) -> bool:
    """Read the regions file again; apply it if valid, else keep the running configuration.

    Returns True when the regions changed. A broken file is logged with its one-sentence
    reason and never takes a running service down.
    """
    try:
        regions = load_regions(path)
    except RegionsFileError as error:
        log.error("regions file not reloaded: %s", error)
        return False
    if {r.id: r for r in ctx.regions} == regions:
        return False
    await ctx.db.transaction(upsert_regions, list(regions.values()))
    ctx.regions.replace(regions)
    log.info("regions file reloaded: %d regions", len(regions))
    return True


async def prepare_database(
    db: Database, regions: RegionDirectory, *, apply_migrations: bool
) -> None:
    """Migrate (if asked), refuse a schema that does not fit, and mirror the regions file."""
    if apply_migrations:
        await migrate(db)
    status = await check_schema(db)
    await db.transaction(upsert_regions, list(regions))
    log.info("database ready: schema version %d, %d regions", status.applied, len(regions.ids()))
