"""The YAML node tree of a user's file: safe parsing with bounds, and key paths mapped to line and column.

Parsing is `yaml.SafeLoader`'s (no Python objects, nothing executed), with every cost bounded while
the tree is composed (`_Bounded`): an alias inside its own anchor, nesting past MAX_DEPTH and more
than MAX_NODES values (aliases counted expanded) are located errors, so no input takes more than
linear time. libyaml's event parser is used where PyYAML has it; its scanner and parser errors are
re-read by the pure-Python parser, so the messages are the same on every install. `YamlDocument`
maps a key path (`workloads[0].slo.tpot_ms`) to the node it names, with one index per mapping, so
locating many problems stays linear. Used by the workload loader and the `--catalog` price files.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import yaml

from planner.errors import InputError, Problem

MAX_NODES = 20_000
"""Most YAML values (keys included) a workload file may hold, counting each alias as the values it
stands for (guards against alias bombs and runaway files). The shipped examples hold 24 to 423
(problems/fleet-20.yaml, 22 workloads); 20,000 keeps the slowest rejection near half a second
(composing costs ~20 us a value)."""

MAX_DEPTH = 50
"""Deepest nesting of lists and mappings a file may have; a workload file needs 4
(workloads[0].traffic.profile[0]). Deeper nesting is reported where it passes the bound, before
PyYAML's recursive composer could run out of stack."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_KEY_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

KeyPath = tuple[str | int, ...]


# --------------------------------------------------------------------------------------------
# Parsing, and locating keys in the node tree
# --------------------------------------------------------------------------------------------


def _construct_object(self: yaml.constructor.SafeConstructor, node: yaml.Node, deep: bool = False) -> Any:
    """SafeConstructor's, with a value it cannot convert (`!!int abc`, the date 2024-13-45) made a
    located ConstructorError instead of a bare ValueError."""
    try:
        return yaml.constructor.SafeConstructor.construct_object(self, node, deep)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        if isinstance(exc, yaml.YAMLError):
            raise
        shown = repr(node.value) if isinstance(node, yaml.ScalarNode) else "this value"
        why = f" ({exc})" if isinstance(exc, (ValueError, OverflowError)) else ""
        raise yaml.constructor.ConstructorError(
            None, None, f"cannot read {shown} as {node.tag.rsplit(':', 1)[-1]}{why}", node.start_mark) from None


class _LimitError(yaml.composer.ComposerError):
    """A file past one of the loader's bounds (recursion, nesting, expanded size); reported as `YAML: ...`."""


