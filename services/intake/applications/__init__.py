"""Applications: submission, the status machine, checks, and what applicants can do."""
