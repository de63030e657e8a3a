"""The typed attribute schema of a label class, and validation of values against it.

A class's `attributes` is a list of specs:
    {"key": "posture", "name": "Posture", "type": "enum", "options": ["standing", "lying"], "required": true}
    {"key": "armed", "type": "bool"}
    {"key": "count", "type": "number", "min": 0, "max": 100}
    {"key": "note", "type": "text", "max_length": 500}
"""
from __future__ import annotations

import re

TYPES = {"enum", "bool", "number", "text"}
KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class AttributeSchemaError(ValueError):
    def __init__(self, message: str, field: str = "", reason: str = ""):
        super().__init__(message)
        self.field, self.reason = field, reason or message


def validate_schema(specs) -> list[dict]:
    """Check a list of attribute specs; return it normalised. Raises AttributeSchemaError."""
    if not isinstance(specs, list):
        raise AttributeSchemaError("attributes must be a list of attribute specs")
    seen: set[str] = set()
    out = []
    for i, spec in enumerate(specs):
        where = f"attributes[{i}]"
        if not isinstance(spec, dict):
            raise AttributeSchemaError(f"{where} must be an object")
        key = spec.get("key")
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise AttributeSchemaError(f"{where}.key must be lowercase letters, digits and _")
        if key in seen:
            raise AttributeSchemaError(f"{where}.key '{key}' is used twice")
        seen.add(key)
        kind = spec.get("type")
        if kind not in TYPES:
            raise AttributeSchemaError(f"{where}.type must be one of {sorted(TYPES)}")
        unknown = set(spec) - {"key", "name", "type", "required", "options", "min", "max", "max_length", "default"}
        if unknown:
            raise AttributeSchemaError(f"{where} has unknown fields: {sorted(unknown)}")
        clean = {"key": key, "name": str(spec.get("name") or key), "type": kind, "required": bool(spec.get("required"))}
        if kind == "enum":
            options = spec.get("options")
            if not isinstance(options, list) or not options or not all(isinstance(o, str) and o for o in options):
                raise AttributeSchemaError(f"{where}.options must be a non-empty list of strings")
            if len(set(options)) != len(options):
                raise AttributeSchemaError(f"{where}.options has duplicates")
            clean["options"] = options
        if kind == "number":
            for bound in ("min", "max"):
                if bound in spec:
                    if not isinstance(spec[bound], (int, float)) or isinstance(spec[bound], bool):
                        raise AttributeSchemaError(f"{where}.{bound} must be a number")
                    clean[bound] = spec[bound]
            if "min" in clean and "max" in clean and clean["min"] > clean["max"]:
                raise AttributeSchemaError(f"{where}.min is above max")
        if kind == "text" and "max_length" in spec:
            if not isinstance(spec["max_length"], int) or spec["max_length"] < 1:
                raise AttributeSchemaError(f"{where}.max_length must be a positive integer")
            clean["max_length"] = spec["max_length"]
        out.append(clean)
    return out


def _value_error(field: str, reason: str) -> AttributeSchemaError:
    return AttributeSchemaError(f"{field} {reason}", field=field, reason=reason)


def validate_values(specs: list[dict], values, *, where: str = "attributes") -> dict:
    """Check attribute values against a class's specs; return them. Raises AttributeSchemaError
    naming the field."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise _value_error(where, "must be an object")
    by_key = {s["key"]: s for s in specs}
    unknown = set(values) - set(by_key)
    if unknown:
        raise _value_error(f"{where}.{sorted(unknown)[0]}", "is not an attribute of this class")
    for spec in specs:
        key = spec["key"]
        field = f"{where}.{key}"
        if key not in values or values[key] in (None, ""):
            if spec.get("required"):
                raise _value_error(field, "is required")
            continue
        value = values[key]
        kind = spec["type"]
        if kind == "enum" and value not in spec["options"]:
            raise _value_error(field, f"must be one of {spec['options']}")
        if kind == "bool" and not isinstance(value, bool):
            raise _value_error(field, "must be true or false")
        if kind == "number":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise _value_error(field, "must be a number")
            if "min" in spec and value < spec["min"]:
                raise _value_error(field, f"must be ≥ {spec['min']}")
            if "max" in spec and value > spec["max"]:
                raise _value_error(field, f"must be ≤ {spec['max']}")
        if kind == "text":
            if not isinstance(value, str):
                raise _value_error(field, "must be text")
            if len(value) > spec.get("max_length", 2000):
                raise _value_error(field, "is too long")
    return values
