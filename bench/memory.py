"""Peak memory (RSS) of an ingest, each measured in a fresh process.

A process's peak RSS is a high-water mark, so each figure needs its own process:
``python -m bench.memory DB ENTITIES PREFIX`` builds a synthetic batch of ``ENTITIES``
entities named with ``PREFIX``, ingests it into the catalog at ``DB`` in one write
transaction, and prints one JSON line: peak RSS before the ingest (interpreter,
imports, the batch itself) and after it, and what the ingest created.

``probe`` runs that from the ingest bench: the 1M ingest, and 1,000 new entities into
an empty catalog versus into the 1M catalog, which must cost about the same.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["probe", "main"]


def _peak_mib() -> float:
    """This process's peak RSS: ``VmHWM`` of /proc/self/status where Linux has it.

    Not ``getrusage().ru_maxrss``: Linux carries that high-water mark over ``exec`` from
    the parent (a bench process holding a 1M-entity batch), so a child would report
    the parent's peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> int:
    db, entities, prefix = Path(argv[0]), int(argv[1]), argv[2]
    from bench.ingest import ingest_batch, open_catalog, synthetic_batch

    catalog = open_catalog(db)
    catalog.engine  # noqa: B018 - open (and migrate) the store before measuring
    batch, _layout = synthetic_batch(entities, prefix=prefix)
    before = _peak_mib()
    result, _changes = ingest_batch(catalog, batch)
    after = _peak_mib()
    catalog.close()
    print(json.dumps({"before_mib": round(before, 1), "peak_mib": round(after, 1),
                      "ingest_mib": round(after - before, 1), "created": len(result.created)}))
    return 0


def probe(db: Path, entities: int, prefix: str) -> dict[str, Any]:
    """Run ``main`` in a fresh interpreter and return its figures."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.memory", str(db), str(entities), prefix],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1], timeout=3600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
