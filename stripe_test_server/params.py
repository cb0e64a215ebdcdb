"""Form decoding (``a[b][0][c]=v``) and per-endpoint allowed-parameter trees, checked like Stripe.

A schema is a tree: a ``dict`` is an object whose keys are the only parameters allowed there;
leaves are :class:`Leaf` instances that coerce the form string to a value. Anything the tree
does not name is refused with Stripe's ``Received unknown parameter: a[b]`` error, so product
code that sends a parameter the real API would refuse fails here too.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

from .errors import invalid

_KEY = re.compile(r"\[([^\[\]]*)\]")


def decode_form(body: str) -> dict:
    """``a[b][0][c]=v&a[b][]=w`` -> nested dicts; lists stay digit-keyed until a schema asks."""
    root: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head = key.split("[", 1)[0]
        rest = key[len(head):]
        tokens = [head] + _KEY.findall(rest)
        if not head or "".join(f"[{t}]" for t in tokens[1:]) != rest:
            raise invalid(f"Invalid parameter name: {key}", key)
        node = root
        for i, token in enumerate(tokens):
            if token == "":
                token = str(len(node))
            last = i == len(tokens) - 1
            if last:
                if isinstance(node.get(token), dict):
                    raise invalid(f"Invalid parameter: {key} is both a value and a hash", key)
                node[token] = value
            else:
                child = node.setdefault(token, {})
                if not isinstance(child, dict):
                    raise invalid(f"Invalid parameter: {key} is both a value and a hash", key)
                node = child
    return root


class Leaf:
    name = "value"

    def check(self, value, path):
        if isinstance(value, dict):
            raise invalid(f"Invalid {self.name}: {path} must be a {self.name}, not a hash", path)
        if value == "":
            return None  # Stripe: an empty string unsets the field
        return self.coerce(value, path)

    def coerce(self, value, path):
        return value


class Str(Leaf):
    name = "string"


class Int(Leaf):
    name = "integer"

    def coerce(self, value, path):
        if not re.fullmatch(r"-?\d+", value):
            raise invalid(f"Invalid integer: {value}", path)
        return int(value)


class Num(Leaf):
    name = "decimal"

    def coerce(self, value, path):
        try:
            return float(Decimal(value))
        except InvalidOperation:
            raise invalid(f"Invalid decimal: {value}", path) from None


class Bool(Leaf):
    name = "boolean"

    def coerce(self, value, path):
        if value not in ("true", "false"):
            raise invalid(f"Invalid boolean: {value}", path)
        return value == "true"


class Enum(Leaf):
    def __init__(self, *values):
        self.values = values

    def coerce(self, value, path):
        if value not in self.values:
            choices = ", ".join(self.values[:-1]) + (f", or {self.values[-1]}" if len(self.values) > 1 else self.values[0])
            raise invalid(f"Invalid {path}: must be one of {choices}", path)
        return value


class Map(Leaf):
    """``metadata``: any keys, string values (up to Stripe's 50 keys)."""

    def check(self, value, path):
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise invalid(f"Invalid hash", path)
        if len(value) > 50:
            raise invalid("Metadata can have up to 50 keys", path)
        for k, v in value.items():
            if isinstance(v, dict):
                raise invalid(f"Invalid value for {path}[{k}]: metadata values must be strings", f"{path}[{k}]")
            if len(k) > 40:
                raise invalid(f"Metadata keys can be up to 40 characters long", f"{path}[{k}]")
        return dict(value)


class List(Leaf):
    def __init__(self, item):
        self.item = item

    def check(self, value, path):
        if value == "":
            return []
        if not isinstance(value, dict) or not all(k.isdigit() for k in value):
            raise invalid("Invalid array", path)
        return [check(self.item, value[k], f"{path}[{k}]") for k in sorted(value, key=int)]


class Range(Leaf):
    """``created``: an integer or ``{gt, gte, lt, lte}``."""

    def check(self, value, path):
        if isinstance(value, dict):
            return check({op: INT for op in ("gt", "gte", "lt", "lte")}, value, path)
        return {"eq": INT.check(value, path)}


class Expand(List):
    """``expand[]``: a list of dotted paths; empty entries are dropped."""

    def check(self, value, path):
        return [p for p in super().check(value, path) if p]


STR, INT, NUM, BOOL, MAP = Str(), Int(), Num(), Bool(), Map()
EXPAND = Expand(STR)


def check(node, value, path: str = ""):
    if isinstance(node, dict):
        if not isinstance(value, dict):
            raise invalid(f"Invalid object", path or None)
        out = {}
        for key, sub in value.items():
            param = f"{path}[{key}]" if path else key
            if key not in node:
                raise invalid(f"Received unknown parameter: {param}", param)
            out[key] = check(node[key], sub, param)
        return out
    return node.check(value, path)


def meta(value: dict | None) -> dict:
    """Metadata as stored on a new object: keys posted with an empty value are left out."""
    return {k: v for k, v in (value or {}).items() if v not in ("", None)}


def in_range(value: int, spec: dict | None) -> bool:
    """Whether ``value`` satisfies a checked :class:`Range` (``None`` always does)."""
    if not spec:
        return True
    ops = {"eq": value.__eq__, "gt": value.__gt__, "gte": value.__ge__, "lt": value.__lt__, "lte": value.__le__}
    return all(ops[op](bound) for op, bound in spec.items() if bound is not None)
