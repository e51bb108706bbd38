"""`python -m services.intake migrate | seed | dead-letters [--replay [ID ...]] | retention | purge-orphans [--dry-run]`."""
import argparse
import sys

from shared.config import Settings
from shared.logging import configure_logging
from shared.migrate import upgrade


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.intake")
    parser.add_argument("command", choices=["migrate", "seed", "dead-letters", "retention", "purge-orphans"])
    parser.add_argument("--dry-run", action="store_true",
                        help="retention, purge-orphans: list what would be erased, erase nothing")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--replay", nargs="*", metavar="ID",
                        help="dead-letters: replay these (default: every open one)")
    action.add_argument("--discard", nargs="+", metavar="ID", help="dead-letters: close these without applying them")
    args = parser.parse_args()
    configure_logging("intake")
    settings = Settings.from_env()
    if args.command == "migrate":
        upgrade("intake", settings.intake_database_url)
    elif args.command == "seed":
        from services.intake import models  # noqa: F401
        from services.intake.db import db
        from services.intake.programme.service import seed_call

        db.configure(settings.intake_database_url)
        call = seed_call(session=db.session, deadline=settings.call_deadline)
        db.session.commit()
        print(f"call {call.code} open until {call.deadline.isoformat()}")
    elif args.command in ("retention", "purge-orphans"):
        from services.intake import create_app
        from services.intake.privacy.tasks import apply_retention, purge_orphans

        with create_app(settings, web=False).app_context():
            if args.command == "retention":
                found = [f"{reference} ({status})" for reference, status in apply_retention(dry_run=args.dry_run)]
            else:
                found = purge_orphans(dry_run=args.dry_run)
        verb = "would erase" if args.dry_run else "erased"
        print("\n".join(found + [f"{verb} {len(found)} {'application' if args.command == 'retention' else 'file'}(s)"]))
    elif args.command == "dead-letters":
        from services.intake import create_app
        from shared.bus.consumer import dead_letters_command

        with create_app(settings, web=False).app_context():
            sys.exit(dead_letters_command(task="intake.handle_event", replay_ids=args.replay,
                                          discard_ids=args.discard))


if __name__ == "__main__":
    main()
