"""Bounded load test of a Triton pose classification model (localhost)."""
import argparse
import json
from typing import Any, Dict, List, Optional

from posecls.deploy.triton.load_test import format_load_report, run_load_test
from posecls.utils.atomic_io import atomic_open


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/deployment/load_test.py`` arguments."""
    p = argparse.ArgumentParser(description='N concurrent clients x M requests against a Triton model; '
                                'reports throughput and p50/p99 latency; exits non-zero on any failed request')
    p.add_argument('-m', '--model-name', default='pose_classification_tao')
    p.add_argument('-u', '--url', default='localhost:8000')
    p.add_argument('-i', '--protocol', default='HTTP')
    p.add_argument('-c', '--concurrency', type=int, default=4)
    p.add_argument('-n', '--requests', type=int, default=20, help='requests per client')
    p.add_argument('-b', '--batch-size', type=int, default=1)
    p.add_argument('--timeout', type=float, default=300.0, help='overall limit in seconds')
    p.add_argument('--out', help='also write the report as JSON')
    p.add_argument('--verbose', action='store_true',
                   help='full log (the config dump, hooks, per-iteration lines) and tracebacks of errors')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Run the load test; prints and returns the report; SystemExit(1) on failed requests."""
    args = parse_args(argv)
    report = run_load_test(args.url, args.model_name, protocol=args.protocol.lower(), concurrency=args.concurrency,
                           requests=args.requests, batch_size=args.batch_size, timeout_s=args.timeout)
    print(format_load_report(report), flush=True)
    if args.out:
        with atomic_open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
    if report['failed']:
        raise SystemExit(f"{report['failed']} of {report['requests']} requests failed: {report['errors']}")
    return report
