"""The web UI under load: 50 concurrent clients for 30 s against the pages (issue 10, Performance).

The catalog is the ingest bench's synthetic one (100,000 entities on SQLite; quick: 2,000),
served by ``catalog serve --workers 2`` (gunicorn, two gthread worker processes of 4
threads each, kept connections) on loopback with ``CATALOG_READ_ACCESS=open``, in a process
of its own (``bench.atlas_api.serving``). The load comes from another process
(``bench.ui_load_client``): ``CLIENTS`` threads, each with one kept ``http.client``
connection. The bench's own process only builds the catalog and reads the answers.

Two load models, each over every target:

- **people** (the targets are judged here): each of the 50 clients is a person browsing,
  who reads a page before asking for the next: a think time drawn from ``THINK`` (0.5 to
  1.5 s) after each answer, as a locust user with ``wait_time = between(0.5, 1.5)``;
- **saturation** (information): the same 50 clients in a closed loop without think time, 50
  requests in flight at all times: the most the server answers per second on this machine,
  and the queueing latency at that rate (p50 is 50 / requests per second).

Targets, each run with the same load, in ``ROUNDS`` interleaved rounds (healthz, model page,
table page, lineage, then again), ``SECONDS`` in all per target and model, after an
unmeasured warm-up of every target (each worker imports igraph and compiles the templates
once):

- ``healthz``: ``/healthz`` (one ``SELECT 1``), the baseline;
- ``ui-model-page``: the model-version page ``/models/<name>/<version>``, cycling over every
  model version of the catalog (1,000 at full size: more than the 128 layouts a worker
  caches, so every page lays out and draws its graph again; the synthetic batch makes no
  ``ml_registered_model``, so there is no ``/models/<name>`` page to load);
- ``ui-table-page`` (information): the entity page of the busiest tables (most lineage
  edges), cycling over ``BUSY_TABLES`` of them;
- ``ui-lineage-depth3``: ``/entity/ml_model_version/<qn>?depth=3``, the version's page with
  its lineage graph three hops each way drawn as SVG on the server, cycling over every
  version as well.

Printed per model and target: requests, errors (anything but a 200 with a body), p50, p95,
p99, and requests/s; then ``LATENCY`` verdicts under the people model (p95 at most 100 ms),
the model page's p50 against ``/healthz``'s, ``SATURATION`` lines (information) and
``ERRORS ui`` (target 0, over both models and the workers comparison).
``BENCH_UI_WORKERS`` (default 2) changes ``--workers`` for an experiment
(docs/performance.md says why 2).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.common import Context, QUICK, median, percentile, print_table, ratio_line

__all__ = ["run"]

CLIENTS, QUICK_CLIENTS = 50, 5
SECONDS, QUICK_SECONDS = 30.0, 3.0
ROUNDS, QUICK_ROUNDS = 3, 1
WARMUP, QUICK_WARMUP = 2.0, 0.5
P95_TARGET_MS = 100.0
#: The people model's think time after each answer, seconds (locust's ``between(0.5, 1.5)``).
THINK = (0.5, 1.5)
BUSY_TABLES = 20
WORKERS = 2
#: The ``--workers`` comparison (information): seconds of model-page load per worker count.
COMPARE, QUICK_COMPARE = 10.0, 1.0
_ROOT = Path(__file__).resolve().parents[1]


def _entity_url(type_name: str, qualified_name: str) -> str:
    return f"/entity/{quote(type_name, safe='')}/{quote(qualified_name, safe='/@:')}"


def _targets(ctx: Context) -> dict[str, list[str]]:
    """Target name -> the paths its clients cycle over."""
    from bench.ingest import _batch

    batch, _layout = _batch(ctx)
    versions = [e for e in batch.entities if e.type_name == "ml_model_version"]
    edges: Counter[str] = Counter()
    for e in batch.entities:
        if "inputs" in e.attributes:
            for ref in (*(e.attributes.get("inputs") or ()), *(e.attributes.get("outputs") or ())):
                if ref.type_name == "hive_table":
                    edges[ref.qualified_name] += 1
    busy = [qn for qn, _ in edges.most_common(BUSY_TABLES)]
    # spread consecutive paths over models, so two clients rarely ask for the same one at once
    versions.sort(key=lambda e: (int(e.attributes["version"]), e.attributes["modelName"]))
    return {
        "healthz": ["/healthz"],
        "ui-model-page": [f"/models/{quote(e.attributes['modelName'])}/{e.attributes['version']}" for e in versions],
        "ui-table-page": [_entity_url("hive_table", qn) for qn in busy],
        "ui-lineage-depth3": [_entity_url(e.type_name, e.qualified_name) + "?depth=3" for e in versions],
    }


def _load(url: str, paths_file: Path, clients: int, seconds: float,
          think: tuple[float, float] | None = None) -> dict[str, Any]:
    """Run ``bench.ui_load_client`` in its own process; its JSON answer."""
    command = [sys.executable, "-m", "bench.ui_load_client", url, str(paths_file), str(clients), str(seconds),
               *((str(think[0]), str(think[1])) if think else ())]
    done = subprocess.run(command, cwd=_ROOT, capture_output=True, text=True, timeout=seconds + 120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench.ui_load_client failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def _compare_workers(path: Path, where: Path, paths_file: Path, clients: int, seconds: float, warmup: float) -> int:
    """``--workers`` 1 and 2 under the model page's load, one after the other (information); the errors."""
    from bench.atlas_api import serving

    rows, errors = [], 0
    for workers in (1, 2):
        with serving(path, where, workers=workers) as url:
            _load(url, paths_file, clients, warmup)
            answer = _load(url, paths_file, clients, seconds)
        t = answer["seconds"] or [float("nan")]
        errors += answer["errors"]
        done = len(answer["seconds"]) + answer["errors"]
        rows.append((f"--workers {workers}", f"{done:,}", answer["errors"], f"{median(t) * 1000:.1f} ms",
                     f"{percentile(t, 95) * 1000:.1f} ms", f"{done / answer['elapsed']:,.0f}"))
    print(f"catalog serve --workers 1 vs 2 (information): ui-model-page, {clients} clients without think time, "
          f"{seconds:g} s each")
    print_table(("server", "requests", "errors", "p50", "p95", "requests/s"), rows)
    return errors


