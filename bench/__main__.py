"""``python -m bench [ingest|lineage|mlflow ...] [--size quick|full|1m] [--quick]``: run the benchmarks.

Every bench prints its figures and a ``RATIO`` line against a baseline measured in
the same process; see docs/performance.md for what each measures and the targets.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from bench import BENCHES
from bench.common import FULL, QUICK, SIZES, Context, machine


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benches to run (default: all): {', '.join(BENCHES)}")
    parser.add_argument("--size", choices=list(SIZES), default=None,
                        help=f"catalog size: quick ({QUICK.entities:,} entities), full ({FULL.entities:,}, the default) "
                             f"or 1m ({SIZES['1m'].entities:,}; builds for minutes)")
    parser.add_argument("--quick", action="store_true", help="= --size quick: tiny sizes (the smoke test's); "
                        "figures are meaningless")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown bench {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    names = list(dict.fromkeys(args.names)) or list(BENCHES)
    if args.quick and args.size not in (None, QUICK.name):
        parser.error(f"--quick (= --size quick) contradicts --size {args.size}")
    sizes = QUICK if args.quick else SIZES[args.size or FULL.name]
    print(f"# bench sizes={sizes.name} {machine()}", flush=True)
    ratios: list[str] = []
    with Context(sizes) as ctx:
        for name in names:
            print(f"\n## {name}", flush=True)
            start = time.perf_counter()
            ratios.extend(BENCHES[name](ctx))
            print(f"({name} bench took {time.perf_counter() - start:.1f} s)", flush=True)
    print("\n## summary" + (" (--quick: smoke-test sizes, figures and verdicts mean nothing)" if sizes is QUICK else ""))
    for line in ratios:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
