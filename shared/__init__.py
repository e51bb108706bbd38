"""Contracts and plumbing every service needs and no service owns."""
