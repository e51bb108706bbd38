"""The notify service's database: its declarative base, session, outbox and inbox."""
from shared.bus import dead_letter_table, inbox_table, outbox_table
from shared.db import Database, new_base

Base = new_base()
db = Database()
OUTBOX = outbox_table(Base.metadata)
INBOX = inbox_table(Base.metadata)
DEAD_LETTERS = dead_letter_table(Base.metadata)
