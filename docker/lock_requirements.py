"""Write docker/requirements.lock: kinlatent's runtime dependency closure pinned to the versions installed here.

Run it with the project's venv after a dependency change and review the diff:

    .venv/bin/python docker/lock_requirements.py

Only the packages that kinlatent needs at run time (pyproject.toml's ``[project.dependencies]`` and theirs, extras
followed, at the versions installed in this environment) are written, so test tools never reach an image. torch is left out: each image installs it from the index that
matches its build (CPU or CUDA wheels).
"""
from __future__ import annotations

import importlib.metadata as metadata
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK = Path(__file__).resolve().parent / "requirements.lock"
PYPROJECT = LOCK.parent.parent / "pyproject.toml"
HEADER = """\
# kinlatent's runtime dependencies as tested (CPython 3.11, Linux x86_64), torch excluded: the images install
# torch==2.13.0 first from the index of their build (CPU or CUDA). Regenerate after a dependency change with
# `.venv/bin/python docker/lock_requirements.py`; tests/unit/test_docker_files.py checks it against pyproject.toml.
"""


def _requirements(name: str, extras: set[str]) -> list[Requirement]:
    """The requirements of an installed distribution that apply here with ``extras`` requested."""
    environments = [{"extra": extra} for extra in (extras or {""})]
    found = []
    for text in metadata.distribution(name).requires or []:
        requirement = Requirement(text)
        if requirement.marker is None or any(requirement.marker.evaluate(env) for env in environments):
            found.append(requirement)
    return found


def runtime_closure(pyproject: Path = PYPROJECT) -> dict[str, str]:
    """{canonical name: installed version} of everything ``[project.dependencies]`` needs at run time."""
    roots = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    seen: dict[str, set[str]] = {}
    stack = [(requirement.name, set(requirement.extras))
             for requirement in map(Requirement, roots)
             if requirement.marker is None or requirement.marker.evaluate({"extra": ""})]
    while stack:
        name, extras = stack.pop()
        key = canonicalize_name(name)
        if key in seen and extras <= seen[key]:
            continue
        seen[key] = seen.get(key, set()) | extras
        stack.extend((requirement.name, set(requirement.extras)) for requirement in _requirements(name, seen[key]))
    return {key: metadata.version(key) for key in sorted(seen)}


def main() -> None:
    pins = [f"{name}=={version}" for name, version in runtime_closure().items() if name != "torch"]
    LOCK.write_text(HEADER + "\n".join(pins) + "\n")
    print(f"wrote {len(pins)} pins to {LOCK}")


if __name__ == "__main__":
    main()
