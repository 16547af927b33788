"""Read a workload YAML file into a `ProblemSpec`, with every problem located in the file.

The text is parsed once with `yaml.SafeLoader` into a node tree (which keeps line and column
marks); the Python data handed to pydantic is built from those same nodes, so each validation
error maps back to the place it came from. All problems are collected and raised together as one
`InputError`, one line each, in file order:

    problems/x.yaml:12:7: workloads[1].slo.tpot_ms: must be > 0 (got -5)

Locations: a bad value points at the value; an unknown or duplicate key at the key; a problem with
a whole section (a missing key, a broken rule) at the key that opens the section, or at the first
key of a list item.
"""

from __future__ import annotations

import datetime
import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from planner.errors import InputError, Problem
from planner.spec.fields import allowed_keys, choices_at
from planner.spec.schema import RULE_ERROR, ProblemSpec
from planner.spec.textfile import read_user_text

MAX_NODES = 100_000
"""Most YAML values a file may hold once aliases are expanded (guards against alias bombs)."""

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


class _Loader(yaml.SafeLoader):
    """`yaml.SafeLoader` (no Python objects, nothing executed) with located conversion errors."""

    construct_object = _construct_object


class _Constructor(yaml.constructor.SafeConstructor):
    construct_object = _construct_object


class _Document:
    """The composed YAML node tree, and lookups from key paths to nodes."""

    def __init__(self, root: yaml.Node | None, label: str):
        self.root, self.label = root, label
        self._constructor = _Constructor()
        self._key_values: dict[int, Any] = {}

    def key_value(self, node: yaml.Node) -> Any:
        """The Python value of a mapping key node (scalars only; None for complex keys)."""
        if not isinstance(node, yaml.ScalarNode) or node.tag == _MERGE_TAG:
            return None
        if id(node) not in self._key_values:
            self._key_values[id(node)] = self._constructor.construct_object(node)
        return self._key_values[id(node)]

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
                for k, v in node.value:  # the last match wins, as in the constructed dict
                    if k.tag != _MERGE_TAG and self.key_value(k) == part:
                        hit = (k, v)
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


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec and where each of its keys sits in the file it came from."""

    spec: ProblemSpec
    path: str
    """The file as the user named it (used in messages)."""
    base_dir: Path
    """Directory of the YAML file: relative model config paths resolve against it."""
    _doc: _Document | None = field(default=None, repr=False, compare=False)
    """The parsed node tree; None for a spec built in code (problems then carry no line)."""

    def _document(self) -> _Document:
        return self._doc if self._doc is not None else _Document(None, self.path)

    def where(self, *key_path: str | int) -> tuple[int | None, int | None]:
        """1-based (line, col) of the value at `key_path` (e.g. `"workloads", 0, "model"`), or of
        the nearest parent that is in the file; (None, None) if there is none."""
        _, node, _, _ = self._document().resolve(key_path)
        if node is None:
            return None, None
        return node.start_mark.line + 1, node.start_mark.column + 1

    def problem(self, key_path: KeyPath, message: str, expected: str | None = None) -> Problem:
        """A located `Problem` about `key_path`, for later steps (e.g. an unknown GPU name):
        `file:line:col: workloads[0].model: message; expected ...`."""
        return self._document().problem(key_path, message, expected)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_spec(path: str | Path) -> LoadedSpec:
    """Read and validate the workload file at `path`.

    Raises:
        InputError: the file is missing, unreadable, not YAML, or breaks the schema; one located
            problem per defect.
    """
    text = read_user_text(Path(path))
    return load_spec_text(text, str(path), Path(path).parent)


def load_spec_text(text: str, path_label: str, base_dir: Path | None = None) -> LoadedSpec:
    """Validate workload YAML given as text; `path_label` names it in messages.

    `base_dir` defaults to the directory part of `path_label`.

    Raises:
        InputError: every problem found, in file order.
    """
    root, data, problems = _parse(text, path_label)
    doc = _Document(root, path_label)
    if root is None:
        raise InputError(Problem("the file is empty", file=path_label, line=1, col=1,
                                 expected="a mapping with at least name: and workloads:"))
    spec = None
    try:
        spec = ProblemSpec.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        typos = {(tuple(e["loc"][:-1]), _did_you_mean(e)) for e in errors if e["type"] == "extra_forbidden"}
        problems += [_problem(doc, e) for e in errors  # a typo'd key is one problem, not two
                     if not (e["type"] == "missing" and (tuple(e["loc"][:-1]), e["loc"][-1]) in typos)]
    if problems or spec is None:
        problems.sort(key=lambda p: (p.line or 0, p.col or 0))
        raise InputError(problems)
    base = base_dir if base_dir is not None else Path(path_label).parent
    return LoadedSpec(spec=spec, path=path_label, base_dir=base, _doc=doc)


def _parse(text: str, label: str) -> tuple[yaml.Node | None, Any, list[Problem]]:
    """(root node, data built from it, duplicate-key problems); YAML errors raise InputError."""
    loader = None
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
        if root is None:
            return None, None, []
        problems = _check_nodes(_Document(root, label))
        return root, loader.construct_document(root), problems
    except yaml.MarkedYAMLError as exc:
        raise InputError(_yaml_problem(exc, label)) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise InputError(Problem(f"YAML syntax: unacceptable character #x{exc.character:04x}",
                                 file=label, line=line, col=col)) from None
    except RecursionError:
        raise InputError(Problem("YAML: nested too deeply", file=label)) from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_problem(exc: yaml.MarkedYAMLError, label: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    kind = "YAML" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax"
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


def _check_nodes(doc: _Document) -> list[Problem]:
    """Duplicate keys in every mapping (PyYAML keeps the last silently), and a bound on the
    number of values once aliases are expanded."""
    problems: list[Problem] = []
    seen_maps: set[int] = set()
    stack: list[tuple[yaml.Node, KeyPath]] = [(doc.root, ())]
    visits = 0
    while stack:
        node, loc = stack.pop()
        visits += 1
        if visits > MAX_NODES:
            raise InputError(Problem(f"YAML: more than {MAX_NODES} values once aliases are expanded",
                                     file=doc.label, line=1, col=1))
        if isinstance(node, yaml.SequenceNode):
            stack += [(child, (*loc, i)) for i, child in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = doc.key_value(key_node)
                stack.append((value_node, (*loc, key if isinstance(key, (str, int)) else "?")))
                if id(node) in seen_maps or key_node.tag == _MERGE_TAG or key is None:
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
            seen_maps.add(id(node))
    return problems


# --------------------------------------------------------------------------------------------
# Pydantic errors in plain words
# --------------------------------------------------------------------------------------------

_TYPE_WANTED = {
    "int_type": "an integer", "float_type": "a number", "string_type": "a string",
    "bool_type": "true or false", "list_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping",
}
_BOUNDS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="),
           "less_than": ("lt", "<"), "less_than_equal": ("le", "<=")}
_NUMBER = re.compile(r"[-+]?(\d[\d_]*)?\.?\d*([eE][-+]?\d+)?")


def _num(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def describe(value: Any) -> str:
    """A value as a message shows it: `the string "5"`, `the number 5`, `true`, `a list`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "an empty value (null)"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return "the string " + json.dumps(shown, ensure_ascii=False)
    if isinstance(value, (int, float)):
        return f"the number {_num(value)}"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"the date {value.isoformat()}"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a value of type {type(value).__name__}"


