#!/usr/bin/env python
import gc
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
    # The command is done and the process ends: without this, its exit collects every object still
    # alive (Django, MLflow, scikit-learn, pandas) looking for cycles, 1.5 s after `bootstrap`.
    gc.freeze()


if __name__ == "__main__":
    main()