class _Bounded(yaml.composer.Composer):
    """PyYAML's composer with bounds checked while composing, so that no input costs more than
    linear time:

    - an alias inside its own anchor (`a: &x [*x]`) is an error at the alias (PyYAML would build
      a cyclic tree, whose expansion never ends);
    - nesting deeper than MAX_DEPTH is an error at the bracket or key that passes it;
    - more than MAX_NODES values, counting each alias as the values it stands for, is an error at
      the node where the count passes the bound. Sizes are summed per node as it is composed
      (an alias reuses its anchor's size), so a billion-laughs file is never expanded.
    """

    def _start_bounds(self, max_nodes: int) -> None:
        self._max_nodes = max_nodes
        self._open_anchors: dict[str, Any] = {}
        self._depth = 0
        self._composed = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            opened = self._open_anchors.get(event.anchor)
            if opened is not None:
                raise _LimitError(None, None, f"alias *{event.anchor} is used inside its own anchor &{event.anchor} "
                                              f"(line {opened.line + 1}, column {opened.column + 1}): a value cannot "
                                              "contain itself", event.start_mark)
            return super().compose_node(parent, index)
        self._composed += 1
        if self._composed > self._max_nodes:
            raise _LimitError(None, None, f"more than {self._max_nodes:,} values", event.start_mark)
        collection = isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent))
        if collection:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise _LimitError(None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open_anchors[anchor] = event.start_mark
        node = super().compose_node(parent, index)
        if anchor is not None:
            del self._open_anchors[anchor]
        if collection:
            self._depth -= 1
            children = node.value if isinstance(node, yaml.SequenceNode) else [v for _, v in node.value]
            size = 1 + sum(self._sizes.get(id(child), 1) for child in children)
            if size > self._max_nodes:
                raise _LimitError(None, None, f"more than {self._max_nodes:,} values once aliases are expanded",
                                  node.start_mark)
            self._sizes[id(node)] = size
        return node


class _Loader(_Bounded, yaml.SafeLoader):
    """`yaml.SafeLoader` (no Python objects, nothing executed) with located conversion errors and
    the composer's bounds: the pure-Python reader, scanner and parser, whose error messages the
    bad-input goldens show."""

    construct_object = _construct_object

    def __init__(self, stream: str, max_nodes: int = MAX_NODES):
        yaml.SafeLoader.__init__(self, stream)
        self._start_bounds(max_nodes)


_LOADERS: tuple[type, ...] = (_Loader,)
"""Loaders `parse_yaml` tries in turn: libyaml's event parser first where PyYAML has it (ten times
faster on large files), then the pure-Python one, whose result is authoritative: any scanner or
parser error from libyaml is re-read by it, so messages do not depend on how PyYAML was built."""

if yaml.__with_libyaml__:
    from yaml._yaml import CParser as _CParser

    class _FastLoader(_Bounded, _CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """libyaml's scanner and parser (events only); composing (with the bounds), resolving and
        constructing stay in Python, as in `_Loader`."""

        construct_object = _construct_object

        def __init__(self, stream: str, max_nodes: int = MAX_NODES):
            _CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            yaml.composer.Composer.__init__(self)
            self._start_bounds(max_nodes)

    _LOADERS = (_FastLoader, _Loader)


class _Constructor(yaml.constructor.SafeConstructor):
    construct_object = _construct_object


class YamlDocument:
    """The composed YAML node tree, and lookups from key paths to nodes."""

    def __init__(self, root: yaml.Node | None, label: str):
        self.root, self.label = root, label
        self._constructor = _Constructor()
        self._key_values: dict[int, Any] = {}
        self._indexes: dict[int, dict[Any, tuple[yaml.Node, yaml.Node]]] = {}

    def key_value(self, node: yaml.Node) -> Any:
        """The Python value of a mapping key node (scalars only; None for complex keys)."""
        if not isinstance(node, yaml.ScalarNode) or node.tag == _MERGE_TAG:
            return None
        if id(node) not in self._key_values:
            self._key_values[id(node)] = self._constructor.construct_object(node)
        return self._key_values[id(node)]

    def entries(self, node: yaml.MappingNode) -> dict[Any, tuple[yaml.Node, yaml.Node]]:
        """The (key node, value node) of each key of a mapping, by the key's value; the last of
        a repeated key wins, as in the constructed dict. Built once per mapping, so that locating
        many problems in one large mapping stays linear."""
        index = self._indexes.get(id(node))
        if index is None:
            index = {}
            for k, v in node.value:
                key = self.key_value(k)
                if key is None and k.tag != "tag:yaml.org,2002:null":
                    continue  # a merge key or a complex key: not addressable by a key path
                try:
                    index[key] = (k, v)
                except TypeError:  # an unhashable scalar value (the constructor reports it)
                    continue
            self._indexes[id(node)] = index
        return index

    def resolve(self, loc: KeyPath) -> tuple[str, yaml.Node | None, yaml.Node | None, bool]:
        """Follow `loc` down the tree: (dotted key path, deepest node reached, the key node naming
        it when it is a mapping value, whether the whole path was found)."""
        text, node, key_node, found = "", self.root, None, True
        for part in loc:
            if part == "[key]":
                node, key_node = (key_node or node), None
                continue
            hit = None
            if found and isinstance(node, yaml.MappingNode):
                try:
                    hit = self.entries(node).get(part)
                except TypeError:
                    hit = None
                text += _key_text(part, first=not text)
            elif found and isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if 0 <= part < len(node.value):
                    hit = (None, node.value[part])
                text += f"[{part}]"
            else:
                text += f"[{part}]" if isinstance(part, int) else _key_text(part, first=not text)
            if found and hit:
                key_node, node = hit
            else:
                found = False
        return text, node, key_node, found

    def mark(self, loc: KeyPath, at_key: bool = False) -> tuple[int | None, int | None]:
        """1-based (line, col) for a problem at `loc`: the value, or its key for a section (or when
        `at_key`), or the nearest existing parent."""
        _, node, key_node, found = self.resolve(loc)
        if node is None:
            return None, None
        collection = isinstance(node, (yaml.MappingNode, yaml.SequenceNode))
        if key_node is not None and (collection or at_key or not found):
            node = key_node
        return node.start_mark.line + 1, node.start_mark.column + 1

    def problem(self, loc: KeyPath, message: str, expected: str | None = None,
                at_key: bool = False) -> Problem:
        line, col = self.mark(loc, at_key)
        key = self.resolve(loc)[0] or None
        return Problem(message, file=self.label, line=line, col=col, key=key, expected=expected)


def _key_text(part: str | int, first: bool) -> str:
    if isinstance(part, str) and _KEY_PART.fullmatch(part):
        return part if first else "." + part
    return f"[{json.dumps(part) if isinstance(part, str) else part}]"



def parse_yaml(text: str, label: str, max_nodes: int = MAX_NODES) -> tuple[yaml.Node | None, Any, list[Problem]]:
    """(root node, data built from it, duplicate-key problems); YAML errors raise InputError.
    `max_nodes`: the bound on values (a price catalogue file may hold more than a workload file)."""
    for loader_class in _LOADERS:
        final = loader_class is _LOADERS[-1]
        loader = None
        try:
            loader = loader_class(text, max_nodes)
            root = loader.get_single_node()
            if root is None:
                return None, None, []
            problems = _check_nodes(YamlDocument(root, label))
            return root, loader.construct_document(root), problems
        except (yaml.scanner.ScannerError, yaml.parser.ParserError, yaml.reader.ReaderError):
            if not final:
                continue  # re-read by the pure-Python parser, whose messages are the reference
            raise_yaml_error(sys.exc_info()[1], text, label)
        except yaml.MarkedYAMLError as exc:
            raise InputError(_yaml_problem(exc, label)) from None
        except RecursionError:  # not expected: MAX_DEPTH bounds the composer's recursion
            raise InputError(Problem(f"YAML: nested too deeply (more than {MAX_DEPTH} levels)", file=label,
                                     line=1, col=1)) from None
        finally:
            if loader is not None:
                loader.dispose()
    raise AssertionError("unreachable: the last loader returns or raises")


def raise_yaml_error(exc: BaseException, text: str, label: str) -> None:
    """Raise the InputError for a scanner, parser or reader error of the pure-Python loader."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise InputError(Problem(f"YAML syntax: unacceptable character #x{exc.character:04x}",
                                 file=label, line=line, col=col)) from None
    assert isinstance(exc, yaml.MarkedYAMLError)
    raise InputError(_yaml_problem(exc, label)) from None


def _yaml_problem(exc: yaml.MarkedYAMLError, label: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    kind = "YAML" if isinstance(exc, (yaml.constructor.ConstructorError, _LimitError)) else "YAML syntax"
    message = f"{kind}: {exc.problem or exc.context}"
    expected = "spaces, not tabs, for indentation" if "'\\t'" in (exc.problem or "") else None
    if exc.problem and exc.problem.startswith("but ") and exc.context:
        message = f"{kind}: {exc.context}, {exc.problem}"
    elif exc.problem and exc.context:
        cm = exc.context_mark
        where = f" at line {cm.line + 1}, column {cm.column + 1}" if cm else ""
        message += f" ({exc.context}{where})"
    line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
    return Problem(message, file=label, line=line, col=col, expected=expected)


def _check_nodes(doc: YamlDocument) -> list[Problem]:
    """Duplicate keys in every mapping (PyYAML keeps the last silently). Each node is visited once,
    however many aliases point at it (the composer has already bounded the expanded size), so this
    is linear in the file."""
    problems: list[Problem] = []
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, KeyPath]] = [(doc.root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack += [(child, (*loc, i)) for i, child in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = doc.key_value(key_node)
                stack.append((value_node, (*loc, key if isinstance(key, (str, int)) else "?")))
                if key_node.tag == _MERGE_TAG or key is None:
                    continue
                try:
                    if key in first:
                        mark = key_node.start_mark
                        problems.append(Problem(
                            f"duplicate key {key!r} (first at line {first[key]})", file=doc.label,
                            line=mark.line + 1, col=mark.column + 1, key=doc.resolve((*loc, key))[0],
                            expected="each key once"))
                    first.setdefault(key, key_node.start_mark.line + 1)
                except TypeError:  # unhashable key: the constructor reports it
                    pass
    return problems
