"""`nip-load`: send synthetic applications to a running intake and print a summary."""
from __future__ import annotations

import argparse
import statistics
import sys

import requests

from loadgen import Summary
from loadgen.client import submit
from loadgen.documents import DEFAULT_SIZE


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nip-load", description="Send N realistic synthetic applications to intake.")
    parser.add_argument("--url", default="http://127.0.0.1:5001", help="intake's base URL (default: %(default)s)")
    parser.add_argument("-n", "--count", type=int, default=50, help="applications to send (default: %(default)s)")
    parser.add_argument("-c", "--concurrency", type=int, default=4, help="parallel clients (default: %(default)s)")
    parser.add_argument("--ineligible", type=float, default=0.1, help="share that is ineligible (default: %(default)s)")
    parser.add_argument("--incomplete", type=float, default=0.1,
                        help="share with a missing document or a motivation outside the word range, which intake "
                             "refuses with 422 (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default: %(default)s)")
    parser.add_argument("--doc-kb", type=int, default=DEFAULT_SIZE // 1024,
                        help="approximate size of each CV and proof of studies in KB (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per request (default: %(default)s)")
    parser.add_argument("--retries", type=int, default=3, help="retries of a transient failure (default: %(default)s)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.count < 0 or args.concurrency < 1 or not 0 <= args.ineligible + args.incomplete <= 1:
        parser.error("need count >= 0, concurrency >= 1 and 0 <= ineligible + incomplete <= 1")
    return args


def table(summary: Summary) -> str:
    """The run as a small text table."""
    rows = [("sent", str(summary.sent)), ("accepted", str(len(summary.accepted)))]
    expected = {}
    for item in summary.accepted:
        expected[item.expected] = expected.get(item.expected, 0) + 1
    rows += [(f"  expected {status}", str(n)) for status, n in sorted(expected.items())]
    rows.append(("refused", str(sum(summary.refused.values()))))
    rows += [(f"  {code}", str(n)) for code, n in summary.refused.most_common()]
    if summary.unexpected:
        rows.append(("unexpected outcomes", ", ".join(f"{c}: {n}" for c, n in summary.unexpected.most_common())))
    rows.append(("retried (same Idempotency-Key)", str(summary.retries)))
    rows.append(("seconds", f"{summary.seconds:.1f}"))
    rows.append(("rate (applications/s)", f"{summary.rate:.1f}"))
    if summary.latencies:
        ordered = sorted(summary.latencies)
        rows.append(("latency median / p95 (ms)", f"{statistics.median(ordered) * 1000:.0f} / "
                                                  f"{ordered[int(0.95 * (len(ordered) - 1))] * 1000:.0f}"))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = submit(args.url, count=args.count, concurrency=args.concurrency, ineligible_share=args.ineligible,
                         incomplete_share=args.incomplete, seed=args.seed, progress=not args.quiet,
                         timeout=args.timeout, retries=args.retries, doc_size=args.doc_kb * 1024)
    except (requests.RequestException, RuntimeError) as exc:
        print(f"nip-load: cannot use intake at {args.url}: {exc}", file=sys.stderr)
        return 2
    print(table(summary))
    return 0 if summary.ok and summary.sent == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