@dataclass
class Measured:
    """One load model's answers per target, and their percentiles in ms."""

    results: dict[str, dict[str, Any]]
    p50: dict[str, float] = field(default_factory=dict)
    p95: dict[str, float] = field(default_factory=dict)
    rate: dict[str, float] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return sum(got["errors"] for got in self.results.values())


def _measure(url: str, files: dict[str, Path], clients: int, seconds: float, rounds: int,
             think: tuple[float, float] | None) -> Measured:
    """Every target under one load model, in ``rounds`` interleaved rounds; prints its table."""
    results: dict[str, dict[str, Any]] = {n: {"seconds": [], "errors": 0, "samples": [], "elapsed": 0.0, "cpu": 0.0}
                                          for n in files}
    for _ in range(rounds):
        for name in files:
            answer = _load(url, files[name], clients, seconds / rounds, think)
            got = results[name]
            got["seconds"].extend(answer["seconds"])
            got["errors"] += answer["errors"]
            got["samples"].extend(answer["error_samples"])
            got["elapsed"] += answer["elapsed"]
            got["cpu"] += answer["cpu"]
    measured = Measured(results)
    rows = []
    for name, got in results.items():
        t = got["seconds"] or [float("nan")]
        measured.p50[name], measured.p95[name] = median(t) * 1000, percentile(t, 95) * 1000
        done = len(got["seconds"]) + got["errors"]
        measured.rate[name] = done / got["elapsed"]
        rows.append((name + ("" if name != "ui-table-page" else " (info)"), f"{done:,}", got["errors"],
                     f"{measured.p50[name]:.1f} ms", f"{measured.p95[name]:.1f} ms",
                     f"{percentile(t, 99) * 1000:.1f} ms", f"{measured.rate[name]:,.0f}",
                     f"{got['cpu'] / got['elapsed']:.0%}"))
    model = (f"people: {clients} clients, think time {think[0]:g}-{think[1]:g} s" if think
             else f"saturation (information): {clients} clients, no think time")
    print(f"{model}, {seconds:g} s per target")
    print_table(("target", "requests", "errors", "p50", "p95", "p99", "requests/s", "load generator CPU"), rows)
    for name, got in results.items():
        for sample in got["samples"][:3]:
            print(f"error ({name}): {sample}")
    return measured


