"""Preparing a database for this version of the code."""

from __future__ import annotations

import logging
from pathlib import Path

from backend.config.regions import RegionsFileError, load_regions
from backend.services.context import RegionDirectory, ServiceContext
from backend.storage.database import Database
from backend.storage.migrations import check_schema, migrate
from backend.storage.overlays import OverlayError, add_region_partitions
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
    await _partitions_for_new_regions(ctx.db)
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
    await _partitions_for_new_regions(db)
    log.info("database ready: schema version %d, %d regions", status.applied, len(regions.ids()))


async def _partitions_for_new_regions(db: Database) -> None:
    """With the PostgreSQL partitioning overlay, a new region gets its partitions (nothing to
    do otherwise). Failing here is not fatal: the region's rows wait in the default partition."""
    try:
        await add_region_partitions(db, lock_timeout="2s")  # logs what it adds
    except OverlayError as error:
        log.error("partitions for new regions not added (the service carries on): %s", error)
