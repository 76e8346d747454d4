"""One APScheduler schedule per region, in the region's own time zone.

Prompt times are cron triggers in the region's zone, so 09:00 stays 09:00 across daylight
saving changes. Every job calls an idempotent service: rounds are unique per region, local
date and slot, so a double fire or a second instance sends a round once. A sweep per region
(every minute, and at start-up) creates rounds missed within the grace window, sends
reminders and closes finished cases. The regions file is re-read on SIGHUP and on a timer.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from backend.domain.regions import Region
from backend.services.alert_sweeps import check_silence, repost_unclaimed
from backend.services.context import ServiceContext
from backend.services.retention import (
    forget_console_sessions,
    prune_processed_updates,
    purge_expired,
)
from backend.services.schedule import close_finished_cases, run_due_rounds, send_reminders
from backend.services.setup import reload_regions

log = logging.getLogger(__name__)


class RegionalScheduler:
    def __init__(
        self,
        ctx: ServiceContext,
        *,
        grace: timedelta,
        regions_file: Path | None = None,
        reload_seconds: int = 60,
        sweep_seconds: int = 60,
        regional: bool = True,
    ):
        """``regional=False`` only keeps the regions file current (SIGHUP and the timer), for
        instances that do not run the scheduler role but still need the regions' settings."""
        self.ctx = ctx
        self.regional = regional
        self.grace = grace
        self.regions_file = regions_file
        self.reload_seconds = reload_seconds
        self.sweep_seconds = sweep_seconds
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._regions_mtime = self._mtime()
        self.reloading: asyncio.Task | None = None  # a reload asked for by SIGHUP

    def start(self) -> None:
        self._schedule_regions()
        if self.regional:  # housekeeping belongs with the scheduler role
            self.scheduler.add_job(
                self.prune_updates,
                IntervalTrigger(hours=1, jitter=60),
                id="prune-updates",
                next_run_time=datetime.now(UTC),
                coalesce=True,
                max_instances=1,
            )
        if self.regions_file and self.reload_seconds:
            self.scheduler.add_job(
                self.reload_if_changed,
                IntervalTrigger(seconds=self.reload_seconds),
                id="reload-regions",
                coalesce=True,
                max_instances=1,
            )
        self.scheduler.start()
        self._watch_sighup()

    def shutdown(self) -> None:
        self._unwatch_sighup()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def jobs(self) -> list[tuple[str, datetime | None]]:
        """(job id, next run) pairs: what is scheduled, for logs and tests."""
        return [(job.id, job.next_run_time) for job in self.scheduler.get_jobs()]

    def _schedule_regions(self) -> None:
        if not self.regional:
            return
        for region in self.ctx.regions:
            self._schedule(region)

    def _schedule(self, region: Region) -> None:
        for at in region.prompt_times:
            self.scheduler.add_job(
                self._steps(self._guarded(run_due_rounds, region.id, self.grace)),
                CronTrigger(hour=at.hour, minute=at.minute, timezone=region.zone),
                id=f"prompt:{region.id}:{at.strftime('%H:%M')}",
                misfire_grace_time=int(self.grace.total_seconds()) or None,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )
        self.scheduler.add_job(
            self._sweep(region.id),
            IntervalTrigger(seconds=self.sweep_seconds, jitter=min(5, self.sweep_seconds)),
            id=f"sweep:{region.id}",
            next_run_time=datetime.now(UTC),  # catch up on start-up, then every minute
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )

    def _sweep(self, region_id: str) -> Callable[[], Awaitable[None]]:
        return self._steps(
            self._guarded(run_due_rounds, region_id, self.grace),
            self._guarded(send_reminders, region_id),
            self._guarded(close_finished_cases, region_id),
            self._guarded(check_silence, region_id),
            self._guarded(repost_unclaimed, region_id),
            self._guarded(purge_expired, region_id),
        )

    @staticmethod
    def _steps(*steps: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """A job of several steps. Shutdown may cut it short: its transaction rolls back and
        the next start does the same idempotent work, so that is no error for the log."""

        async def job() -> None:
            try:
                for step in steps:
                    await step()
            except asyncio.CancelledError:
                log.info("a scheduled job was interrupted by shutdown")

        return job

    def _guarded(self, job: Callable, *args: object) -> Callable[[], Awaitable[None]]:
        """Log a failure (a database restart, say) instead of losing the job: the next sweep
        does the same idempotent work again."""

        async def run() -> None:
            if self.ctx.regions.get(str(args[0])) is None:
                return  # the region was removed by a reload
            try:
                await job(self.ctx, *args)
            except Exception as error:
                log.warning("%s for %s failed: %s", job.__name__, args[0], type(error).__name__)

        return run

    async def prune_updates(self) -> None:
        """Processed updates are kept only as long as Telegram could redeliver them; ended
        console sessions a day after their end."""
        try:
            await prune_processed_updates(self.ctx)
            await forget_console_sessions(self.ctx)
        except asyncio.CancelledError:
            log.info("pruning processed updates was interrupted by shutdown")
        except Exception as error:  # the next hour does the same work
            log.warning("pruning processed updates failed: %s", type(error).__name__)

    async def reload_if_changed(self) -> bool:
        mtime = self._mtime()
        if mtime == self._regions_mtime:
            return False
        self._regions_mtime = mtime
        return await self.reload()

    async def reload(self) -> bool:
        """Re-read the regions file and reschedule everything if it changed."""
        if self.regions_file is None or not await reload_regions(self.ctx, self.regions_file):
            return False
        for job in self.scheduler.get_jobs():
            if job.id.startswith(("prompt:", "sweep:")):
                job.remove()
        self._schedule_regions()
        return True

    def _mtime(self) -> float | None:
        try:
            return self.regions_file.stat().st_mtime if self.regions_file else None
        except OSError:
            return None

    def _watch_sighup(self) -> None:
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)
        except (NotImplementedError, RuntimeError):
            pass  # no signals here (Windows, or not the main thread): the timer still reloads

    def _on_sighup(self) -> None:
        log.info("SIGHUP: reloading the regions file")
        self.reloading = asyncio.create_task(self.reload(), name="reload-regions")

    def _unwatch_sighup(self) -> None:
        try:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        except (NotImplementedError, RuntimeError):
            pass
