"""`python -m services.intake migrate|seed`."""
import argparse

from shared.config import Settings
from shared.logging import configure_logging
from shared.migrate import upgrade


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.intake")
    parser.add_argument("command", choices=["migrate", "seed"])
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


if __name__ == "__main__":
    main()
