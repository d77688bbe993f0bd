"""The web UI's lineage graph (web/graph.py): layering, grouping, escaping, links, tags, DOT, size, cache.

Graphs come from a real SQLite catalog (``Catalog.lineage``) or are built from the
same ``catalog.model`` values ``store.lineage`` returns; nothing is mocked. The SVG is
parsed with ``xml.etree`` to prove it is well-formed. Times are never asserted; the
10,000-node SVG's size is deterministic and is.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.graph import neighbourhood
from catalog import store
from catalog.config import Settings
from catalog.model import (
    Classification,
    Entity,
    EntityHeader,
    LineageGraph,
    LineageRelation,
    SourceBatch,
    StoredClassification,
    guid_for,
)
from catalog.service import Catalog
from web import graph as drawing
from web import graph_svg as draw

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}href"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


def href(guid: str) -> str:
    return f"/entity/guid/{guid}?a=1&b=2"


def expand_href(group: str) -> str:
    return f"/entity/x?expand={group}#lineage"


def svg_of(laid: drawing.Layout) -> str:
    return draw.to_svg(laid, href=href, expand_href=expand_href)


# -- graphs ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    """Data sets d0..d4 and runs (run i reads d_i, d_i+1, writes d_i+2); run1 also reads the two XSS payloads.

    PII sits on d0 and propagates downstream.
    """
    path: Path = tmp_path_factory.mktemp("ui-graph") / "catalog.db"
    datasets = [Entity("ml_dataset", f"d{i}@cm", {"name": f"d{i}"}) for i in range(5)]
    datasets[0].classifications.append(Classification("PII", {}, True))
    script = Entity("ml_dataset", f"{SCRIPT}@cm", {"name": SCRIPT})
    img = Entity("hive_table", f"{IMG}@cm", {"name": IMG})
    runs = [Entity("ml_training_run", f"run{i}@mlflow", {
        "name": f"run{i}", "runId": f"{i:032d}", "status": "FINISHED", "userName": "ann",
        "inputs": [datasets[i].ref, datasets[i + 1].ref, *([script.ref, img.ref] if i == 1 else [])],
        "outputs": [datasets[i + 2].ref]}) for i in range(3)]
    with Catalog(Settings(database_url=f"sqlite:///{path}", user="tester")) as cat:
        with cat.write_session() as session, session.begin():
            store.upsert_batch(session, SourceBatch("test", [*datasets, script, img, *runs]),
                               cat.typedefs.current(session), user="tester")
        yield cat


def header(guid: str, type_name: str, name: str, *, tags: tuple[tuple[str, str], ...] = (),
           process: bool = False) -> EntityHeader:
    attrs = {"qualifiedName": f"{name}@cm", "name": name, **({"inputs": [], "outputs": []} if process else {})}
    return EntityHeader(guid, type_name, f"{name}@cm", "ACTIVE", attrs,
                        tuple(StoredClassification(t, guid, source) for t, source in tags))


def fan(width: int) -> LineageGraph:
    """base -> ``width`` runs (layer 1) -> one model version each (layer 2), one upstream loader (layer -1)."""
    entities = {"base": header("base", "hive_table", "base"), "up": header("up", "hive_process", "loader", process=True)}
    relations = [LineageRelation("up", "base", "r-up")]
    for i in range(width):
        run, version = f"run{i:02d}", f"mv{i:02d}"
        entities[run] = header(run, "ml_training_run", f"train {i:02d}", process=True)
        entities[version] = header(version, "ml_model_version", f"model v{i:02d}")
        relations += [LineageRelation("base", run, f"r-{run}"), LineageRelation(run, version, f"r-{version}")]
    return LineageGraph("base", "BOTH", 0, entities, tuple(relations))


def layers_of(laid: drawing.Layout) -> dict[str, int]:
    return {n.id: n.layer for n in laid.nodes}


# -- layering ----------------------------------------------------------------------------------


def test_layers_run_left_to_right_in_a_real_lineage(catalog: Catalog) -> None:
    graph = catalog.lineage("ml_dataset:d3@cm", direction="BOTH", depth=0)
    laid = drawing.layout(graph)
    layer = layers_of(laid)
    by_name = {n.qualified_name: n.layer for n in laid.nodes}
    assert by_name["d3@cm"] == 0 and next(n for n in laid.nodes if n.is_base).guid == graph.base_guid
    assert by_name["run1@mlflow"] == -1 and by_name["run2@mlflow"] == 1 and by_name["d4@cm"] == 2
    # d1 is two hops upstream through run1 and four through run0 -> d2 -> run1: the longest counts.
    assert by_name["d1@cm"] == -4 and by_name["run0@mlflow"] == -3 and by_name["d2@cm"] == -2
    assert by_name[f"{SCRIPT}@cm"] == -2 and by_name[f"{IMG}@cm"] == -2
    assert laid.edges and all(layer[e.from_id] < layer[e.to_id] for e in laid.edges)
    assert len(laid.edges) == len(graph.relations) and laid.drawn == laid.total == len(graph.entities)
    assert not laid.partial and laid.width > 0 and laid.height > 0


def test_upstream_only_is_negative_and_downstream_only_positive(catalog: Catalog) -> None:
    up = drawing.layout(catalog.lineage("ml_dataset:d3@cm", direction="INPUT", depth=0))
    down = drawing.layout(catalog.lineage("ml_dataset:d0@cm", direction="OUTPUT", depth=0))
    assert all(n.layer < 0 for n in up.nodes if not n.is_base) and len(up.nodes) > 1
    assert all(n.layer > 0 for n in down.nodes if not n.is_base) and len(down.nodes) > 1
    assert {n.layer for n in down.nodes} == {0, 1, 2, 3, 4, 5, 6}  # d0 -> run0 -> d2 -> run1 -> d3 -> run2 -> d4


def test_nodes_of_a_layer_get_distinct_slots_and_x_follows_the_layer() -> None:
    laid = drawing.layout(fan(10))
    for n in laid.nodes:
        assert n.x == pytest.approx(drawing.MARGIN + drawing.NODE_W / 2 + (n.layer + 1) * drawing.LAYER_GAP)
    for layer in {n.layer for n in laid.nodes}:
        ys = sorted(n.y for n in laid.nodes if n.layer == layer)
        assert all(b - a >= drawing.SLOT_GAP - 1e-6 for a, b in zip(ys, ys[1:]))
    assert all(0 < n.y < laid.height and 0 < n.x < laid.width for n in laid.nodes)


def test_a_cycle_and_side_entities_still_lay_out() -> None:
    """base -> p -> t -> q -> base (a cycle); side entities: another input of r, another output of the loader."""
    entities = {g.guid: g for g in (
        header("base", "hive_table", "base"), header("p", "hive_process", "p", process=True),
        header("t", "hive_table", "t"), header("q", "hive_process", "q", process=True),
        header("r", "hive_process", "r", process=True), header("out", "hive_table", "out"),
        header("side-in", "hive_table", "side-in"), header("loader", "hive_process", "loader", process=True),
        header("side-out", "hive_table", "side-out"), header("lonely", "hive_table", "lonely"))}
    pairs = [("base", "p"), ("p", "t"), ("t", "q"), ("q", "base"), ("base", "r"), ("r", "out"), ("side-in", "r"),
             ("loader", "base"), ("loader", "side-out")]
    graph = LineageGraph("base", "BOTH", 0, entities, tuple(LineageRelation(a, b, f"{a}>{b}") for a, b in pairs))
    layer = layers_of(drawing.layout(graph))
    assert layer["base"] == 0 and layer["p"] == 1 and layer["t"] == 2 and layer["q"] == 3  # both ways: downstream
    assert layer["r"] == 1 and layer["out"] == 2
    assert layer["side-in"] == 0  # left of its successor r
    assert layer["loader"] == -1 and layer["side-out"] == 0  # right of its predecessor
    assert layer["lonely"] == 0
    backwards = [(a, b) for a, b in pairs if layer[a] >= layer[b]]
    assert backwards == [("q", "base")]  # only the edge closing the cycle


# -- grouping ----------------------------------------------------------------------------------


def test_a_wide_layer_collapses_into_one_group_node() -> None:
    graph = fan(60)
    laid = drawing.layout(graph, max_per_layer=25)
    assert laid.partial and laid.total == 122 and laid.drawn == 2 + 25 + 25
    for layer in (1, 2):
        members = [n for n in laid.nodes if n.layer == layer]
        entities = [n for n in members if n.guid is not None]
        (group,) = [n for n in members if n.guid is None]
        assert len(entities) == 25 and group.id == f"group:{layer}" and group.group_count == 35
        assert group.label == "35 more (drawn 25 / total 60)"
        assert len(laid.groups[group.id]) == 35 and not {n.id for n in entities} & set(laid.groups[group.id])
    # Layer 2 keeps the versions of the runs layer 1 kept: the drawn paths stay connected.
    kept_runs = {n.id for n in laid.nodes if n.layer == 1 and n.guid}
    assert {n.id for n in laid.nodes if n.layer == 2 and n.guid} == {r.replace("run", "mv") for r in kept_runs}
    edges = [(e.from_id, e.to_id) for e in laid.edges]
    assert len(edges) == len(set(edges))  # deduplicated
    assert edges.count(("base", "group:1")) == 1 and ("group:1", "group:2") in edges
    assert all(e[0] in kept_runs or e[0] in ("base", "up", "group:1") for e in edges)
    assert ("up", "base") in edges and len(edges) == 1 + 25 + 1 + 25 + 1


def test_an_expanded_group_is_drawn_in_full() -> None:
    graph = fan(60)
    one = drawing.layout(graph, expanded=frozenset({"group:1"}))
    assert len([n for n in one.nodes if n.layer == 1]) == 60 and "group:1" not in one.groups
    assert "group:2" in one.groups and one.partial and one.drawn == 2 + 60 + 25
    every = drawing.layout(graph, expanded=frozenset({"group:1", "group:2"}))
    assert not every.partial and every.drawn == every.total == 122 and not every.groups
    assert all(n.guid is not None for n in every.nodes)


def test_the_base_is_never_collapsed() -> None:
    """Layer 0 of 40 side outputs plus the base: the base stays among the 5 drawn."""
    entities = {"zzz-base": header("zzz-base", "hive_table", "zzz"),
                "loader": header("loader", "hive_process", "l", process=True)}
    relations = [LineageRelation("loader", "zzz-base", "r")]
    for i in range(40):
        entities[f"out{i}"] = header(f"out{i}", "hive_table", f"a{i:02d}")
        relations.append(LineageRelation("loader", f"out{i}", f"r{i}"))
    laid = drawing.layout(LineageGraph("zzz-base", "BOTH", 0, entities, tuple(relations)), max_per_layer=5)
    layer0 = [n for n in laid.nodes if n.layer == 0]
    assert any(n.is_base for n in layer0) and len(layer0) == 6
    assert next(n for n in layer0 if n.guid is None).label == "36 more (drawn 5 / total 41)"


# -- SVG ---------------------------------------------------------------------------------------


def test_payloads_render_as_text_only(catalog: Catalog) -> None:
    svg = svg_of(drawing.layout(catalog.lineage("ml_dataset:d3@cm", direction="BOTH", depth=0)))
    root = ET.fromstring(svg)  # well-formed
    assert root.tag == f"{SVG}svg"
    names = {el.tag.split("}")[-1] for el in root.iter()}
    assert "script" not in names and "img" not in names and "foreignObject" not in names
    assert not [a for el in root.iter() for a in el.attrib if a.split("}")[-1].lower().startswith("on")]
    assert "<script" not in svg and "<img" not in svg and "javascript:" not in svg
    # Every "<" left in the document opens one of our own tags; "onerror=" is in the text only, escaped.
    assert not re.search(r"<[^>]*\sonerror=", svg) and "onerror=alert(1)&gt;" in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in svg
    texts = ["".join(el.itertext()) for el in root.iter(f"{SVG}text")]
    titles = [el.text or "" for el in root.iter(f"{SVG}title")]
    assert SCRIPT in texts and IMG[: drawing.LABEL_CHARS - 1] + "\u2026" in texts  # the labels, as text (cut)
    assert any(t.startswith(f"{SCRIPT}@cm\n") for t in titles) and any(t.startswith(f"{IMG}@cm\n") for t in titles)
    # No external resource: the only references are the arrow marker, local.
    refs = re.findall(r'url\(([^)]*)\)', svg)
    assert refs and set(refs) == {"#lineage-arrow"} and "<image" not in svg and "@import" not in svg


def test_forbidden_xml_characters_and_quotes_in_names_keep_the_svg_well_formed() -> None:
    name = "a\x01b\x00c & 'd' \"e\" ]]> \ufffe"
    graph = LineageGraph("b", "BOTH", 0, {"b": header("b", "hive_table", name, tags=(("<T&'\">", "b"),))}, ())
    svg = svg_of(drawing.layout(graph))
    root = ET.fromstring(svg)
    texts = ["".join(el.itertext()) for el in root.iter(f"{SVG}text")]
    assert "a\ufffdb\ufffdc & 'd' \"e\" ]]> \ufffd"[:drawing.LABEL_CHARS - 1] in texts[0]
    assert "<T&'\">" in texts


def test_every_node_links_to_its_page_and_groups_to_their_expansion() -> None:
    laid = drawing.layout(fan(60))
    root = ET.fromstring(svg_of(laid))
    links = [(a.get("href"), a.get(XLINK)) for a in root.iter(f"{SVG}a")]
    assert all(h == x for h, x in links)
    entity_links = sorted(h for h, _ in links if h.startswith("/entity/guid/"))
    assert entity_links == sorted(href(n.guid) for n in laid.nodes if n.guid is not None)
    assert sorted(h for h, _ in links if "expand=" in h) == [expand_href("group:1"), expand_href("group:2")]
    assert len(links) == len(laid.nodes)
    group_text = ["".join(t.itertext()) for a in root.iter(f"{SVG}a") if "expand=" in a.get("href")
                  for t in a.iter(f"{SVG}text")]
    assert "35 more (drawn 25 / total 60)" in group_text
    # Each node has a <title> (its qualifiedName first) for hover.
    for a in root.iter(f"{SVG}a"):
        assert a.find(f"{SVG}g/{SVG}title") is not None
    titles = {a.find(f"{SVG}g/{SVG}title").text.split("\n")[0] for a in root.iter(f"{SVG}a")}
    assert {n.qualified_name for n in laid.nodes if n.guid} <= titles


def test_open_controls_sit_beside_the_nodes_open_href_names() -> None:
    laid = drawing.layout(fan(3))
    wanted = {"run01", "mv02"}
    root = ET.fromstring(draw.to_svg(laid, href=href, expand_href=expand_href,
                                     open_href=lambda guid: f"/x?open={guid}" if guid in wanted else None))
    controls = [a for a in root.iter(f"{SVG}a") if a.get("class") == "open"]
    assert sorted(a.get("href") for a in controls) == ["/x?open=mv02", "/x?open=run01"]
    assert all(a.get(XLINK) == a.get("href") for a in controls)
    titles = sorted(a.find(f"{SVG}g/{SVG}title").text for a in controls)
    assert titles == ["draw one more hop around model v02", "draw one more hop around train 01"]
    node = laid.node("run01")  # the control's circle lies inside its node's box, at the bottom right
    circle = next(a for a in controls if a.get("href").endswith("run01")).find(f"{SVG}g/{SVG}circle")
    cx, cy = float(circle.get("cx")), float(circle.get("cy"))
    assert node.x < cx < node.x + drawing.NODE_W / 2 and node.y < cy < node.y + drawing.NODE_H / 2
    assert 'class="open"' not in svg_of(laid)  # no open_href: no control


def test_families_and_the_base_are_drawn_differently() -> None:
    entities = {g.guid: g for g in (header("t", "hive_table", "t"), header("r", "ml_training_run", "r", process=True),
                                    header("m", "ml_model_version", "m"), header("dp", "ml_model_deploy_process", "dp",
                                                                                 process=True),
                                    header("d", "ml_deployment", "d"), header("x", "ml_project", "x"))}
    pairs = [("x", "r"), ("t", "r"), ("r", "m"), ("m", "dp"), ("dp", "d")]
    laid = drawing.layout(LineageGraph("t", "BOTH", 0, entities, tuple(LineageRelation(a, b, a + b) for a, b in pairs)))
    assert {n.id: n.family for n in laid.nodes} == {"t": "dataset", "r": "process", "m": "model", "dp": "process",
                                                    "d": "deployment", "x": "other"}
    root = ET.fromstring(svg_of(laid))
    shapes = {}
    for g in root.iter(f"{SVG}g"):
        cls = g.get("class", "")
        if cls.startswith("node "):
            first = next(el for el in g if el.tag != f"{SVG}title" and "-6" not in (el.get("x"), el.get("y")))
            shapes[cls.split()[1]] = (first.tag, first.get("fill"), first.get("rx"))
    assert len(set(shapes.values())) == 5 and set(shapes) == {f"node-{f}" for f in drawing.FAMILIES}
    base = [g for g in root.iter(f"{SVG}g") if "base" in g.get("class", "").split()]
    assert len(base) == 1 and base[0].find(f"{SVG}rect").get("stroke") == "#f2b705"  # the halo
    assert len(list(root.iter(f"{SVG}path"))) >= len(laid.edges) and root.find(f"{SVG}defs/{SVG}marker") is not None
    edges = root.find(f"{SVG}g[@class='edges']")
    assert edges.get("marker-end") == "url(#lineage-arrow)" and len(edges) == len(laid.edges)


def test_propagated_classifications_render_differently_from_direct_ones(catalog: Catalog) -> None:
    laid = drawing.layout(catalog.lineage("ml_dataset:d0@cm", direction="OUTPUT", depth=0))
    by_name = {n.qualified_name: n for n in laid.nodes}
    assert by_name["d0@cm"].classifications == [("PII", False)]
    assert by_name["run0@mlflow"].classifications == [("PII", True)] and by_name["d4@cm"].classifications == [
        ("PII", True)]
    root = ET.fromstring(svg_of(laid))
    tags = {}
    for g in root.iter(f"{SVG}g"):
        cls = g.get("class", "")
        if cls.startswith("tag "):
            rect, text = g.find(f"{SVG}rect"), g.find(f"{SVG}text")
            tags.setdefault(cls, set()).add((text.text, rect.get("fill"), rect.get("stroke-dasharray"),
                                             text.get("font-style"), text.get("fill")))
    assert set(tags) == {"tag tag-direct", "tag tag-propagated"}
    assert len(tags["tag tag-direct"]) == len(tags["tag tag-propagated"]) == 1
    assert tags["tag tag-direct"] != tags["tag tag-propagated"]
    direct, = tags["tag tag-direct"]
    propagated, = tags["tag tag-propagated"]
    assert direct[0] == propagated[0] == "PII" and direct[2] is None and propagated[2] and propagated[3] == "italic"
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert any("PII (direct)" in t for t in titles) and any("PII (propagated)" in t for t in titles)


# -- DOT ---------------------------------------------------------------------------------------

_QUOTED = r'"((?:[^"\\]|\\.)*)"'


def _undot(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def test_dot_quotes_and_escapes_ids_and_labels(catalog: Catalog) -> None:
    nasty = 'q"uo\\te\nnew -> "x" [label=evil]; }'
    entities = {"b": header("b", "hive_table", "base"), 'id"with\\quote': header('id"with\\quote', "hive_table", nasty)}
    graph = LineageGraph("b", "BOTH", 0, entities, (LineageRelation('id"with\\quote', "b", "r"),))
    dot = draw.to_dot(drawing.layout(graph))
    lines = dot.splitlines()
    assert lines[0] == "digraph lineage {" and lines[-1] == "}"
    unquoted = re.sub(_QUOTED, '""', dot)  # what DOT parses outside strings: no injected statement
    assert "evil" not in unquoted and unquoted.count("{") == unquoted.count("}") == 3
    assert unquoted.count("->") == 1
    node_lines = [line for line in lines if re.match(rf"^  {_QUOTED} \[label=", line)]
    parsed = {}
    for line in node_lines:
        m = re.match(rf"^  {_QUOTED} \[label={_QUOTED}, tooltip={_QUOTED}, shape=\w+, style={_QUOTED}, "
                     rf"fillcolor={_QUOTED}, color={_QUOTED}(, penwidth=3)?\];$", line)
        assert m, line
        parsed[_undot(m.group(1))] = (_undot(m.group(2)), _undot(m.group(3)))
    assert parsed['id"with\\quote'] == (f"{nasty}\nhive_table", f"{nasty}@cm")
    assert parsed["b"][0] == "base\nhive_table"
    (edge,) = [line for line in lines if re.match(rf"^  {_QUOTED} -> {_QUOTED};$", line)]
    assert edge == '  "id\\"with\\\\quote" -> "b";'
    # The real lineage, with the payloads, still gives one statement per line.
    real = draw.to_dot(drawing.layout(catalog.lineage("ml_dataset:d3@cm", direction="BOTH", depth=0)))
    assert re.search(r'label="<script>alert\(1\)</script>\\nml_dataset\\nPII \(propagated\)"', real) is None
    assert '"\\"><img src=x onerror=alert(1)>\\nhive_table"' in real
    assert all(line.endswith((";", "{", "}")) for line in real.splitlines())


def test_dot_groups_and_ranks_follow_the_layout() -> None:
    laid = drawing.layout(fan(60))
    dot = draw.to_dot(laid)
    assert '"group:1" [label="35 more (drawn 25 / total 60)"' in dot and "shape=folder" in dot
    ranks = re.findall(r"\{ rank=same; (.*) \}", dot)
    assert len(ranks) == len({n.layer for n in laid.nodes})
    assert dot.count(" -> ") == len(laid.edges) and "rankdir=LR" in dot and "partial" in dot


# -- size --------------------------------------------------------------------------------------


def test_a_ten_thousand_node_neighbourhood_stays_under_two_megabytes() -> None:
    graph = neighbourhood(10_000)
    assert len(graph.entities) == 10_000
    laid = drawing.layout(graph)
    svg = svg_of(laid)
    size = len(svg.encode("utf-8"))
    assert size < 2 * 1024 * 1024, size
    assert laid.partial and laid.total == 10_000 and laid.drawn < 1_000
    assert all(len([n for n in laid.nodes if n.layer == layer and n.guid]) <= 25 for layer in laid_layers(laid))
    layer = layers_of(laid)
    assert all(layer[e.from_id] < layer[e.to_id] for e in laid.edges)
    root = ET.fromstring(svg)
    assert len(list(root.iter(f"{SVG}a"))) == len(laid.nodes)
    base = next(n for n in laid.nodes if n.is_base)
    assert base.guid == guid_for("hive_table", "sales.orders@cm") and base.layer == 0


def laid_layers(laid: drawing.Layout) -> set[int]:
    return {n.layer for n in laid.nodes}


def test_edges_spanning_layers_bend_through_the_layers_between() -> None:
    laid = drawing.layout(neighbourhood(500), expanded=frozenset(f"group:{n}" for n in range(-10, 20)))
    layer = layers_of(laid)
    long = [e for e in laid.edges if layer[e.to_id] - layer[e.from_id] > 1]
    assert long and all(len(e.points) == layer[e.to_id] - layer[e.from_id] - 1 for e in long)
    assert all(e.points == () for e in laid.edges if layer[e.to_id] - layer[e.from_id] == 1)


# -- cache -------------------------------------------------------------------------------------


def test_cached_layout_builds_once_per_key_and_stays_bounded() -> None:
    cache = drawing.LayoutCache(maxsize=2)
    graph = fan(3)
    builds = []

    def build() -> drawing.Layout:
        builds.append(1)
        return drawing.layout(graph)

    key = drawing.cache_key(graph)
    first = cache.get(key, build)
    assert cache.get(key, build) is first and len(builds) == 1 and cache.hits == 1
    assert drawing.cache_key(graph) == key  # stable
    assert drawing.cache_key(graph, expanded=frozenset({"group:1"})) != key
    changed = LineageGraph(graph.base_guid, graph.direction, graph.depth,
                           {**graph.entities, "mv00": header("mv00", "ml_model_version", "renamed")}, graph.relations)
    assert drawing.cache_key(changed) != key  # a renamed entity is another picture
    tagged = LineageGraph(graph.base_guid, graph.direction, graph.depth,
                          {**graph.entities, "mv00": header("mv00", "ml_model_version", "model v00",
                                                            tags=(("PII", "base"),))}, graph.relations)
    assert drawing.cache_key(tagged) != key
    cache.get(("b",), build)
    cache.get(("c",), build)
    assert len(cache) == 2 and key not in cache and len(builds) == 3
    small = drawing.LayoutCache(maxsize=10, max_weight=10)
    small.get(1, lambda: drawing.layout(fan(3)))
    small.get(2, lambda: drawing.layout(fan(3)))
    assert len(small) == 1 and 2 in small  # over the weight bound: the oldest goes


def test_the_module_cache_serves_repeated_views() -> None:
    graph = fan(5)
    key = drawing.cache_key(graph)
    drawing.LAYOUT_CACHE.clear()
    calls = []
    one = drawing.cached_layout(key, lambda: calls.append(1) or drawing.layout(graph))
    two = drawing.cached_layout(key, lambda: calls.append(1) or drawing.layout(graph))
    assert one is two and calls == [1]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="max_per_layer"):
        drawing.layout(fan(2), max_per_layer=0)
    with pytest.raises(ValueError, match="base entity"):
        drawing.layout(LineageGraph("missing", "BOTH", 0, fan(2).entities, ()))
