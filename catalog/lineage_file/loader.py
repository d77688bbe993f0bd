"""The YAML loader for lineage.yml: ``yaml.safe_load`` semantics plus limits and key lines.

Why: lineage.yml comes from model repositories, i.e. from many hands. Loading it must
not run code (no python tags), exhaust memory or time (billion laughs, deep nesting),
or silently drop data (duplicate keys); and every later error must be able to name
the line of the key it is about, so the loader records the line of every key path.

The limits are enforced while composing the node graph, before any Python object is
built: each node's size *after alias expansion* is known as soon as it is composed,
so an exponential alias file fails at the first node that grows past the limit.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "DEFAULT_MAX_ALIASES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_NODES",
    "KeyPath",
    "LineageYamlError",
    "LineageYamlLoader",
    "format_path",
    "load_yaml",
]

DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_ALIASES = 100
DEFAULT_MAX_NODES = 100_000

KeyPath = tuple[Hashable, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_KEY = object()  # path step of a mapping key while it is being composed
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


def format_path(path: tuple[Any, ...]) -> str:
    """Render a key path for messages: ``models.wine-quality.training.datasets[1]``.

    Keys that are not plain identifiers (``default.wineds_ext@cm``, names with
    spaces) are quoted in brackets so the dots of the path stay unambiguous.
    """
    out = ""
    for step in path:
        if step is None or step is _KEY:
            continue
        if isinstance(step, int) and not isinstance(step, bool):
            out += f"[{step}]"
        elif isinstance(step, str) and _PLAIN_KEY.match(step):
            out += f".{step}" if out else step
        else:
            out += f"[{str(step)!r}]"
    return out


class LineageYamlError(yaml.MarkedYAMLError):
    """Well-formed YAML that breaks a lineage.yml loading rule (limit, duplicate key, tag)."""

    def __init__(self, problem: str, mark: yaml.Mark | None, path: str = "") -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.path = path


class LineageYamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with size limits, duplicate-key rejection and key-line recording.

    Usable as ``yaml.load(text, Loader=LineageYamlLoader)``; after loading,
    ``key_lines`` maps each key path (tuple of keys and list indexes) to its
    1-based line.
    """

    def __init__(
        self,
        stream: str | bytes,
        *,
        max_depth: int = DEFAULT_MAX_DEPTH,
        max_aliases: int = DEFAULT_MAX_ALIASES,
        max_nodes: int = DEFAULT_MAX_NODES,
    ) -> None:
        super().__init__(stream)
        self.max_depth = max_depth
        self.max_aliases = max_aliases
        self.max_nodes = max_nodes
        self.alias_count = 0
        self.key_lines: dict[KeyPath, int] = {}
        self._steps: list[Any] = []
        # id(node) -> (size after alias expansion, height); only complete nodes are here.
        self._stats: dict[int, tuple[int, int]] = {}

    # -- composing: limits ------------------------------------------------------------

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        self._steps.append(_step(parent, index))
        try:
            if self.check_event(AliasEvent):
                return self._compose_alias(parent, index)
            if len(self._steps) > self.max_depth:
                raise self._limit(
                    f"nesting is deeper than {self.max_depth} levels", self.peek_event().start_mark
                )
            node = super().compose_node(parent, index)
            self._account(node)
            return node
        finally:
            self._steps.pop()

    def _compose_alias(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()
        self.alias_count += 1
        if self.alias_count > self.max_aliases:
            raise self._limit(
                f"more than {self.max_aliases} alias references (*{event.anchor})", event.start_mark
            )
        target = self.anchors.get(event.anchor)
        if target is not None and id(target) not in self._stats:
            raise self._limit(f"alias *{event.anchor} refers to a node that contains it", event.start_mark)
        node = super().compose_node(parent, index)  # raises on an undefined alias
        depth = len(self._steps) - 1 + self._stats[id(node)][1]
        if depth > self.max_depth:
            raise self._limit(
                f"nesting is deeper than {self.max_depth} levels (through alias *{event.anchor})",
                event.start_mark,
            )
        return node

    def _account(self, node: Node) -> None:
        if isinstance(node, ScalarNode):
            size, height = 1, 1
        else:
            children = node.value if isinstance(node, SequenceNode) else [n for kv in node.value for n in kv]
            stats = [self._stats[id(child)] for child in children]
            size = 1 + sum(s for s, _ in stats)
            height = 1 + max((h for _, h in stats), default=0)
        self._stats[id(node)] = (size, height)
        if size > self.max_nodes:
            raise self._limit(
                f"the document expands to more than {self.max_nodes} nodes once aliases are "
                "expanded (an alias bomb such as 'billion laughs'?)",
                node.start_mark,
            )

    def _limit(self, problem: str, mark: yaml.Mark) -> LineageYamlError:
        return LineageYamlError(problem, mark, format_path(tuple(self._steps)))

    # -- constructing: duplicate keys, tags, key lines ------------------------------------

    def construct_document(self, node: Node) -> Any:
        """Check and index the node graph, then build it with ``SafeConstructor``."""
        self.key_lines[()] = node.start_mark.line + 1
        self._index(node, ())
        return super().construct_document(node)

    def _index(self, node: Node, path: KeyPath) -> None:
        self._check_tag(node, path)
        if isinstance(node, MappingNode):
            first: dict[Hashable, Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self._key(key_node, path)
                if key in first:
                    raise LineageYamlError(
                        f"duplicate key {key!r} (lines {first[key].start_mark.line + 1} and "
                        f"{key_node.start_mark.line + 1})",
                        key_node.start_mark,
                        format_path(path + (key,)),
                    )
                first[key] = key_node
            self.flatten_mapping(node)  # resolves '<<' merge keys; explicit keys win
            for key_node, value_node in node.value:
                key_path = path + (self._key(key_node, path),)
                self.key_lines[key_path] = key_node.start_mark.line + 1
                self._index(value_node, key_path)
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                self.key_lines.setdefault(path + (i,), item.start_mark.line + 1)
                self._index(item, path + (i,))

    def _key(self, key_node: Node, path: KeyPath) -> Hashable:
        if not isinstance(key_node, ScalarNode):
            raise LineageYamlError(
                "a mapping key must be a plain scalar, not a list or mapping",
                key_node.start_mark,
                format_path(path),
            )
        self._check_tag(key_node, path)
        key: Hashable = self.construct_object(key_node)
        return key

    def _check_tag(self, node: Node, path: KeyPath) -> None:
        if node.tag not in self.yaml_constructors:
            raise LineageYamlError(
                f"tag {node.tag!r} is not allowed: lineage.yml is plain YAML "
                "(yaml.safe_load semantics, no python or custom tags)",
                node.start_mark,
                format_path(path),
            )


def _step(parent: Node | None, index: Any) -> Any:
    if isinstance(parent, SequenceNode):
        return index
    if isinstance(parent, MappingNode):
        if index is None:
            return _KEY
        return index.value if isinstance(index, ScalarNode) else "?"
    return None


def load_yaml(
    text: str,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_aliases: int = DEFAULT_MAX_ALIASES,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> tuple[Any, dict[KeyPath, int]]:
    """Parse one YAML (or JSON) document: ``(data, key_lines)``; raises ``yaml.YAMLError``."""
    loader = LineageYamlLoader(text, max_depth=max_depth, max_aliases=max_aliases, max_nodes=max_nodes)
    try:
        return loader.get_single_data(), loader.key_lines
    finally:
        loader.dispose()