def run(ctx: Context) -> list[str]:
    from bench.atlas_api import serving
    from bench.lineage import _catalog

    quick = ctx.sizes is QUICK
    clients = QUICK_CLIENTS if quick else CLIENTS
    seconds = QUICK_SECONDS if quick else SECONDS
    rounds = QUICK_ROUNDS if quick else ROUNDS
    warmup = QUICK_WARMUP if quick else WARMUP
    workers = int(os.environ.get("BENCH_UI_WORKERS", WORKERS))

    built = _catalog(ctx)
    targets = _targets(ctx)
    where = ctx.dir("ui-load")
    files = {}
    for name, paths in targets.items():
        files[name] = where / f"{name}.json"
        files[name].write_text(json.dumps(paths))
    print(f"catalog: {built.layout.entities:,} entities on SQLite; catalog serve --workers {workers} (gunicorn "
          f"gthread, 4 threads each) on loopback; {clients} clients (one process, one kept http.client connection "
          f"each) for {seconds:g} s per target and load model in {rounds} interleaved round(s)")
    print(f"paths: {len(targets['ui-model-page'])} model versions (model page, lineage depth 3), "
          f"{len(targets['ui-table-page'])} busiest tables (table page), e.g. {targets['ui-model-page'][0]}, "
          f"{targets['ui-lineage-depth3'][0]}, {targets['ui-table-page'][0]}")
    with serving(built.path, where, workers=workers) as url:
        for name in targets:  # warm every worker: imports, templates, the store's connections
            _load(url, files[name], clients, warmup)
        people = _measure(url, files, clients, seconds, rounds, THINK)
        saturation = _measure(url, files, clients, seconds, rounds, None)
    errors = people.errors + saturation.errors
    errors += _compare_workers(built.path, ctx.dir("ui-load-workers"), files["ui-model-page"], clients,
                               QUICK_COMPARE if quick else COMPARE, warmup)

    def latency(name: str) -> str:
        verdict = "MET" if people.p95[name] <= P95_TARGET_MS else "MISSED"
        return (f"LATENCY {name} p95 = {people.p95[name]:.1f} ms (target <= {P95_TARGET_MS:g} ms) {verdict} "
                f"({clients} clients with think time {THINK[0]:g}-{THINK[1]:g} s, {built.layout.entities:,} entities)")

    def most(name: str) -> str:
        return (f"SATURATION {name} = {saturation.rate[name]:,.0f} requests/s, p50 {saturation.p50[name]:.1f} ms, "
                f"p95 {saturation.p95[name]:.1f} ms ({clients} clients without think time, information)")

    return [
        latency("ui-model-page"),
        latency("ui-lineage-depth3"),
        ratio_line("ui-model-page/healthz p50", people.p50["ui-model-page"] / people.p50["healthz"], None),
        most("healthz"),
        most("ui-model-page"),
        most("ui-lineage-depth3"),
        f"ERRORS ui = {errors} (target 0) {'MET' if errors == 0 else 'MISSED'}",
    ]
