"""The ``symptom-diary`` command: serve, migrate, staff create."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from backend.config.regions import RegionsFileError
from backend.config.settings import Settings, SettingsError
from backend.domain.errors import DomainError
from backend.storage.migrations import SchemaError

log = logging.getLogger("symptom_diary")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symptom-diary", description="Daily symptom diary for people in quarantine."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the API, the bot and the sender")
    commands.add_parser("migrate", help="apply database migrations")
    staff = commands.add_parser("staff", help="manage staff accounts").add_subparsers(
        dest="staff_command", required=True
    )
    create = staff.add_parser("create", help="create a staff member and print a token once")
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=("admin", "staff", "viewer"))
    create.add_argument(
        "--region", action="append", default=[], help="a region id (repeat for several)"
    )
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    # httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    # PTB logs message texts at DEBUG: personal data must not reach the log at any level.
    logging.getLogger("telegram").setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
        configure_logging(settings.log_level)
        if args.command == "serve":
            asyncio.run(serve(settings))
        elif args.command == "migrate":
            asyncio.run(run_migrations(settings))
        elif args.command == "staff":
            asyncio.run(create_staff(settings, args.name, args.role, args.region))
    except (SettingsError, RegionsFileError, SchemaError) as error:
        print(f"symptom-diary: {error}", file=sys.stderr)
        return 2
    except DomainError as error:
        print(f"symptom-diary: {error.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


async def serve(settings: Settings) -> None:
    from backend.server import create_app

    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        try:
            await site.start()
        except OSError as error:
            raise SettingsError(
                f"DIARY_HTTP_PORT {settings.http_port} on {settings.http_host} cannot be used "
                f"({error.strerror}); choose another port."
            ) from None
        base = f"http://{settings.http_host}:{settings.http_port}"
        log.info("Symptom Diary is running. API: %s/api/v1  health: %s/healthz", base, base)
        log.info(
            "Create a staff token with: .venv/bin/symptom-diary staff create --name 'Your Name' "
            "--role admin"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("shutting down")
    finally:
        await runner.cleanup()


async def _context(settings: Settings, apply_migrations: bool | None = None):
    from backend.server import build_context, open_database

    ctx = build_context(settings)
    await open_database(settings, ctx, apply_migrations=apply_migrations)
    return ctx


async def run_migrations(settings: Settings) -> None:
    ctx = await _context(settings, apply_migrations=True)
    await ctx.db.close()
    print("The database schema is up to date.")


async def create_staff(settings: Settings, name: str, role: str, regions: list[str]) -> None:
    from backend.services.staff import create_staff as create

    ctx = await _context(settings)
    try:
        created = await create(ctx, name, role, regions)
    finally:
        await ctx.db.close()
    print(f"Staff member {name!r} created ({role}). Token, shown only this once:")
    print(created.token)


if __name__ == "__main__":
    sys.exit(main())
