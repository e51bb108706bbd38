"""The dossier: one PDF per application, a summary followed by the uploaded PDFs."""
