"""The workload file's field reference, read off the schema: allowed keys and choices at a key path
(for did-you-mean), each field's type, range and default in words, and the README's field table.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Annotated, Any, Literal, Union

from annotated_types import Ge, Gt, Le, Lt, MinLen
from pydantic import (
    BaseModel,
)

from planner.spec.schema import ProblemSpec
from planner.spec.values import Loc, tp_degree


def _strip(ann: Any) -> tuple[Any, list[Any], bool]:
    """(bare type, constraint metadata, nullable) of an annotation."""
    meta: list[Any] = []
    nullable = False
    while True:
        origin = typing.get_origin(ann)
        if origin is Annotated:
            ann, *extra = typing.get_args(ann)
            meta += extra
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            nullable = nullable or len(args) < len(typing.get_args(ann))
            if len(args) != 1:
                return ann, meta, nullable
            ann = args[0]
        else:
            return ann, meta, nullable


def _is_model(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def _section_member(ann: Any) -> Any:
    """The section (model) member of a shape-discriminated union such as `none | n_plus_1 | {zones: N}`;
    any other annotation as it is."""
    if typing.get_origin(ann) in (Union, types.UnionType):
        return next((m for m in (_strip(a)[0] for a in typing.get_args(ann)) if _is_model(m)), ann)
    return ann


def annotation_at(loc: Loc) -> Any:
    """The annotation of what `loc` (a pydantic error location) points at, or None if unknown."""
    ann: Any = ProblemSpec
    for part in loc:
        ann, _, _ = _strip(ann)
        origin = typing.get_origin(ann)
        ann = _section_member(ann)
        if _is_model(ann) and isinstance(part, str) and part in ann.model_fields:
            ann = ann.model_fields[part].annotation
        elif origin is list and isinstance(part, int):
            ann = typing.get_args(ann)[0]
        elif origin is dict and part != "[key]":
            ann = typing.get_args(ann)[1]
        else:
            return None
    return ann


def allowed_keys(loc: Loc) -> list[str]:
    """Keys the section at `loc` accepts (empty if `loc` is not a section)."""
    ann = _section_member(_strip(annotation_at(loc))[0])
    return list(ann.model_fields) if _is_model(ann) else []


def choices_at(loc: Loc) -> tuple[Any, ...]:
    """The allowed values where `loc` holds a Literal, else ()."""
    ann, _, _ = _strip(annotation_at(loc))
    if typing.get_origin(ann) in (Union, types.UnionType):  # the word member of a shape-discriminated union
        return tuple(c for m in typing.get_args(ann) if typing.get_origin(_strip(m)[0]) is Literal
                     for c in typing.get_args(_strip(m)[0]))
    return typing.get_args(ann) if typing.get_origin(ann) is Literal else ()


_TYPE_WORDS = {str: "string", int: "integer", float: "number", bool: "true/false"}


def _num(x: Any) -> str:
    """A bound as the field table shows it: 240, 0.01, 1e-06, 1e+12 (not 1000000000000)."""
    if isinstance(x, (int, float)) and abs(x) >= 1e9:
        return f"{float(x):g}"
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def type_text(ann: Any, extra_meta: list[Any] | None = None) -> str:
    """Plain words for a field type: `number > 0 or null`, `list of integer`, `rent | buy`."""
    ann, meta, nullable = _strip(ann)
    meta = meta + list(extra_meta or [])
    origin = typing.get_origin(ann)
    if origin in (Union, types.UnionType):  # several types: `none | model_error or number in [1, 100]`
        text = " or ".join(type_text(a) for a in typing.get_args(ann) if a is not type(None))
    elif origin is Literal:
        text = " | ".join(map(str, typing.get_args(ann)))
    elif origin is list:
        text = "list of " + type_text(typing.get_args(ann)[0])
    elif origin is dict:
        key, value = typing.get_args(ann)
        text = f"mapping of {type_text(key)} to {type_text(value)}"
    elif _is_model(ann):
        text = "section"
    else:
        text = _TYPE_WORDS.get(ann, getattr(ann, "__name__", str(ann)))
        if ann is int and any(getattr(m, "func", None) is tp_degree for m in meta):
            text = "1 | 2 | 4 | 8"
    bounds = {type(m).__name__: m for m in meta if isinstance(m, (Gt, Ge, Lt, Le))}
    if "Gt" in bounds and "Le" in bounds:
        text += f" in ({_num(bounds['Gt'].gt)}, {_num(bounds['Le'].le)}]"
    elif "Ge" in bounds and "Le" in bounds:
        text += f" in [{_num(bounds['Ge'].ge)}, {_num(bounds['Le'].le)}]"
    else:
        for name, sign in (("Gt", ">"), ("Ge", ">="), ("Lt", "<"), ("Le", "<=")):
            if name in bounds:
                text += f" {sign} {_num(getattr(bounds[name], name.lower()))}"
    if any(isinstance(m, MinLen) and m.min_length >= 1 for m in meta):
        text += " (non-empty)"
    return text + (" or null" if nullable else "")


def _default_text(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(all defaults)"
    if isinstance(value, str):
        return value or '""'
    return json.dumps(value).replace('"', "")  # null, false, [1, 2, 4, 8], 0.8, {}


def field_reference(model: type[BaseModel] = ProblemSpec, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key path, type, default, description) of every field, sections followed by their fields.

    List items are written `workloads[].name`. Built from the models, so a README table made from
    it cannot drift from the code.
    """
    rows = []
    for key, field in model.model_fields.items():
        path = prefix + key
        ann = _section_member(_strip(field.annotation)[0])
        rows.append((path, type_text(field.annotation, field.metadata), _default_text(field), field.description or ""))
        item = typing.get_args(ann)[0] if typing.get_origin(ann) is list else None
        if _is_model(ann):
            rows += field_reference(ann, path + ".")
        elif item is not None and _is_model(item):
            rows[-1] = (path, f"list of sections{' (non-empty)' if field.is_required() else ''}", *rows[-1][2:])
            rows += field_reference(item, path + "[].")
    return rows
