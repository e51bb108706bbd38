"""What notify knows about staff: who may read which application's emails, and the reviewers' daily digest."""
