"""Uploaded documents: judged by their content, never by their name or declared type."""
