"""Read an Open Terms Archive *versions* repository as replay records.

An OTA versions repository is a git repository holding ``<service>/<terms type>.md`` files;
each commit that touches a file is one recorded version of that document, recorded at the
commit date. Records come out in the shared corpus format (``service``, ``document``,
``recorded_at``, ``text``, ``commit``), oldest first over the whole repository (git's
``--reverse`` order: per file that is the file's own history), so documents interleave as
they were recorded.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

GIT_TIMEOUT_S = 600


class NotAGitRepository(ValueError):
    pass


def is_git_repository(path: Path) -> bool:
    return path.is_dir() and (path / ".git").exists()


def _git(repo: Path, *args: str) -> str:
    try:
        res = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=GIT_TIMEOUT_S
        )
    except subprocess.CalledProcessError as exc:
        raise NotAGitRepository(f"{repo}: git {' '.join(args)} failed: {exc.stderr.strip()}") from exc
    return res.stdout


def _is_document(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return len(parts) == 2 and parts[1].endswith(".md") and not parts[0].startswith(".")


def iter_versions(repo: Path) -> Iterator[tuple[str, str, str]]:
    """(commit, commit date ISO 8601, path) for each document file a commit adds or modifies."""
    # One log over the whole repository instead of one per file: the same per-file order
    # (oldest first), without a process per document. Renames are seen as add + delete.
    log = _git(repo, "log", "--reverse", "--no-renames", "--format=%x00%H %cI", "--name-status", "--", "*.md")
    for block in log.split("\0")[1:]:
        lines = block.strip("\n").splitlines()
        commit, date = lines[0].split(" ", 1)
        for line in lines[1:]:
            status, _, path = line.partition("\t")
            if status[:1] in ("A", "M") and _is_document(path):
                yield commit, date, path


def iter_ota_records(repo: Path) -> Iterator[dict[str, Any]]:
    """Replay records of every document version in an OTA versions repository."""
    if not is_git_repository(repo):
        raise NotAGitRepository(f"{repo} is not a git repository")
    versions = list(iter_versions(repo))
    # `git cat-file --batch`: one process for every blob instead of one `git show` each.
    with subprocess.Popen(
        ["git", "-C", str(repo), "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            for commit, date, path in versions:
                proc.stdin.write(f"{commit}:{path}\n".encode())
                proc.stdin.flush()
                header = proc.stdout.readline().decode().split()
                if len(header) != 3 or header[1] != "blob":
                    continue  # "<object> missing": nothing to read
                body = proc.stdout.read(int(header[2]))
                proc.stdout.read(1)  # the newline after each object
                service, name = PurePosixPath(path).parts
                yield {
                    "service": service,
                    "document": name[: -len(".md")],
                    "recorded_at": date,
                    "text": body.decode("utf-8", errors="replace"),
                    "commit": commit,
                }
        finally:
            proc.stdin.close()
            proc.wait(timeout=GIT_TIMEOUT_S)
