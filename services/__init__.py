"""The three services: intake, review and notify. They never import each other."""
