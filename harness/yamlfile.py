"""The one YAML reader for files users write (case files, data specs, rubrics, candidate cases).

Safe (no tags that build objects), bounded (size, aliases and expanded nodes are capped, so a
"billion laughs" file fails at once), strict (a key given twice is an error) and located: every key
path knows its line, so mistakes are reported as file:line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError
from harness.textfiles import read_text

MAX_YAML_BYTES = 8 * 1024 * 1024
MAX_ALIASES = 100  # references (*name) in one document; merge keys (<<: *defaults) count too
MAX_NODES = 200_000  # values in the document once every alias is expanded

KeyPath = tuple[Any, ...]
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class YamlError(HarnessError):
    """A YAML file that cannot be read: names the file and line."""

    def __init__(self, source: str, line: int, problem: str) -> None:
        self.source, self.line, self.problem = source, line, problem
        super().__init__(f"{source}:{line}: {problem}", hint="fix the YAML at that line")


@dataclass
class YamlDocument:
    """The data of a YAML document and the line of every key path in it (("cases", 0, "id") -> 12)."""

    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, path: Sequence[Any]) -> int:
        """The line of `path`, or of its nearest ancestor that has one (1 for the document)."""
        key = tuple(path)
        while key and key not in self.lines:
            key = key[:-1]
        return self.lines.get(key, 1)


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts alias references while composing."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise yaml.MarkedYAMLError(
                    problem=f"more than {MAX_ALIASES} alias references (*name); expand them, or split the file",
                    problem_mark=mark,
                )
        return super().compose_node(parent, index)


class _Builder:
    """Builds Python data from the node tree, recording lines and counting expanded nodes."""

    def __init__(self, loader: _BoundedLoader) -> None:
        self.loader = loader
        self.lines: dict[KeyPath, int] = {}
        self.nodes = 0
        self.current: yaml.Node | None = None  # the node being built, to locate a constructor's error

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise yaml.MarkedYAMLError(
                problem=f"more than {MAX_NODES:,} values once aliases are expanded", problem_mark=node.start_mark
            )
        self.lines.setdefault(path, node.start_mark.line + 1)
        self.current = node
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN_TAGS:
            raise yaml.MarkedYAMLError(problem=f"the tag {node.tag!r} is not allowed", problem_mark=node.start_mark)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self._key(key_node)
            if key in seen:
                raise yaml.MarkedYAMLError(
                    problem=f"key {key!r} appears twice (first on line {seen[key]})", problem_mark=key_node.start_mark
                )
            seen[key] = key_node.start_mark.line + 1
        self.loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            child = (*path, key)
            result[key] = self.build(value_node, child)
            self.lines[child] = key_node.start_mark.line + 1
        return result

    def _key(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise yaml.MarkedYAMLError(problem="a key must be a plain value", problem_mark=node.start_mark)
        return self.loader.construct_object(node, deep=True)


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse one YAML document; any problem raises YamlError naming `source` and the line."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise YamlError(source, 1, f"more than {MAX_YAML_BYTES:,} bytes of YAML; split the file")
    try:
        loader = _BoundedLoader(text)
    except yaml.YAMLError as exc:  # the reader refuses characters YAML does not allow (e.g. NUL)
        line = text.count("\n", 0, getattr(exc, "position", 0)) + 1
        raise YamlError(source, line, f"not valid YAML: {str(exc).splitlines()[0]}") from None
    builder = _Builder(loader)
    try:
        root = loader.get_single_node()
        if root is None:
            return YamlDocument(None, {})
        data = builder.build(root, ())
        return YamlDocument(data, builder.lines)
    except (ValueError, AttributeError, OverflowError, TypeError) as exc:  # a scalar its constructor refuses
        line = builder.current.start_mark.line + 1 if builder.current is not None else 1
        problem = f"a value cannot be read ({exc}); if it is text, put it in quotes"
        raise YamlError(source, line, f"not valid YAML: {problem}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlError(source, line, f"not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlError(source, _line_of(exc), f"not valid YAML: {exc}") from None
    except RecursionError:
        raise YamlError(source, 1, "not valid YAML: nested too deeply") from None
    finally:
        loader.dispose()


def _line_of(exc: yaml.YAMLError) -> int:
    """The 1-based line a PyYAML error points at (a ReaderError counts characters, not lines)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return mark.line + 1
    return 1


def read_yaml(path: Path, source: str | None = None) -> YamlDocument:
    """Read and parse a YAML file (UTF-8, at most MAX_YAML_BYTES)."""
    source = source or str(path)
    return parse_yaml(read_text(path, max_bytes=MAX_YAML_BYTES, source=source), source)
