"""Config dataclasses to and from plain dicts (config.json, user YAML), checked in one place.

Every generator config (LM, renderer, autoencoder, tokenizer, training, the whole generator) reads a
user-editable file, so an unknown key must fail loudly with the known ones listed, and JSON lists must
come back as the tuples the dataclasses hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any, TypeVar

from songprep.errors import UsageError

T = TypeVar("T")


def config_from_dict(cls: type[T], d: Any, what: str) -> T:
    """``cls(**d)`` after checking ``d`` is a mapping of known fields; lists become tuples.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class C:
    ...     sizes: tuple[int, ...] = (1,)
    >>> config_from_dict(C, {"sizes": [2, 3]}, "demo")
    C(sizes=(2, 3))
    """
    if not isinstance(d, Mapping):
        raise UsageError(f"{what} config must be a mapping, got {type(d).__name__}")
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(d) - names)
    if unknown:
        raise UsageError(f"unknown {what} config keys: {', '.join(unknown)} (known: {', '.join(sorted(names))})")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def config_to_dict(obj: Any) -> dict[str, Any]:
    """The dataclass as JSON-ready values (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(obj).items()}
