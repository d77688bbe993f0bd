"""``store.lineage`` + ``lineage_to_atlas`` against an expectation computed on its own, on both backends.

The expectation walks the batch's own ``inputs``/``outputs`` in Python (Atlas data-set
hops; only ACTIVE processes are crossed; deleted processes hidden), makes each header
with ``entity_header`` from the *full* stored entity (``store.get_entities``, which
parses the whole attribute map) and reads relationship ids from ``lineage_edge``. The
answer must be the same JSON text, byte for byte, key order included, for every entity
of the graph as base, every direction and several depths. The graph has a cycle, a
deleted process, a deleted data set, tags (direct, propagated, not propagating) and a
run whose metrics hold NaN and -Infinity (text the databases' JSON functions refuse).
"""

from __future__ import annotations

import json
from collections import deque

import pytest
from sqlalchemy import select

from catalog import store
from catalog.atlas import entity_header, lineage_to_atlas
from catalog.errors import NotFound
from catalog.model import (
    ACTIVE,
    LINEAGE_HEADER_KEYS,
    Classification,
    Entity,
    EntityHeader,
    EntityRef,
    SourceBatch,
)

USER = "tester"


def table(name: str, **attrs) -> Entity:
    return Entity("hive_table", f"db.{name}@cm", {"name": name, **attrs})


def run(name: str, inputs: list[Entity], outputs: list[Entity], **attrs) -> Entity:
    return Entity("ml_training_run", f"run:{name}@mlflow", {
        "name": name, "userName": "ann", "inputs": [e.ref for e in inputs], "outputs": [e.ref for e in outputs], **attrs})


