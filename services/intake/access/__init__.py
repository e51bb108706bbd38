"""The applicant's way back in: drafts, expiring links to the status page, "find my application"."""
