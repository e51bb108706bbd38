"""`python -m services.review migrate|serve`."""
from __future__ import annotations

import argparse

from shared.config import Settings
from shared.logging import configure_logging
from shared.migrate import upgrade


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.review")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the review database migrations")
    serve = commands.add_parser("serve", help="run the development web server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int)
    args = parser.parse_args()
    configure_logging("review")
    settings = Settings.from_env()
    if args.command == "migrate":
        upgrade("review", settings.review_database_url)
    elif args.command == "serve":
        from services.review import create_app
        create_app(settings).run(host=args.host, port=args.port or settings.ports["review"])


if __name__ == "__main__":
    main()
