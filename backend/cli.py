"""The ``symptom-diary`` command: serve, migrate, staff create."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace

from aiohttp import web

from backend.config.regions import RegionsFileError
from backend.config.settings import Settings, SettingsError, host_problem, parse_roles
from backend.domain.errors import DomainError
from backend.domain.staff import (
    DEFAULT_TOKEN_DAYS,
    MAX_TOKEN_DAYS,
    MIN_TOKEN_DAYS,
    token_days_problem,
)
from backend.logs import configure_logging
from backend.storage.database import DatabaseUnreachable
from backend.storage.migrations import SchemaError
from backend.storage.overlays import OverlayError

log = logging.getLogger("symptom_diary")


def _token_days(value: str) -> int:
    """A token lifetime from the command line; refused before anything touches the database
    (there is no "0: no expiry" any more: every token expires)."""
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of days.") from None
    problem = token_days_problem(days)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return days


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symptom-diary", description="Daily symptom diary for people in quarantine."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the service (all roles, or some)")
    serve.add_argument(
        "--role",
        help="all (default), or a comma-separated list of api, bot, scheduler, sender",
    )
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
    create.add_argument(
        "--token-days",
        type=_token_days,
        default=DEFAULT_TOKEN_DAYS,
        help=f"token lifetime in days, {MIN_TOKEN_DAYS} to {MAX_TOKEN_DAYS} (default %(default)s)",
    )
    create.add_argument(
        "--login",
        help="a sign-in for the web console (/console/) with a temporary password, instead of "
        "a bearer token",
    )
    sign_in = staff.add_parser(
        "sign-in",
        help="give a staff member a console sign-in, or reset it: a new temporary password, "
        "the authenticator enrolled again, every session ended",
    )
    sign_in.add_argument("--staff", required=True, help="the staff member's id")
    sign_in.add_argument("--login", required=True)
    tokens = staff.add_parser("token", help="bearer tokens").add_subparsers(
        dest="token_command", required=True
    )
    token_create = tokens.add_parser("create", help="a new token for a staff member (shown once)")
    token_create.add_argument("--staff", required=True, help="the staff member's id")
    token_create.add_argument(
        "--days",
        type=_token_days,
        default=DEFAULT_TOKEN_DAYS,
        help=f"lifetime in days, {MIN_TOKEN_DAYS} to {MAX_TOKEN_DAYS} (default %(default)s)",
    )
    token_list = tokens.add_parser("list", help="a staff member's tokens (not the tokens)")
    token_list.add_argument("--staff", required=True)
    token_revoke = tokens.add_parser("revoke", help="revoke a token by its id")
    token_revoke.add_argument("--token", required=True, help="the token's id (from list)")
    link = staff.add_parser(
        "link", help="a one-time code that links a staff member's Telegram account"
    )
    link.add_argument("--staff", required=True, help="the staff member's id")
    disable = staff.add_parser(
        "disable", help="offboard a staff member: tokens revoked, Telegram account unlinked"
    )
    disable.add_argument("--staff", required=True, help="the staff member's id")
    region = commands.add_parser("region", help="regions").add_subparsers(
        dest="region_command", required=True
    )
    group = region.add_parser(
        "group-link", help="a one-time startgroup code that binds a group to the region"
    )
    group.add_argument("--region", required=True)
    updates = commands.add_parser(
        "updates", help="Telegram updates whose processing failed"
    ).add_subparsers(dest="updates_command", required=True)
    updates.add_parser(
        "parked", help="updates given up after repeated failures (key, error type, when)"
    )
    updates.add_parser("failed", help="the latest failures, parked or still being retried")
    totp = commands.add_parser(
        "totp", help="the key file that encrypts console authenticator secrets"
    ).add_subparsers(dest="totp_command", required=True)
    totp.add_parser("new-key", help="print a new key, to put on top of DIARY_TOTP_KEY_FILE")
    totp.add_parser(
        "rotate",
        help="re-encrypt every stored secret with the key file's first key (then the older "
        "keys can be removed)",
    )
    overlay = commands.add_parser(
        "overlay",
        help="PostgreSQL partitioning by region (sql/overlays/; the CockroachDB and YugabyteDB "
        "overlays are SQL files for their own shells)",
    )
    overlay.add_argument(
        "name",
        choices=("postgresql-partitioning", "postgresql-partitions"),
        help="partition the citizen tables (stop writers first), or add partitions for new "
        "regions (also done at every start)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
        if args.command == "serve" and args.role:
            settings = replace(settings, roles=parse_roles(args.role, "--role"))
        configure_logging(
            settings.log_level, settings.log_format, secrets=[settings.telegram_token]
        )
        if args.command == "serve":
            asyncio.run(serve(settings))
        elif args.command == "migrate":
            asyncio.run(run_migrations(settings))
        elif args.command == "updates":
            asyncio.run(list_failed_updates(settings, args.updates_command == "parked"))
        elif args.command == "staff" and args.staff_command == "create" and args.login:
            asyncio.run(
                create_console_member(settings, args.name, args.role, args.region, args.login)
            )
        elif args.command == "staff" and args.staff_command == "create":
            asyncio.run(create_staff(settings, args.name, args.role, args.region, args.token_days))
        elif args.command == "staff" and args.staff_command == "sign-in":
            asyncio.run(grant_sign_in(settings, args.staff, args.login))
        elif args.command == "staff" and args.staff_command == "token":
            asyncio.run(manage_tokens(settings, args))
        elif args.command == "staff" and args.staff_command == "link":
            asyncio.run(staff_link(settings, args.staff))
        elif args.command == "staff" and args.staff_command == "disable":
            asyncio.run(disable_staff(settings, args.staff))
        elif args.command == "region":
            asyncio.run(group_link(settings, args.region))
        elif args.command == "overlay":
            asyncio.run(apply_overlay(settings, args.name))
        elif args.command == "totp" and args.totp_command == "new-key":
            from cryptography.fernet import Fernet

            print(Fernet.generate_key().decode())
        elif args.command == "totp":
            asyncio.run(rotate_totp_keys(settings))
    except (
        SettingsError,
        RegionsFileError,
        SchemaError,
        OverlayError,
        DatabaseUnreachable,
    ) as error:
        print(f"symptom-diary: {error}", file=sys.stderr)
        return 2
    except DomainError as error:
        print(f"symptom-diary: {error.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


async def serve(settings: Settings) -> None:
    from backend.server import app_runner, create_app

    runner = app_runner(create_app(settings))
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        try:
            await site.start()
        except OSError as error:
            raise SettingsError(_listen_problem(settings, error)) from None
        base = f"http://{settings.http_host}:{settings.http_port}"
        log.info("Symptom Diary is running. API: %s/api/v1  health: %s/healthz", base, base)
        log.info("Staff console: %s/console/", base)
        log.info(
            "Create an administrator with: .venv/bin/symptom-diary staff create --name "
            "'Your Name' --role admin --login yourname"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("shutting down")
    finally:
        await runner.cleanup()


def _listen_problem(settings: Settings, error: OSError) -> str:
    """One sentence naming the setting that stops the API from listening."""
    return host_problem(settings.http_host, error) or (
        f"DIARY_HTTP_PORT {settings.http_port} on {settings.http_host} cannot be used "
        f"({error.strerror}); choose another port."
    )


async def _context(settings: Settings, apply_migrations: bool | None = None):
    from backend.server import build_context, open_database

    ctx = build_context(settings)
    await open_database(settings, ctx, apply_migrations=apply_migrations)
    return ctx


async def run_migrations(settings: Settings) -> None:
    ctx = await _context(settings, apply_migrations=True)
    await ctx.db.close()
    print("The database schema is up to date.")


async def apply_overlay(settings: Settings, name: str) -> None:
    from backend.storage.overlays import add_region_partitions, apply_postgresql_partitioning

    ctx = await _context(settings)  # mirrors the regions file: it decides the partitions
    try:
        if name == "postgresql-partitioning":
            done = await apply_postgresql_partitioning(ctx.db)
        else:
            done = await add_region_partitions(ctx.db)
    finally:
        await ctx.db.close()
    print("\n".join(done) if done else "Nothing to do: the overlay is in place.")


async def rotate_totp_keys(settings: Settings) -> None:
    """Step two of a key rotation (deploy/README.md): every secret under the first key."""
    from backend.services.totp_secrets import SETTING, rotate

    ctx = await _context(settings)
    try:
        done = await rotate(ctx)
    finally:
        await ctx.db.close()
    print(
        f"TOTP secrets re-encrypted with the first key: {done.resealed}; "
        f"already under it: {done.current}."
    )
    if done.unreadable:
        raise DomainError(
            f"{len(done.unreadable)} secret(s) cannot be decrypted with any key in {SETTING} "
            f"(logins: {', '.join(done.unreadable)}): keep the old keys until their key is "
            "back in the file, or reset these sign-ins with `staff sign-in`."
        )
    print("Every instance has the new key on top? Then remove the old keys from the file.")


async def create_staff(
    settings: Settings,
    name: str,
    role: str,
    regions: list[str],
    token_days: int = DEFAULT_TOKEN_DAYS,
) -> None:
    from backend.services.staff import create_staff as create

    ctx = await _context(settings)
    try:
        created = await create(ctx, name, role, regions, token_days)
    finally:
        await ctx.db.close()
    print(f"Staff member {name!r} created ({role}), id {created.staff_id}.")
    print("Token, shown only this once:")
    print(created.token)


def _temporary(login: str, password: str) -> None:
    print(f"Console sign-in: {login.strip().lower()}, temporary password, shown only this once:")
    print(password)
    print("At the first sign-in (/console/) it is replaced, and an authenticator app enrolled.")


async def create_console_member(
    settings: Settings, name: str, role: str, regions: list[str], login: str
) -> None:
    from backend.services.signin import create_member

    ctx = await _context(settings)
    try:
        staff_id, password = await create_member(ctx, name, role, regions, login, None)
    finally:
        await ctx.db.close()
    print(f"Staff member {name!r} created ({role}), id {staff_id}.")
    _temporary(login, password)


async def grant_sign_in(settings: Settings, staff_id: str, login: str) -> None:
    from backend.services.signin import grant_sign_in as grant

    ctx = await _context(settings)
    try:
        password = await grant(ctx, _uuid(staff_id, "staff"), login, None)
    finally:
        await ctx.db.close()
    _temporary(login, password)


def _uuid(value: str, what: str):  # noqa: ANN202
    from uuid import UUID

    try:
        return UUID(value)
    except ValueError:
        raise DomainError(f"{value!r} is not a {what} id.") from None


async def disable_staff(settings: Settings, staff_id: str) -> None:
    from backend.services.staff import disable_staff as disable

    ctx = await _context(settings)
    try:
        await disable(ctx, _uuid(staff_id, "staff"), None)
        print("Staff member disabled: tokens revoked, Telegram account unlinked.")
    finally:
        await ctx.db.close()


async def manage_tokens(settings: Settings, args: argparse.Namespace) -> None:
    from backend.services import staff as service

    ctx = await _context(settings)
    try:
        if args.token_command == "create":
            issued = await service.issue_token(ctx, _uuid(args.staff, "staff"), args.days)
            expiry = f"{issued.info.expires_at:%Y-%m-%d}" if issued.info.expires_at else "never"
            print(f"Token {issued.info.id} (expires {expiry}), shown only this once:")
            print(issued.token)
        elif args.token_command == "list":
            for token in await service.list_tokens(ctx, _uuid(args.staff, "staff")):
                state = "revoked" if token.revoked_at else "active"
                expiry = f"{token.expires_at:%Y-%m-%d}" if token.expires_at else "never"
                print(f"{token.id}  created {token.created_at:%Y-%m-%d}  expires {expiry}  {state}")
        else:
            await service.revoke_token(ctx, _uuid(args.token, "token"))
            print("Token revoked.")
    finally:
        await ctx.db.close()


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


async def list_failed_updates(settings: Settings, parked_only: bool) -> None:
    """For an operator: the key (update id and content hash), never the content."""
    from backend.services.update_failures import failed_updates

    ctx = await _context(settings)
    try:
        found = await failed_updates(ctx, parked_only=parked_only)
    finally:
        await ctx.db.close()
    if not found:
        print("No parked updates." if parked_only else "No failed updates.")
        return
    print("update id        attempts  error                      last failure          parked")
    for row in found:
        update_id = row.update_key.partition(":")[0]
        parked = f"{row.parked_at:%Y-%m-%d %H:%M:%S}" if row.parked_at else "-"
        print(
            f"{update_id:<16} {row.attempts:>8}  {row.error[:26]:<26} "
            f"{row.last_failed_at:%Y-%m-%d %H:%M:%S}   {parked}"
        )


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
