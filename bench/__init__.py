"""Benchmarks: ``python -m bench`` (or ``make bench``); see docs/performance.md.

Each bench is a ``run(ctx) -> list[str]`` that prints a table and returns its
``RATIO`` lines; modules are imported only when their bench runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _ingest(ctx: Any) -> list[str]:
    from bench import ingest

    return ingest.run(ctx)


def _lineage(ctx: Any) -> list[str]:
    from bench import lineage

    return lineage.run(ctx)


def _mlflow(ctx: Any) -> list[str]:
    from bench import mlflow_ingest

    return mlflow_ingest.run(ctx)


def _atlas_api(ctx: Any) -> list[str]:
    from bench import atlas_api

    return atlas_api.run(ctx)


def _atlas_search(ctx: Any) -> list[str]:
    from bench import atlas_search

    return atlas_search.run(ctx)


def _compliance(ctx: Any) -> list[str]:
    from bench import compliance

    return compliance.run(ctx)


def _hook(ctx: Any) -> list[str]:
    from bench import hook

    return hook.run(ctx)


def _push(ctx: Any) -> list[str]:
    from bench import push

    return push.run(ctx)


def _scoring(ctx: Any) -> list[str]:
    from bench import scoring

    return scoring.run(ctx)


def _graph(ctx: Any) -> list[str]:
    from bench import graph

    return graph.run(ctx)


def _ui_load(ctx: Any) -> list[str]:
    from bench import ui_load

    return ui_load.run(ctx)


BENCHES: dict[str, Callable[[Any], list[str]]] = {"ingest": _ingest, "lineage": _lineage, "mlflow": _mlflow, "atlas_api": _atlas_api,
                                                  "atlas_search": _atlas_search, "compliance": _compliance, "hook": _hook,
                                                  "push": _push, "scoring": _scoring, "graph": _graph,
                                                  "ui_load": _ui_load}


__all__ = ["BENCHES"]