def graph_batch() -> tuple[SourceBatch, dict[str, Entity]]:
    """A small lineage graph; the names map to its entities."""
    t = {n: table(n, owner=f"team-{n}", description=f"table {n}", createTime=1_700_000_000_000 + i)
         for i, n in enumerate(["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "t10", "t11"])}
    t["t1"].classifications.append(Classification("PII"))
    t["t2"].classifications.append(Classification("SENSITIVE", propagate=False))
    t["t7"] = table("t7", description="é 😀 \u0000 NaN \\u0000 \"q\"", owner=None)  # null owner, escapes
    t["t8"] = Entity("hive_table", "db.t8@cm", {"qualifiedName": "db.t8@cm", "name": ""})  # qn in attributes
    version = Entity("ml_model_version", "m/1@mlflow", {"name": "m v1", "version": 1, "modelName": "m"})
    deployment = Entity("ml_deployment", "m-1:prod@cm", {
        "name": "m prod", "createTime": 0, "deployedTime": 0, "status": "deployed", "cpuMillicores": 0, "mode": "batch"})
    procs = {
        "p1": run("p1", [t["t1"], t["t2"]], [t["t3"]], metrics={"rmse": float("nan"), "low": float("-inf")},
                  params={"alpha": "0.5"}, description="trains"),
        "p2": run("p2", [t["t3"]], [t["t4"], t["t5"]]),
        "p3": run("p3", [t["t4"]], [t["t6"]]),  # deleted below: hidden, not crossed
        "p4": run("p4", [t["t5"], t["t7"]], [t["t1"]]),  # closes the cycle t1 -> t3 -> t5 -> t1
        "p5": run("p5", [t["t4"]], [t["t9"]]),
        "p6": run("p6", [t["t9"]], [t["t10"]]),  # t9 is deleted below: still crossed
        "train": run("train", [t["t4"], t["t8"]], [version]),
        "sink": run("sink", [t["t11"]], []),  # a process with no outputs
        "deploy": Entity("ml_model_deploy_process", "deploy:m-1@cm", {
            "name": "deploy m", "userName": "ann", "inputs": [version.ref, t["t10"].ref], "outputs": [deployment.ref]}),
    }
    named = {**t, **procs, "version": version, "deployment": deployment}
    order = [*t.values(), version, deployment, *procs.values()]
    return SourceBatch("test", order), named


def ingest(catalog, batch: SourceBatch, *deleted: Entity) -> None:
    with catalog.write_session() as session, session.begin():
        store.upsert_batch(session, batch, catalog.registry, user=USER)
        for entity in deleted:
            assert store.delete_entity(session, entity.guid, user=USER, source="test")
        store.recompute_propagation(session, user=USER, source="test")


class Expected:
    """The lineage answer computed from the batch and the stored rows, without ``store.lineage``."""

    def __init__(self, catalog, batch: SourceBatch, deleted: set[str]) -> None:
        self.edges: set[tuple[str, str]] = set()
        self.process: set[str] = set()
        for e in batch.entities:
            if catalog.registry.is_process(e.type_name):
                self.process.add(e.guid)
                self.edges.update((ref.guid, e.guid) for ref in e.inputs)
                self.edges.update((e.guid, ref.guid) for ref in e.outputs)
        self.active = {e.guid for e in batch.entities if e.guid not in deleted}
        with catalog.session() as session:
            self.full = store.get_entities(session, sorted(e.guid for e in batch.entities))
            self.rel_id = {(r.from_guid, r.to_guid): r.relationship_guid for r in session.scalars(select(store.EdgeRow))}
        assert set(self.rel_id) == self.edges

    def _edges_at(self, guid: str, upstream: bool) -> list[tuple[str, str]]:
        return [e for e in self.edges if (e[1] if upstream else e[0]) == guid]

    def _direction(self, base: str, upstream: bool, limit: int) -> set[tuple[str, str]]:
        far = (lambda e: e[0]) if upstream else (lambda e: e[1])
        relations: set[tuple[str, str]] = set()
        if base in self.process:
            relations.update(self._edges_at(base, upstream))
            depth = {far(e): 1 for e in relations}
        else:
            depth = {base: 0}
        queue = deque(depth)
        while queue:  # breadth first: each data set is expanded once, at its least depth
            node = queue.popleft()
            if depth[node] >= limit:
                continue
            for edge in self._edges_at(node, upstream):
                relations.add(edge)
                proc = far(edge)
                for step in self._edges_at(proc, upstream):
                    relations.add(step)
                    if proc in self.active and far(step) not in depth:
                        depth[far(step)] = depth[node] + 1
                        queue.append(far(step))
        return relations

    def answer(self, base: str, direction: str, depth: int, max_depth: int = 50) -> dict:
        limit = max_depth if depth == 0 else min(depth, max_depth)
        relations: set[tuple[str, str]] = set()
        for upstream in {"INPUT": [True], "OUTPUT": [False], "BOTH": [True, False]}[direction]:
            relations |= self._direction(base, upstream, limit)
        hidden = {g for g in self.process if g not in self.active and g != base}
        kept = sorted(r for r in relations if not hidden & set(r))
        nodes = {g for r in kept for g in r} | {base}
        return {
            "baseEntityGuid": base,
            "lineageDirection": direction,
            "lineageDepth": depth,
            "guidEntityMap": {g: entity_header(self.full[g]) for g in sorted(nodes)},
            "relations": [{"fromEntityId": a, "toEntityId": b, "relationshipId": self.rel_id[(a, b)]} for a, b in kept],
            "relationsOnDemand": {},
        }


def text(body: dict) -> str:
    return json.dumps(body, indent=1, sort_keys=False)


@pytest.fixture
def graph(catalog):
    batch, named = graph_batch()
    ingest(catalog, batch, named["p3"], named["t9"])
    return named, Expected(catalog, batch, {named["p3"].guid, named["t9"].guid})


def test_every_base_direction_and_depth_matches_the_expectation_byte_for_byte(catalog, graph):
    named, expected = graph
    checked = 0
    with catalog.session() as session:
        for entity in named.values():
            for direction in ("INPUT", "OUTPUT", "BOTH"):
                for depth in (0, 1, 2, 3):
                    graph_ = store.lineage(session, entity.guid, direction=direction, depth=depth,
                                           registry=catalog.registry)
                    assert text(lineage_to_atlas(graph_)) == text(expected.answer(entity.guid, direction, depth)), (
                        entity.qualified_name, direction, depth)
                    checked += 1
    assert checked == len(named) * 12


def test_the_walk_really_goes_around_the_cycle_and_past_the_deleted_data_set(catalog, graph):
    """The expectation is not trivially small: depth matters, the cycle closes, deleted parts behave."""
    named, _ = graph
    g = {k: e.guid for k, e in named.items()}
    with catalog.session() as session:
        both = store.lineage(session, g["t3"], direction="BOTH", depth=0, registry=catalog.registry)
        one = store.lineage(session, g["t3"], direction="OUTPUT", depth=1, registry=catalog.registry)
    assert {g["t1"], g["t7"], g["t10"], g["deployment"], g["t9"], g["p6"]} <= set(both.entities)
    assert g["p3"] not in both.entities and g["t6"] not in both.entities  # behind the deleted process
    assert set(one.entities) == {g["t3"], g["p2"], g["t4"], g["t5"]}
    assert both.entities[g["t9"]].status == "DELETED"


def test_a_limited_max_depth_caps_unlimited_depth(catalog, graph):
    named, expected = graph
    with catalog.session() as session:
        for base in ("t1", "p1", "deployment"):
            answer = store.lineage(session, named[base].guid, direction="BOTH", depth=0, max_depth=2,
                                   registry=catalog.registry)
            assert text(lineage_to_atlas(answer)) == text(expected.answer(named[base].guid, "BOTH", 0, max_depth=2))


def test_headers_carry_what_web_and_cli_read_with_the_stored_values(catalog, graph):
    named, expected = graph
    with catalog.session() as session:
        answer = store.lineage(session, named["t4"].guid, direction="BOTH", depth=3, registry=catalog.registry)
    assert len(answer.entities) > 10
    for guid, header in answer.entities.items():
        full = expected.full[guid]
        assert isinstance(header, EntityHeader)
        assert (header.guid, header.type_name, header.qualified_name, header.status, header.name) == (
            full.guid, full.type_name, full.qualified_name, full.status, full.name)
        assert header.classifications == full.classifications
        assert dict(header.attributes) == {k: full.attributes[k] for k in LINEAGE_HEADER_KEYS if k in full.attributes}
        assert ("inputs" in header.attributes) == (guid in expected.process)  # the CLI's dot shapes


def test_header_values_survive_escapes_nulls_nan_and_a_stored_qualified_name(catalog, graph):
    named, _ = graph
    with catalog.session() as session:
        headers = {}
        for base, direction in (("t3", "BOTH"), ("version", "INPUT")):
            body = lineage_to_atlas(store.lineage(session, named[base].guid, direction=direction, depth=3,
                                                  registry=catalog.registry))
            headers.update(body["guidEntityMap"])
    assert headers[named["t7"].guid]["attributes"] == {
        "name": "t7", "description": "é 😀 \u0000 NaN \\u0000 \"q\"", "owner": None, "qualifiedName": "db.t7@cm"}
    assert list(headers[named["t8"].guid]["attributes"].items()) == [("qualifiedName", "db.t8@cm"), ("name", "")]
    assert headers[named["t8"].guid]["displayText"] == "db.t8@cm"
    assert headers[named["p1"].guid]["attributes"] == {"name": "p1", "description": "trains", "qualifiedName": "run:p1@mlflow"}
    assert headers[named["t1"].guid]["classificationNames"] == ["PII"]
    assert headers[named["t3"].guid]["classificationNames"] == ["PII"]  # propagated from t1
    assert headers[named["t2"].guid]["classificationNames"] == ["SENSITIVE"]
    assert headers[named["t1"].guid]["attributes"]["createTime"] == 1_700_000_000_000


def test_without_a_registry_processes_are_told_by_their_inputs_and_outputs(catalog, graph):
    named, expected = graph
    with catalog.session() as session:
        for base in ("t4", "p3", "t9"):
            answer = store.lineage(session, named[base].guid, direction="BOTH", depth=3, registry=None)
            assert text(lineage_to_atlas(answer)) == text(expected.answer(named[base].guid, "BOTH", 3))


def test_an_unknown_base_is_not_found_and_a_process_without_outputs_is_alone(catalog, graph):
    named, _ = graph
    with catalog.session() as session:
        with pytest.raises(NotFound, match="no entity with guid 00000000-0000-0000-0000-000000000000"):
            store.lineage(session, "00000000-0000-0000-0000-000000000000", registry=catalog.registry)
        alone = store.lineage(session, named["sink"].guid, direction="OUTPUT", depth=3, registry=catalog.registry)
    assert set(alone.entities) == {named["sink"].guid} and alone.relations == ()


def test_an_answer_of_more_than_one_query_chunk_matches(catalog):
    """950 outputs of one run: more entities than an IN list of ``catalog.canonical.CHUNK`` (900) holds."""
    source = table("source")
    outputs = [table(f"out_{i:04d}") for i in range(950)]
    batch = SourceBatch("test", [source, *outputs, run("fan", [source], outputs)])
    ingest(catalog, batch)
    expected = Expected(catalog, batch, set())
    with catalog.session() as session:
        answer = store.lineage(session, source.guid, direction="OUTPUT", depth=1, registry=catalog.registry)
    assert len(answer.entities) == 952 and len(answer.relations) == 951
    assert text(lineage_to_atlas(answer)) == text(expected.answer(source.guid, "OUTPUT", 1))
    assert all(e.status == ACTIVE for e in answer.entities.values())
    assert EntityRef("hive_table", "db.out_0949@cm").guid in answer.entities
