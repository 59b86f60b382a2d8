"""What the ``hybrid-search`` command and its command groups share: exit codes, settings from
the global flags, and the ``--filter`` expressions. ``cli.py`` builds the parser from the groups
in ``commands/``; both import from here, so no group imports the command it is part of.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

__all__ = [
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "parse_filter_args",
    "settings_from_args",
]

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3


def settings_from_args(args: argparse.Namespace, **extra: Any) -> Any:
    """Settings from the environment and config file, with the global flags applied."""
    from hybrid_search.config import load_settings

    overrides: dict[str, Any] = dict(extra)
    if args.data_dir is not None and "embedded" not in overrides:
        overrides["embedded"] = {"data_dir": args.data_dir}
    if args.embedding_backend:
        overrides["embedding"] = {"backend": args.embedding_backend}
    return load_settings(**overrides)


def parse_filter_args(exprs: Sequence[str], template: Any) -> dict[str, Any]:
    """Turn ``brand=X``, ``color=red,black``, ``price<=500``, ``in_stock=true`` into filters.

    Raises:
        InvalidRequestError: an expression cannot be parsed or its field is unknown.
    """
    from hybrid_search.errors import InvalidRequestError

    filters: dict[str, Any] = {}
    for expr in exprs:
        for op, op_key in ((">=", "gte"), ("<=", "lte"), (">", "gt"), ("<", "lt"), ("=", None)):
            if op in expr:
                field, _, raw = expr.partition(op)
                field, raw, key = field.strip(), raw.strip(), op_key
                break
        else:
            msg = f"--filter {expr!r}: expected field=value, field>=N, field<=N, field>N or field<N"
            raise InvalidRequestError(msg)
        spec = template.fields.get(field)
        kind = spec.kind if spec is not None else "keyword"
        value: Any
        if kind == "number":
            try:
                value = float(raw)
            except ValueError as exc:
                msg = f"--filter {expr!r}: {raw!r} is not a number"
                raise InvalidRequestError(msg) from exc
        elif kind == "boolean":
            if raw.lower() not in ("true", "false"):
                msg = f"--filter {expr!r}: {raw!r} is not true or false"
                raise InvalidRequestError(msg)
            value = raw.lower() == "true"
        elif key is None and "," in raw:
            value = [v.strip() for v in raw.split(",") if v.strip()]
        else:
            value = raw
        if key is None:
            filters[field] = value
        else:
            filters.setdefault(field, {})[key] = value
    return filters
