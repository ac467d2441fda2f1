"""The team's own training pipeline named by `TRAINING_PIPELINE`, imported the Django way.

`package.module:callable` (or `package.module.callable`) is imported once per process with
`import_string`; a system check (retraining/checks.py) imports it when a process starts and every
run imports it again before training, so a path that cannot be imported is said at start-up and
fails the run that meets it, naming the path, while the champion stays. What the callable returns
is checked by ml/plugin.py.
"""

import functools
from collections.abc import Callable
from typing import Any

from django.utils.module_loading import import_string

from ml.estimators import TrainingError
from ml.plugin import code_version


@functools.cache
def load(path: str) -> Callable[..., Any]:
    """The callable `path` names, or TrainingError saying why it cannot be had."""
    return _load(path.replace(":", "."), path)


@functools.cache
def _load(dotted: str, path: str) -> Callable[..., Any]:
    try:
        found = import_string(dotted)
    except Exception as exc:
        raise TrainingError(f"TRAINING_PIPELINE={path!r} cannot be imported: {type(exc).__name__}: {exc}") from None
    if not callable(found):
        raise TrainingError(f"TRAINING_PIPELINE={path!r} is not callable: it is a {type(found).__name__}")
    return found


def version(path: str) -> str:
    """The team code's version: its package's version, else its module file's sha256 (ml/plugin.py)."""
    module = path.split(":")[0] if ":" in path else path.rpartition(".")[0]
    return code_version(module)
