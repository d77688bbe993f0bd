"""The YAML loader for lineage.yml: ``yaml.safe_load`` semantics plus limits and key lines.

Why: lineage.yml comes from model repositories, i.e. from many hands. Loading it must
not run code (no python tags), exhaust memory or time (billion laughs, deep nesting),
or silently drop data (duplicate keys); and every later error must be able to name
the line of the key it is about, so the loader records the line of every key path.

The limits are enforced while composing the node graph, before any Python object is
built: each node's size *after alias expansion* is known as soon as it is composed,
so an exponential alias file fails at the first node that grows past the limit.

Scalars are checked and built here too: text that is not valid Unicode (a lone
surrogate escape such as ``"\\ud800"``), a tagged scalar that cannot be built
(``!!int abc``, ``!!bool maybe``, ``2024-02-30``) and an integer too long to turn
into text again are reported at their key path, not as a bare Python exception.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Hashable
from typing import Any

import yaml
from yaml.constructor import ConstructorError
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

_YAML_TAG = "tag:yaml.org,2002:"
_MERGE_TAG = _YAML_TAG + "merge"
_INT_TEXT = re.compile(r"[-+]?[0-9_:]+\Z")
_SURROGATE = re.compile("[\ud800-\udfff]")
# what a scalar of each standard tag must look like, for "expected ..., got 'text'"
_SCALAR_EXPECTED = {
    _YAML_TAG + "int": "an integer (tag !!int)",
    _YAML_TAG + "float": "a number (tag !!float)",
    _YAML_TAG + "bool": "true or false (tag !!bool)",
    _YAML_TAG + "timestamp": "a date or date-time such as 2024-05-01 (tag !!timestamp)",
}
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


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML_TAG):] if tag.startswith(_YAML_TAG) else tag


def _clip(text: str) -> str:
    quoted = repr(text)
    return quoted if len(quoted) <= 60 else quoted[:57] + "..."


def _int_too_long(value: int) -> bool:
    """True when ``value`` has more digits than Python turns into text (``sys.get_int_max_str_digits``)."""
    limit = sys.get_int_max_str_digits()
    if not limit or value.bit_length() < 3 * limit:  # under 8**limit: fewer than limit digits
        return False
    try:
        str(value)
    except ValueError:
        return True
    return False


def _join_surrogate_pairs(text: str) -> str:
    """``"\\ud83d\\ude00"`` (how JSON spells U+1F600) is the one character it encodes."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


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
        # id(node) -> its key path, and (line, column) -> the first node starting there
        self._paths: dict[int, KeyPath] = {}
        self._at_mark: dict[tuple[int, int], Node] = {}

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

    # -- constructing: duplicate keys, tags, key lines, scalars --------------------------

    def construct_document(self, node: Node) -> Any:
        """Check and index the node graph, then build it with ``SafeConstructor``."""
        self.key_lines[()] = node.start_mark.line + 1
        self._index(node, ())
        try:
            return super().construct_document(node)
        except ConstructorError as exc:  # raised while filling a collection, after construct_object
            mark = exc.problem_mark
            found = self._at_mark.get((mark.line, mark.column)) if mark is not None else None
            raise self._unconstructible(found or node, exc) from None

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        """``SafeConstructor.construct_object``; a value that cannot be built is a located error."""
        try:
            value = super().construct_object(node, deep)
        except LineageYamlError:
            raise
        except (ConstructorError, ValueError, LookupError, AttributeError, TypeError, OverflowError) as exc:
            raise self._unconstructible(node, exc) from None
        if isinstance(value, int) and not isinstance(value, bool) and _int_too_long(value):
            limit = sys.get_int_max_str_digits()
            raise self._error(node, f"expected an integer of at most {limit} digits, got a longer one")
        return value

    def _unconstructible(self, node: Node, exc: Exception) -> LineageYamlError:
        """The error for a node the constructor failed on: what its tag needs, and what was written."""
        if isinstance(exc, ConstructorError):
            context = f" ({exc.context})" if exc.context else ""
            return self._error(node, f"tag {_short_tag(node.tag)}: {exc.problem}{context}")
        text = node.value if isinstance(node, ScalarNode) else ""
        limit = sys.get_int_max_str_digits()
        if node.tag == _YAML_TAG + "int" and limit and _INT_TEXT.match(text):
            digits = sum(c.isdigit() for c in text)
            if digits > limit:
                return self._error(node, f"expected an integer of at most {limit} digits, got one of {digits} digits")
        if node.tag == _YAML_TAG + "timestamp" and isinstance(exc, ValueError) and self.timestamp_regexp.match(text):
            return self._error(node, f"expected a valid date or date-time, got {_clip(text)} ({exc})")
        expected = _SCALAR_EXPECTED.get(node.tag, f"a value of tag {_short_tag(node.tag)}")
        return self._error(node, f"expected {expected}, got {_clip(text)}")

    def _error(self, node: Node, problem: str) -> LineageYamlError:
        return LineageYamlError(problem, node.start_mark, format_path(self._paths.get(id(node), ())))

    def _index(self, node: Node, path: KeyPath) -> None:
        self._check_tag(node, path)
        self._paths.setdefault(id(node), path)
        self._at_mark.setdefault((node.start_mark.line, node.start_mark.column), node)
        if isinstance(node, ScalarNode):
            node.value = self._valid_text(node, path, "")
        elif isinstance(node, MappingNode):
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
            try:
                self.flatten_mapping(node)  # resolves '<<' merge keys; explicit keys win
            except ConstructorError as exc:
                raise LineageYamlError(str(exc.problem), exc.problem_mark, format_path(path + ("<<",))) from None
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
        key_node.value = self._valid_text(key_node, path + (key_node.value,), "the key is ")
        self._paths.setdefault(id(key_node), path + (key_node.value,))
        key: Hashable = self.construct_object(key_node)
        return key

    def _valid_text(self, node: ScalarNode, path: KeyPath, what: str) -> str:
        """The scalar's text with surrogate pairs joined; a lone surrogate is an error."""
        text = _join_surrogate_pairs(node.value)
        lone = _SURROGATE.search(text)
        if lone is not None:
            problem = f"{what}not valid Unicode text: lone surrogate U+{ord(lone.group()):04X}"
            raise LineageYamlError(problem, node.start_mark, format_path(path))
        return text

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
