"""The one way a model file is loaded: with this app's own allowlist of types.

A scikit-learn model is a skops file, and skops builds only the types it is told to trust (beyond
its defaults: builtins, numpy scalars and dtypes, scikit-learn's common estimators). MLflow's
loader tells it to trust the list the model file itself records (`skops_trusted_types` in the
MLmodel file), so a model registered by hand decides its own trust. Here that list is ignored:
the types the file holds are read from it, and every one skops does not trust by default must be
scikit-learn's, or named by the settings (MODEL_TRUSTED_TYPES, and the package of the module that
TRAINING_PIPELINE names); anything else refuses the whole file, naming the types, before any of
it is built. Pickle files are refused outright: loading one runs code of the file's choosing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zipfile import ZipFile

from django.conf import settings

# Every type of scikit-learn's own package (estimators, their trees and losses...).
SCIKIT_LEARN = "sklearn"
# Listed by skops for nearly every fitted estimator (the dtype an estimator records); building a
# dtype runs no code of the file's choosing.
NUMPY_TYPES = frozenset({"numpy.dtype"})


class UntrustedModel(Exception):
    """The model file holds what this app does not load."""


def trusted_prefixes() -> list[str]:
    """Type paths or module prefixes trusted beyond skops' defaults, from the settings."""
    prefixes = [SCIKIT_LEARN, *settings.MODEL_TRUSTED_TYPES]
    module = getattr(settings, "TRAINING_PIPELINE", "").partition(":")[0].strip()
    if module:
        # The pipeline's module and everything beside it in its package: a team keeps its
        # transformers next to the function that builds its pipeline.
        package = module.rpartition(".")[0] or module
        prefixes.append(package)
    return prefixes


def is_trusted(name: str, prefixes: list[str]) -> bool:
    """`name` (a type path as skops lists it) is one of `prefixes` or lies under one of them."""
    if name in NUMPY_TYPES:
        return True
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def load_model(path: str | Path, flavor: dict[str, Any]) -> Any:
    """The scikit-learn model of an MLflow model folder, built only if every type it holds is trusted.

    `flavor` is the folder's `sklearn` flavor from its MLmodel file: only where the model file is
    and how it was saved are read from it, never what it says to trust.
    """
    import skops.io._audit as audit
    from skops.io._utils import read_schema

    file_format = flavor.get("serialization_format", "pickle")
    if file_format != "skops":
        raise UntrustedModel(
            f"the model was saved with {file_format}, which runs code of the file's choosing when "
            "loaded: only skops files are loaded (MLflow's default for scikit-learn models)"
        )
    folder = Path(path).resolve()
    model_file = (folder / str(flavor.get("pickled_model", ""))).resolve()
    if model_file.parent != folder:
        raise UntrustedModel(f"the model file {flavor.get('pickled_model')!r} is not a file of the model's folder")
    prefixes = trusted_prefixes()
    with ZipFile(model_file, "r") as file:
        schema, context = read_schema(file)
        # Nodes only: no object is built and no module imported until construct().
        tree = audit.get_tree(schema, context, trusted=None)
        listed = sorted(tree.get_unsafe_set())
        refused = [name for name in listed if not is_trusted(name, prefixes)]
        if refused:
            raise UntrustedModel(
                f"the model holds types not trusted by this app: {', '.join(refused)}. The types a model "
                "file lists as trusted are ignored; to trust these, name them or their module in "
                "MODEL_TRUSTED_TYPES (or set TRAINING_PIPELINE to a module of their package)"
            )
        audit.audit_tree(tree, trusted=listed)
        return tree.construct()
