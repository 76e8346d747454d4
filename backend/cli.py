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
    link = staff.add_parser(
        "link", help="a one-time code that links a staff member's Telegram account"
    )
    link.add_argument("--staff", required=True, help="the staff member's id")
    region = commands.add_parser("region", help="regions").add_subparsers(
        dest="region_command", required=True
    )
    group = region.add_parser(
        "group-link", help="a one-time startgroup code that binds a group to the region"
    )
    group.add_argument("--region", required=True)
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
        elif args.command == "staff" and args.staff_command == "create":
            asyncio.run(create_staff(settings, args.name, args.role, args.region))
        elif args.command == "staff" and args.staff_command == "link":
            asyncio.run(staff_link(settings, args.staff))
        elif args.command == "region":
            asyncio.run(group_link(settings, args.region))
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
    print(f"Staff member {name!r} created ({role}), id {created.staff_id}.")
    print("Token, shown only this once:")
    print(created.token)


async def staff_link(settings: Settings, staff_id: str) -> None:
    from uuid import UUID

    from backend.services.authority_chat import new_staff_link
    from backend.storage.staff import get_member

    try:
        member_id = UUID(staff_id)
    except ValueError:
        raise DomainError(f"{staff_id!r} is not a staff id (shown by `staff create`).") from None
    ctx = await _context(settings)
    try:
        if await ctx.db.transaction(get_member, member_id) is None:
            raise DomainError(f"no active staff member has the id {staff_id}.")
        link = await new_staff_link(ctx, member_id)
    finally:
        await ctx.db.close()
    print(
        "Send this to the bot in a private chat (valid until "
        f"{link.expires_at:%Y-%m-%d %H:%M} UTC):"
    )
    print(f"/link {link.code}")
    print(f"or open https://t.me/<bot username>?start={link.code}")


async def group_link(settings: Settings, region_id: str) -> None:
    from backend.services.authority_chat import new_group_link

    ctx = await _context(settings)
    try:
        link = await new_group_link(ctx, region_id)
    finally:
        await ctx.db.close()
    print(
        f"Add the bot to the authority's group with this link (valid until "
        f"{link.expires_at:%Y-%m-%d %H:%M} UTC):"
    )
    print(f"https://t.me/<bot username>?startgroup={link.code}")


if __name__ == "__main__":
    sys.exit(main())
