"""What an install weighs, per distribution (from the RECORD files), and what the runtime set pulls in.

`python -m bot.evaluation.venv_size [--json]` reports the current environment: the README's install
figures come from it. `runtime_closure()` walks Deskhand's own requirements without extras, so a
test can say which packages `pip install deskhand` brings, whatever else a dev venv holds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
import sys
from collections import Counter
from collections.abc import Iterable
from importlib import metadata

_EXTRA = re.compile(r"extra\s*==")


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distribution_sizes(names: Iterable[str] | None = None) -> dict[str, int]:
    """Bytes on disk per installed distribution (each file counted once, by its RECORD)."""
    wanted = {_key(n) for n in names} if names is not None else None
    sizes: Counter[str] = Counter()
    seen: set[tuple[int, int]] = set()
    for dist in metadata.distributions():
        name = _key(dist.metadata["Name"])
        if wanted is not None and name not in wanted:
            continue
        for file in dist.files or []:
            try:
                info = os.stat(os.path.normpath(str(dist.locate_file(file))))
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            sizes[name] += info.st_size
    return dict(sizes)


def runtime_closure(root: str = "deskhand") -> set[str]:
    """Installed distributions reachable from `root`'s requirements without extras."""
    found: set[str] = set()
    todo = [root]
    while todo:
        name = _key(todo.pop())
        if name in found:
            continue
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # a requirement for another platform or Python
        found.add(name)
        for requirement in requires:
            spec, _, marker = requirement.partition(";")
            if marker and _EXTRA.search(marker):
                continue
            if marker and not _marker_holds(marker):
                continue
            todo.append(re.split(r"[\s\[<>=!~(]", spec.strip(), maxsplit=1)[0])
    return found


def _marker_holds(marker: str) -> bool:
    try:
        from packaging.markers import Marker
    except ImportError:  # pragma: no cover - packaging comes with lancedb and onnxruntime
        return True
    return Marker(marker).evaluate()


def main(argv: list[str] | None = None) -> int:
    """Print the heaviest distributions, the total, and the runtime set's share."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv)
    sizes = distribution_sizes()
    runtime = runtime_closure()
    report = {
        "prefix": sys.prefix,
        "total_mb": round(sum(sizes.values()) / 1e6, 1),
        "runtime_set_mb": round(sum(v for k, v in sizes.items() if k in runtime) / 1e6, 1),
        "distributions_mb": {
            k: round(v / 1e6, 1) for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name, mb in list(report["distributions_mb"].items())[: args.top]:
        print(f"{mb:8.1f} MB  {name}{'' if name in runtime else '  (not in the runtime set)'}")
    print(f"{report['total_mb']:8.1f} MB  all files in {sys.prefix} listed by RECORDs")
    print(f"{report['runtime_set_mb']:8.1f} MB  of them the runtime set (deskhand's requirements)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