def _type_hint(kind: str, value: Any) -> str | None:
    """What to write instead, where a common slip explains the error."""
    numeric = isinstance(value, str) and value.strip() and _NUMBER.fullmatch(value.strip())
    if kind in ("int_type", "float_type") and numeric:
        if re.search(r"[eE]", value):
            return f"{_num(float(value))} (YAML reads {value.strip()} as text, not as a number)"
        return f"{value.strip()} without quotes"
    if kind == "string_type" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'quotes around it: "{value}"'
    if kind == "list_type" and isinstance(value, str):
        return f"a list such as [{value}]"
    if kind == "model_type" and value is None:
        return "keys under it, or leave it out for the defaults"
    return None


def _did_you_mean(err: Any) -> str | None:
    """The allowed key closest to an unknown one, if any is close."""
    close = difflib.get_close_matches(str(err["loc"][-1]), allowed_keys(tuple(err["loc"][:-1])), n=1, cutoff=0.6)
    return close[0] if close else None


def _problem(doc: _Document, err: Any) -> Problem:
    """One pydantic error as a located, plain-language Problem."""
    kind, loc, value, ctx = err["type"], tuple(err["loc"]), err.get("input"), err.get("ctx") or {}
    if kind == RULE_ERROR:
        return doc.problem(loc, ctx["message"], ctx.get("expected"))
    if kind == "missing":
        return doc.problem(loc[:-1], f"missing required key {loc[-1]!r}")
    if kind == "extra_forbidden":
        close = _did_you_mean(err)
        if close:
            return doc.problem(loc, f"unknown key {loc[-1]!r}; did you mean {close!r}?", at_key=True)
        return doc.problem(loc, f"unknown key {loc[-1]!r}", "one of " + ", ".join(allowed_keys(loc[:-1])),
                           at_key=True)
    if kind == "invalid_key":
        return doc.problem((*loc, "[key]"), f"keys must be strings, got {describe(loc[-1])}",
                           f'quotes around it: "{loc[-1]}"')
    if not loc and kind in ("model_type", "model_attributes_type"):
        return doc.problem(loc, f"the top level must be a mapping of keys, got {describe(value)}",
                           "keys such as name: and workloads:")
    if kind in _TYPE_WANTED:
        wanted = _TYPE_WANTED[kind]
        if loc and loc[-1] == "[key]":
            return doc.problem(loc, f"keys must be strings, got {describe(value)}", f'quotes around it: "{value}"')
        return doc.problem(loc, f"expected {wanted}, got {describe(value)}", _type_hint(kind, value))
    if kind in _BOUNDS:
        name, sign = _BOUNDS[kind]
        return doc.problem(loc, f"must be {sign} {_num(ctx[name])} (got {_num(value)})")
    if kind == "finite_number":
        return doc.problem(loc, f"must be a finite number (got {_num(value)})")
    if kind in ("too_short", "string_too_short"):
        return doc.problem(loc, "must not be empty")
    if kind == "literal_error":
        choices = [str(c) for c in choices_at(loc)] or [ctx.get("expected", "")]
        close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6) if isinstance(value, str) else []
        shown = repr(value) if isinstance(value, str) else describe(value)
        if close:
            return doc.problem(loc, f"unknown value {shown}; did you mean {close[0]!r}? "
                                    f"(one of {', '.join(choices)})")
        return doc.problem(loc, f"unknown value {shown}", "one of " + ", ".join(choices))
    message = str(err.get("msg", kind))
    return doc.problem(loc, message[:1].lower() + message[1:])
