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
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.errors import InputError, Problem
from planner.spec.fields import allowed_keys, choices_at
from planner.spec.schema import ProblemSpec
from planner.spec.textfile import read_user_text
from planner.spec.values import NAMES_CONTEXT, RULE_ERROR, UNION_TAGS
from planner.spec.yaml_tree import KeyPath, YamlDocument, parse_yaml


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec and where each of its keys sits in the file it came from."""

    spec: ProblemSpec
    path: str
    """The file as the user named it (used in messages)."""
    base_dir: Path
    """Directory of the YAML file: relative model config paths resolve against it."""
    _doc: YamlDocument | None = field(default=None, repr=False, compare=False)
    """The parsed node tree; None for a spec built in code (problems then carry no line)."""

    def _document(self) -> YamlDocument:
        return self._doc if self._doc is not None else YamlDocument(None, self.path)

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


NameCheck = Callable[[str, str, Path], list[tuple[str, "str | None"]]]
"""`names(kind, name, base_dir)`: (message, expected) per problem with a GPU, model or precision
name, empty when it is known; `base_dir` is the workload file's directory (for config.json paths)."""


def load_spec(path: str | Path, names: NameCheck | None = None) -> LoadedSpec:
    """Read and validate the workload file at `path`.

    `names` (optional) checks GPU, model and precision names against a catalogue in the same pass
    as the schema, so one run reports unknown names beside every other problem.

    Raises:
        InputError: the file is missing, unreadable, not YAML, or breaks the schema; one located
            problem per defect.
    """
    text = read_user_text(Path(path))
    return load_spec_text(text, str(path), Path(path).parent, names)


def load_spec_text(text: str, path_label: str, base_dir: Path | None = None,
                   names: NameCheck | None = None) -> LoadedSpec:
    """Validate workload YAML given as text; `path_label` names it in messages.

    `base_dir` defaults to the directory part of `path_label`; `names` as in `load_spec`.

    Raises:
        InputError: every problem found, in file order.
    """
    root, data, problems = parse_yaml(text, path_label)
    doc = YamlDocument(root, path_label)
    if root is None:
        raise InputError(Problem("the file is empty", file=path_label, line=1, col=1,
                                 expected="a mapping with at least name: and workloads:"))
    base = base_dir if base_dir is not None else Path(path_label).parent
    context = {NAMES_CONTEXT: lambda kind, name: names(kind, name, base)} if names is not None else None
    spec = None
    try:
        spec = ProblemSpec.model_validate(data, context=context)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        close = {i: _did_you_mean(e) for i, e in enumerate(errors) if e["type"] == "extra_forbidden"}
        typos = {(_untagged(errors[i]["loc"])[:-1], c) for i, c in close.items()}
        for i, e in enumerate(errors):
            loc = _untagged(e["loc"])
            if not (e["type"] == "missing" and (loc[:-1], loc[-1]) in typos):
                problems += _problems(doc, e, close.get(i))  # a typo'd key is one problem, not two
    if problems or spec is None:
        problems.sort(key=lambda p: (p.line or 0, p.col or 0))
        raise InputError(problems)
    return LoadedSpec(spec=spec, path=path_label, base_dir=base, _doc=doc)


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
    """A number as a message shows it: 5 for 5.0, but 1e+308 (not its 309 digits) for 1e308."""
    return str(int(x)) if isinstance(x, float) and x.is_integer() and abs(x) < 1e16 else str(x)


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
    loc = _untagged(err["loc"])
    return _closest_key(loc[:-1], str(loc[-1]))


def _closest_key(section: KeyPath, key: str) -> str | None:
    close = difflib.get_close_matches(key, _allowed_keys(section), n=1, cutoff=0.6)
    return close[0] if close else None


@functools.lru_cache(maxsize=256)
def _allowed_keys(section: KeyPath) -> tuple[str, ...]:
    """`allowed_keys`, once per section (a file with thousands of unknown keys asks thousands of times)."""
    return tuple(allowed_keys(section))


def _problems(doc: YamlDocument, err: Any, close: str | None = None) -> list[Problem]:
    """A pydantic error as located Problems: one, or for a broken rule with further messages in
    its ctx (`also`: e.g. every defect of a model's config.json), one per message."""
    if err["type"] == RULE_ERROR:
        ctx, loc = err.get("ctx") or {}, _untagged(err["loc"])
        messages = [ctx["message"], *ctx.get("also", ())]
        return [doc.problem(loc, m, ctx.get("expected") if i == 0 else None) for i, m in enumerate(messages)]
    return [_problem(doc, err, close)]


def _untagged(loc: Any) -> tuple:
    """An error location without the union tags of shape-discriminated fields (`values.by_shape`)."""
    return tuple(part for part in loc if part not in UNION_TAGS)


def _problem(doc: YamlDocument, err: Any, close: str | None = None) -> Problem:
    """One pydantic error as a located, plain-language Problem (`close`: the did-you-mean of an
    unknown key, when the caller has it already)."""
    kind, loc, value, ctx = err["type"], _untagged(err["loc"]), err.get("input"), err.get("ctx") or {}
    if kind == RULE_ERROR:
        return doc.problem(loc, ctx["message"], ctx.get("expected"))
    if kind == "missing":
        return doc.problem(loc[:-1], f"missing required key {loc[-1]!r}")
    if kind == "extra_forbidden":
        close = close if close is not None else _did_you_mean(err)
        if close:
            return doc.problem(loc, f"unknown key {loc[-1]!r}; did you mean {close!r}?", at_key=True)
        return doc.problem(loc, f"unknown key {loc[-1]!r}", "one of " + ", ".join(_allowed_keys(loc[:-1])),
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
        folded = {c.casefold(): c for c in choices}  # `usd` suggests `USD`, `Rent` suggests `rent`
        close = ([folded[c] for c in difflib.get_close_matches(value.casefold(), list(folded), n=1, cutoff=0.6)]
                 if isinstance(value, str) else [])
        shown = repr(value) if isinstance(value, str) else describe(value)
        if close:
            return doc.problem(loc, f"unknown value {shown}; did you mean {close[0]!r}? "
                                    f"(one of {', '.join(choices)})")
        return doc.problem(loc, f"unknown value {shown}", "one of " + ", ".join(choices))
    message = str(err.get("msg", kind))
    return doc.problem(loc, message[:1].lower() + message[1:])
