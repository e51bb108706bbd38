"""`python -m services.review migrate | serve | dead-letters [--replay [ID ...]] | reconcile`."""
from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from shared.config import Settings
from shared.logging import configure_logging
from shared.migrate import upgrade


def after_upgrade(settings: Settings) -> None:
    """ADMIN_EMAIL/ADMIN_PASSWORD become the first admin when there is no user yet; open assignments left with
    accounts that may no longer keep them (changed before changes handed them over) go to other reviewers."""
    from services.review import models  # noqa: F401
    from services.review.accounts.service import ensure_first_admin
    from services.review.db import db
    from services.review.reviews.service import hand_over_stranded

    db.configure(settings.review_database_url)
    try:
        if ensure_first_admin(session=db.session, email=settings.admin_email, password=settings.admin_password):
            print("first admin created")
        handover = hand_over_stranded(session=db.session, actor="migrate")
        db.session.commit()
        if handover.moved or handover.unassigned:
            print(f"open assignments handed over: {handover.moved} moved, {handover.unassigned} left unassigned")
    finally:
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.review")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the review database migrations and create the first admin")
    serve = commands.add_parser("serve", help="run the development web server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int)
    letters = commands.add_parser("dead-letters", help="list the events the consumer gave up on, or replay them")
    action = letters.add_mutually_exclusive_group()
    action.add_argument("--replay", nargs="*", metavar="ID", help="replay these (default: every open one)")
    action.add_argument("--discard", nargs="+", metavar="ID", help="close these without applying them")
    reconcile_parser = commands.add_parser("reconcile", help="repair the read model from intake's truth")
    reconcile_parser.add_argument("--settle", type=float, default=60.0, metavar="SECONDS",
                           help="leave alone applications intake changed this recently (events in flight)")
    args = parser.parse_args()
    configure_logging("review")
    settings = Settings.from_env()
    if args.command == "migrate":
        from services.review import require_admin_password
        require_admin_password(settings)  # before anything changes
        upgrade("review", settings.review_database_url)
        after_upgrade(settings)
    elif args.command == "serve":
        from services.review import create_app
        create_app(settings).run(host=args.host, port=args.port or settings.ports["review"])
    elif args.command == "dead-letters":
        from services.review import create_app
        from shared.bus.consumer import dead_letters_command

        with create_app(settings, first_admin=False, web=False).app_context():
            sys.exit(dead_letters_command(task="review.handle_event", replay_ids=args.replay,
                                          discard_ids=args.discard))
    elif args.command == "reconcile":
        from services.review import create_app
        from services.review.applications.reconcile import reconcile
        from shared.bus.sync import SyncError

        with create_app(settings, first_admin=False, web=False).app_context():
            try:
                print(reconcile(settings=settings, settle=timedelta(seconds=args.settle)).summary())
            except SyncError as exc:
                sys.exit(f"reconcile: {exc}")


if __name__ == "__main__":
    main()
