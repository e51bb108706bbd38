"""`python -m services.notify migrate | serve | mailcatcher | dead-letters [--replay [ID ...]] | reconcile`."""
from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from shared.config import Settings
from shared.logging import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.notify", description="The notify service.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the notify database migrations")
    serve = commands.add_parser("serve", help="run the web app (development server)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None)
    commands.add_parser("mailcatcher", help="run the embedded SMTP catcher")
    letters = commands.add_parser("dead-letters", help="list the events the consumer gave up on, or replay them")
    action = letters.add_mutually_exclusive_group()
    action.add_argument("--replay", nargs="*", metavar="ID", help="replay these (default: every open one)")
    action.add_argument("--discard", nargs="+", metavar="ID", help="close these without applying them")
    reconcile_parser = commands.add_parser("reconcile", help="send the emails of status changes notify never handled")
    reconcile_parser.add_argument("--settle", type=float, default=60.0, metavar="SECONDS",
                           help="leave alone applications intake changed this recently (events in flight)")
    args = parser.parse_args()

    configure_logging("notify")
    settings = Settings.from_env()
    if args.command == "migrate":
        from shared.migrate import upgrade

        settings.var_dir.mkdir(parents=True, exist_ok=True)
        upgrade("notify", settings.notify_database_url)
    elif args.command == "serve":
        from services.notify import create_app

        create_app(settings).run(host=args.host, port=args.port or settings.ports.get("notify", 5003))
    elif args.command == "dead-letters":
        from services.notify import create_app
        from shared.bus.consumer import dead_letters_command

        with create_app(settings, web=False).app_context():
            sys.exit(dead_letters_command(task="notify.handle_event", replay_ids=args.replay,
                                          discard_ids=args.discard))
    elif args.command == "reconcile":
        from services.notify import create_app
        from services.notify.deliveries.reconcile import reconcile
        from shared.bus.sync import SyncError

        with create_app(settings, web=False).app_context():
            try:
                print(reconcile(settings=settings, settle=timedelta(seconds=args.settle)).summary())
            except SyncError as exc:
                sys.exit(f"reconcile: {exc}")
    else:
        from services.notify.mailcatcher import main as mailcatcher

        mailcatcher()


if __name__ == "__main__":
    main()
