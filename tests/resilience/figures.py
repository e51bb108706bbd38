"""The figures each resilience scenario measured, printed in one table at the end of the run."""
from __future__ import annotations

FIGURES: list[dict] = []
COLUMNS = ("scenario", "sent", "applications", "kills", "restarts", "cuts", "burst s", "quiet s", "resent", "reconciled")


def record(**figures) -> None:
    FIGURES.append(figures)
    print("resilience:", ", ".join(f"{k}={v}" for k, v in figures.items()))


def table() -> list[str]:
    rows = [[str(row.get(column, "")) for column in COLUMNS] for row in FIGURES]
    widths = [max(len(column), *(len(row[i]) for row in rows)) for i, column in enumerate(COLUMNS)]
    line = lambda cells: "  ".join(cell.ljust(width) for cell, width in zip(cells, widths))  # noqa: E731
    return [line(COLUMNS), line(["-" * w for w in widths]), *(line(row) for row in rows)]
