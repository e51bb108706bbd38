"""Candidate and staff emails in the review UI: read from notify's API with a token minted for the signed-in user."""
