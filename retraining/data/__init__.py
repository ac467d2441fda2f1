"""The data registry edge: the only code that talks to git and DVC about datasets.

- `source`: where the pipeline reads a dataset version (a DVC registry), and the source the settings name;
- `file`: a plain data file as a source; `folder`: a DVC-tracked folder read as one dataset;
- `registry`: creating a registry and publishing a new version into it;
- `formats`: how a file is read, chosen by its suffix (CSV);
- `vcs`: git and dvc as confined subprocesses; `base`: the errors and the version record.

Django is imported only by `source_from_settings`, so scripts and benchmarks can use this
package without configured settings.
"""

from retraining.data.base import BadData, DataError, DatasetVersion, DataUnavailable
from retraining.data.file import FileSource
from retraining.data.registry import init_registry, publish
from retraining.data.source import DvcRegistrySource, source_from_settings

__all__ = [
    "BadData",
    "DataError",
    "DataUnavailable",
    "DatasetVersion",
    "DvcRegistrySource",
    "FileSource",
    "init_registry",
    "publish",
    "source_from_settings",
]
