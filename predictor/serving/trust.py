"""The types a model's skops file holds that skops does not trust by default, listed from the
model's own objects instead of from a serialized copy of it.

MLflow saves a scikit-learn model with skops and loads it back only with these types listed as
trusted. skops lists them from a dump (`get_untrusted_types`), so listing them that way
serializes the model twice per logged version (once more inside MLflow). Here the model's
object graph is walked the way skops 0.16 walks it (same dispatch, same default trust per node
kind) without touching array contents. Any object this walk does not know how skops stores
makes it give up (None), and the caller lists the types from a dump as before; MLflow's own
check (it loads the file it wrote with these types) refuses a list that misses one.
tests/predictor/serving/test_trust.py holds the walk equal to skops for every estimator the pipeline trains.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np


class Unknown(Exception):
    """An object whose skops form this walk does not know."""


def untrusted_types(model: Any) -> list[str] | None:
    """What `skops.io.get_untrusted_types` would list for `model`'s dump, or None when unsure."""
    try:
        rules = _Rules()
        found: set[str] = set()
        rules.walk(model, found)
    except (Unknown, ImportError, AttributeError, TypeError, ValueError):
        return None
    return sorted(found)


class _Rules:
    def __init__(self) -> None:
        from sklearn.tree._tree import Tree
        from skops.io import _sklearn, _trusted_types

        self.tree = Tree
        self.losses = tuple(t for t in (_sklearn.CyLossFunction, _sklearn.CyHalfMultinomialLoss) if t is not None)
        self.allowed_losses = {_name(t) for t in _sklearn.ALLOWED_LOSSES}
        self.unsupported = tuple(_sklearn.UNSUPPORTED_TYPES)
        self.objects = set(_trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES + _trusted_types.SKLEARN_INTERNAL_TYPE_NAMES)
        self.scalars = set(_trusted_types.NUMPY_DTYPE_TYPE_NAMES)
        named = _trusted_types.PRIMITIVE_TYPE_NAMES + _trusted_types.CONTAINER_TYPE_NAMES
        self.types = set(named + _trusted_types.NUMPY_DTYPE_TYPE_NAMES)

    def walk(self, root: Any, found: set[str]) -> None:
        # Held, not just their ids: a state dict made on the fly must not free its id for another.
        seen: dict[int, Any] = {}
        pending = [root]
        while pending:
            obj = pending.pop()
            if id(obj) in seen:
                continue
            seen[id(obj)] = obj
            pending.extend(self.children(obj, found))

    def children(self, obj: Any, found: set[str]) -> list[Any]:
        """What skops stores under `obj`; adds `obj`'s type to `found` if skops would not trust it."""
        kind = type(obj)
        if obj is None or kind in (str, int, float, bool, slice):
            return []
        if kind in (list, tuple, set):
            return list(obj)
        if kind is dict:
            return [*obj.values(), *map(type, obj)]
        if kind is type:
            if _name(obj) not in self.types:
                found.add(_name(obj))
            return []
        if kind is np.ndarray:
            return obj.ravel().tolist() if obj.dtype == object else []
        if isinstance(obj, np.generic) and kind.__module__ == "numpy":
            if _name(kind) not in self.scalars:
                found.add(_name(kind))
            return []
        if isinstance(obj, np.dtype):
            found.add("numpy.dtype")
            return []
        if kind is self.tree:
            # Its arrays, counts and depth: nothing skops would list.
            found.add(_name(kind))
            return []
        if isinstance(obj, self.losses):
            return self.loss(obj, found)
        if kind is np.random.Generator:
            return [obj.bit_generator.state, obj.bit_generator.seed_seq.state]
        if isinstance(obj, self.unsupported) or not _plain_object(obj):
            raise Unknown(kind)
        if _name(kind) not in self.objects:
            found.add(_name(kind))
        return [obj.__getstate__()]

    def loss(self, obj: Any, found: set[str]) -> list[Any]:
        if _name(type(obj)) not in self.allowed_losses:
            found.add(_name(type(obj)))
        reduced = obj.__reduce__()
        if reduced[0] is type(obj):  # rebuilt from its arguments and state
            return [reduced[1], reduced[2] if len(reduced) == 3 else obj.__getstate__() or {}]
        if reduced[1][0] is not type(obj):
            raise Unknown(type(obj))
        return [(), reduced[2]] if len(reduced) == 3 else [reduced[1][2]]


def _plain_object(obj: Any) -> bool:
    """True for what skops stores as an ObjectNode: not JSON, not rebuilt from __reduce__, of no
    kind with a form of its own in skops (functions, methods, containers, other numpy or scipy
    objects...: all of these have their type defined in one of the modules below)."""
    module = type(obj).__module__.split(".")[0]
    if module in ("builtins", "numpy", "scipy", "functools", "operator", "zoneinfo", "collections", "types"):
        return False
    try:
        json.dumps(obj)
    except Exception:
        pass
    else:
        return False
    reduced = obj.__reduce__()
    return not (len(reduced) >= 2 and reduced[0] is type(obj) and all(item is None for item in reduced[2:]))


def _name(kind: type) -> str:
    return f"{kind.__module__}.{kind.__name__}"
