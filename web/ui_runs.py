"""The deployment and scoring-run parts of the entity pages: runs, versions scored, the drift chart, batches."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from catalog.model import StoredEntity
from web.impact import epoch_ms, when

__all__ = ["dated", "drift_chart", "pinned", "scoring_detail", "scoring_runs", "SCORING"]

SCORING = "ml_scoring_process"


def dated(name: str, value: Any) -> Any:
    """Atlas ``date`` attributes (epoch milliseconds: ``createTime``, ``complianceCheckedAt``) shown as dates."""
    if (name.endswith("Time") or name.endswith("At")) and isinstance(value, int) and value > 10 ** 11:
        return f"{when(value)} ({value})"
    return value


def _json_attr(entity: StoredEntity, name: str) -> dict[str, Any]:
    value = entity.attributes.get(name)
    if isinstance(value, Mapping):
        return dict(value)
    try:
        parsed = json.loads(value) if isinstance(value, str) and value else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def scoring_runs(catalog: Any, deployment: StoredEntity) -> list[StoredEntity]:
    """The deployment's scoring runs (``score:<deployment>:<run>@<cluster>``), newest first."""
    stem = deployment.qualified_name.rpartition("@")[0]
    found = [e for e in catalog.search(f"score:{stem}:", type_name=SCORING, limit=500)
             if e.attributes.get("deployment") == deployment.qualified_name]
    return sorted(found, key=lambda e: epoch_ms(e.attributes.get("startTime")), reverse=True)


def pinned(runs: list[StoredEntity]) -> list[tuple[str, int, int, int]]:
    """(model version, runs, first start, last start) in the order the versions were first scored."""
    seen: dict[str, list[int]] = {}
    for run in reversed(runs):
        version = str(run.attributes.get("modelVersion") or "")
        seen.setdefault(version, []).append(epoch_ms(run.attributes.get("startTime")))
    return [(v, len(t), min(t), max(t)) for v, t in seen.items()]


def _max_psi(run: StoredEntity) -> tuple[float | None, float | None]:
    """(prediction PSI, the largest feature PSI) of a run's drift record."""
    drift = _json_attr(run, "drift")
    features = [f.get("psi") for f in (drift.get("features") or {}).values() if isinstance(f, Mapping)]
    numbers = [float(v) for v in features if isinstance(v, (int, float))]
    prediction = drift.get("prediction") if isinstance(drift.get("prediction"), Mapping) else {}
    psi = prediction.get("psi")
    return (float(psi) if isinstance(psi, (int, float)) else None, max(numbers) if numbers else None)


def drift_chart(runs: list[StoredEntity], *, width: int = 560, height: int = 160) -> Markup:
    """An inline SVG of prediction drift (PSI) and the largest feature PSI over the runs, oldest left."""
    points = [(_max_psi(r), r) for r in reversed(runs)]
    values = [v for (p, f), _r in points for v in (p, f) if v is not None]
    if not values:
        return Markup('<p class="none">no drift recorded yet</p>')
    top = max(0.3, max(values) * 1.1)
    left, bottom, inner_w, inner_h = 40, height - 24, width - 60, height - 40
    step = inner_w / max(1, len(points) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + (i * step if len(points) > 1 else inner_w / 2), bottom - v / top * inner_h

    parts = [Markup('<svg xmlns="http://www.w3.org/2000/svg" class="drift" width="{}" height="{}" role="img" '
                    'aria-label="drift over scoring runs">').format(width, height),
             Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>').format(left, bottom, left + inner_w, bottom),
             Markup('<text x="4" y="{}" font-size="10">0</text><text x="4" y="{:.0f}" font-size="10">{:.2f}</text>')
             .format(bottom, bottom - inner_h + 4, top)]
    threshold = 0.2
    if threshold < top:
        y = bottom - threshold / top * inner_h
        parts.append(Markup('<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#c0392b" stroke-dasharray="4 3"/>'
                            '<text x="{}" y="{:.1f}" font-size="10" fill="#c0392b">PSI 0.2</text>')
                     .format(left, y, left + inner_w, y, left + inner_w - 40, y - 3))
    for series, colour, label in ((0, "#1d3557", "prediction"), (1, "#e67e22", "largest feature")):
        coords = [xy(i, vals[series]) for i, (vals, _r) in enumerate(points) if vals[series] is not None]
        if len(coords) > 1:
            parts.append(Markup('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>').format(
                colour, " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)))
        for (x, y), (vals, run) in zip(coords, [(v, r) for v, r in points if v[series] is not None], strict=True):
            parts.append(Markup('<circle cx="{:.1f}" cy="{:.1f}" r="3.5" fill="{}"><title>{}: {} PSI {:.4f}</title>'
                                '</circle>').format(x, y, colour, run.qualified_name, label, vals[series]))
    parts.append(Markup('<text x="{}" y="{}" font-size="10" fill="#1d3557">prediction PSI</text>'
                        '<text x="{}" y="{}" font-size="10" fill="#e67e22">largest feature PSI</text></svg>')
                 .format(left, height - 6, left + 110, height - 6))
    return Markup("").join(parts)


def scoring_detail(run: StoredEntity) -> dict[str, Any]:
    checks = _json_attr(run, "checkResults")
    drift = _json_attr(run, "drift")
    by_rule = checks.get("byRule") or {}
    batches = [b for b in checks.get("batches") or () if isinstance(b, Mapping)]
    features = sorted((drift.get("features") or {}).items())
    return {"batches": batches, "omitted": checks.get("batchesOmitted", 0),
            "rules": sorted(((k, v) for k, v in by_rule.items() if isinstance(v, int) and v > 0),
                            key=lambda kv: (-kv[1], kv[0])),
            "features": features, "prediction": drift.get("prediction") or {}}
