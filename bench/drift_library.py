"""What Evidently would add to the slug and to import time, next to scipy (already a dependency).

Builds a throwaway virtualenv with the production requirements (as docs/deploy-heroku.md measures
the slug), measures its site-packages (on disk and as tar + gzip), installs Evidently into it and
measures again: the difference is what choosing Evidently costs the slug, including any package it
upgrades or downgrades. Import times are the median of fresh interpreters, each importing pandas
first (the app always has it loaded), then timing only the statistics import on top of it.

Evidently 0.7.23 does not import with pandas 3 (it imports a pandas internal that pandas 3 removed):
`--also "pandas<3"` installs that downgrade after it, so that its import time can be measured at all.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = "python3.11"
IMPORTS = {
    "scipy.stats": "import scipy.stats",
    "scipy.special (what ml/drift/drift.py imports)": "from scipy.special import chdtrc",
    "sklearn (the pipeline's own, pulls scipy)": "import sklearn.ensemble",
    "evidently (Report + DataDriftPreset)": (
        "from evidently import Report\nfrom evidently.presets import DataDriftPreset"
    ),
}
TIMER = """
import time, pandas, numpy
started = time.perf_counter()
{statement}
print(time.perf_counter() - started)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evidently", default="evidently", help="the requirement to install (e.g. evidently==0.7.23)")
    parser.add_argument("--also", default="", help="a requirement installed after it, e.g. 'pandas<3'")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the virtualenv")
    args = parser.parse_args()
    print(f"reproduce: cd {ROOT} && {sys.executable} bench/drift_library.py {shlex.join(sys.argv[1:])}", flush=True)

    work = Path(tempfile.mkdtemp(prefix="bench-drift-library-"))
    try:
        venv = work / "venv"
        subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(ROOT / "requirements.txt")], check=True)
        site = next((venv / "lib").glob("python3.*/site-packages"))
        before = measure(site, work / "before.tgz")
        frozen_before = freeze(venv)
        subprocess.run([*pip, args.evidently], check=True)
        after = measure(site, work / "after.tgz")
        frozen_after = freeze(venv)
        if args.also:
            subprocess.run([*pip, args.also], check=True)
            print(f"then installed {args.also}: pandas {freeze(venv).get('pandas')}")

        print("\nsite-packages       on disk        tar+gzip")
        print(f"requirements.txt    {before[0] / 1e6:8.1f} MB   {before[1] / 1e6:8.1f} MB")
        print(f"+ {args.evidently:<17} {after[0] / 1e6:8.1f} MB   {after[1] / 1e6:8.1f} MB")
        print(f"difference          {(after[0] - before[0]) / 1e6:+8.1f} MB   {(after[1] - before[1]) / 1e6:+8.1f} MB")
        print("\npackages added or changed by the install:")
        for name in sorted(set(frozen_after) | set(frozen_before)):
            if frozen_before.get(name) != frozen_after.get(name):
                print(f"  {name}: {frozen_before.get(name, '-')} -> {frozen_after.get(name, '-')}")

        print(f"\nimport time on top of pandas, median of {args.runs} fresh interpreters:")
        for label, statement in IMPORTS.items():
            times = [timed_import(venv, statement) for _ in range(args.runs)]
            if None in times:
                print(f"  {label:<48} fails: {timed_import_error(venv, statement)}")
            else:
                print(f"  {label:<48} {statistics.median(times) * 1000:7.0f} ms")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def measure(site: Path, archive: Path) -> tuple[int, int]:
    """(bytes on disk, bytes as tar + gzip) of a site-packages folder."""
    on_disk = sum(f.stat().st_size for f in site.rglob("*") if f.is_file() and not f.is_symlink())
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:  # gzip's default, as `tar -czf`
        tar.add(site, arcname="site-packages")
    return on_disk, archive.stat().st_size


def freeze(venv: Path) -> dict[str, str]:
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(line.split("==", 1) for line in out.splitlines() if "==" in line)


def timed_import(venv: Path, statement: str) -> float | None:
    python = str(venv / "bin" / "python")
    out = subprocess.run([python, "-c", TIMER.format(statement=statement)], capture_output=True, text=True)
    return float(out.stdout.strip()) if out.returncode == 0 else None


def timed_import_error(venv: Path, statement: str) -> str:
    python = str(venv / "bin" / "python")
    out = subprocess.run([python, "-c", TIMER.format(statement=statement)], capture_output=True, text=True)
    return out.stderr.strip().splitlines()[-1]


if __name__ == "__main__":
    main()
