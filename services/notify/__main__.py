"""`python -m services.notify migrate | serve | mailcatcher`."""
from __future__ import annotations

import argparse

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
    else:
        from services.notify.mailcatcher import main as mailcatcher

        mailcatcher()


if __name__ == "__main__":
    main()
