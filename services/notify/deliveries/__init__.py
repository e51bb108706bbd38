"""Candidate emails: one delivery per status change, rendered from templates, sent over SMTP."""
