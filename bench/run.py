"""`make bench`: every benchmark, one table, written to bench/results/latest.md and printed.

    python bench/run.py [--burst-count 500] [--burst-mode embedded|production] [--submissions-count 300]
                        [--dossier-renders 500]
                        [--notify-count 1000]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time

from common import RESULTS, ROOT, machine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst-count", type=int, default=500)
    parser.add_argument("--burst-mode", choices=("embedded", "production"), default="embedded")
    parser.add_argument("--submissions-count", type=int, default=300)
    parser.add_argument("--dossier-renders", type=int, default=500)
    parser.add_argument("--notify-count", type=int, default=1000)
    args = parser.parse_args()
    runs = {
        "submissions": ["bench/submissions.py", "--count", str(args.submissions_count)],
        "burst": ["bench/burst.py", "--count", str(args.burst_count), "--mode", args.burst_mode],
        "review_list": ["bench/review_list.py"],
        "dossier": ["bench/dossier.py", "--renders", str(args.dossier_renders)],
        "notify": ["bench/notify.py", "--count", str(args.notify_count)],
    }
    tables, failed = [], []
    for name, command in runs.items():
        (RESULTS / f"{name}.md").unlink(missing_ok=True)
        result = subprocess.run([sys.executable, *command], cwd=ROOT)
        if result.returncode != 0 or not (RESULTS / f"{name}.md").exists():
            failed.append(name)
            continue
        tables.append((RESULTS / f"{name}.md").read_text().split("\n\nMachine:")[0])
    rows = [line for table in tables for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    header = "| benchmark | figure | baseline | ratio | aim | met |\n| --- | ---: | ---: | ---: | --- | --- |"
    body = [line for line in rows if not line.startswith("| benchmark |")]
    notes = [line for table in tables for line in table.splitlines() if line.startswith("- ")]
    text = "\n".join([f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}", "",
                      header, *body, "", *notes] + ([f"\nFailed: {', '.join(failed)}"] if failed else [])) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(text)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
