"""Differ verbs of the ``policywatch`` command: diff, replay, history, show, reextract."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from policywatch_shared.events import ChangeEvent

# Heavy modules (pydantic events, markdownify/bs4 extraction, the engine) are imported
# inside the commands so `policywatch --help` stays fast.


def _read_doc(path: Path) -> str:
    from policywatch_differ.extract import extract

    body = path.read_bytes()
    ctype = "text/html" if path.suffix.lower() in (".html", ".htm") else None
    return extract(body, content_type=ctype, url=str(path))


def _store():  # type: ignore[no-untyped-def]
    from policywatch_shared.storage import make_store

    from policywatch_differ.settings import DifferSettings

    return make_store(DifferSettings())


def render_change(event: ChangeEvent, *, color: bool = True) -> str:
    """A change event as readable text (ANSI colours: red removed, green added)."""
    red, green, dim, bold, reset = (
        ("\x1b[31m", "\x1b[32m", "\x1b[2m", "\x1b[1m", "\x1b[0m") if color else ("", "", "", "", "")
    )
    out = [
        f"{bold}{event.kind.value}{reset} substantive={event.substantive} "
        f"significance={event.significance:.2f} "
        f"+{event.stats.words_added}/-{event.stats.words_removed} words",
        event.summary,
    ]
    for s in event.sections:
        out.append("")
        out.append(f"{bold}[{s.kind}] {' > '.join(s.heading_path) or '(top)'}{reset}")
        if s.kind == "renamed":
            out.append(f"  {red}- {s.old_heading}{reset}\n  {green}+ {s.new_heading}{reset}")
        for p in s.paragraphs:
            if p.kind == "added":
                out.append(f"  {green}+ {p.after}{reset}")
            elif p.kind == "removed":
                out.append(f"  {red}- {p.before}{reset}")
            else:
                parts = []
                for op in p.word_diff:
                    if op.op == "equal":
                        parts.append(f"{dim}{op.text}{reset}" if len(op.text) < 400 else f"{dim}…{reset} ")
                    elif op.op == "insert":
                        parts.append(f"{green}{{+{op.text.rstrip()}+}}{reset} ")
                    else:
                        parts.append(f"{red}[-{op.text.rstrip()}-]{reset} ")
                out.append("  ~ " + "".join(parts))
    return "\n".join(out)


def register(app: typer.Typer) -> None:
    @app.command("diff")
    def diff_cmd(
        old: Annotated[
            Path, typer.Argument(exists=True, dir_okay=False, help="Old version (HTML, Markdown, text).")
        ],
        new: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="New version.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print the change event JSON.")] = False,
    ) -> None:
        """Show what changed between two files, section by section (noise ignored)."""
        from policywatch_differ.engine import Differ, DocumentInfo
        from policywatch_differ.history import HistoryStore
        from policywatch_differ.memstore import MemoryStore

        async def run() -> ChangeEvent | None:
            differ = Differ(HistoryStore(MemoryStore()), cache_histories=True)
            info = DocumentInfo(new.stem, "local", "other")
            now = datetime.now(UTC)
            # Two files the operator chose: no unavailable-page check (short test files are fine).
            await differ.observe(info, _read_doc(old), capture_id=f"old:{old}", at=now, check_available=False)
            obs = await differ.observe(
                info, _read_doc(new), capture_id=f"new:{new}", at=now, check_available=False
            )
            return obs.event

        event = asyncio.run(run())
        if event is None:
            if as_json:
                typer.echo(json.dumps({"outcome": "unchanged"}))
            else:
                typer.echo("No change (after ignoring noise).")
            return
        if as_json:
            typer.echo(event.model_dump_json(indent=2))
        else:
            typer.echo(render_change(event, color=sys.stdout.isatty()))

    @app.command("replay")
    def replay_cmd(
        input_path: Annotated[
            Path,
            typer.Argument(
                exists=True,
                metavar="INPUT",
                help="JSON Lines (.gz/.xz ok) or an Open Terms Archive versions git repository.",
            ),
        ],
        out: Annotated[
            Path | None, typer.Option("--out", help="Output JSON Lines (default: stdout).")
        ] = None,
        classify: Annotated[
            bool, typer.Option(help="Add the classifier's tags when it is installed.")
        ] = True,
    ) -> None:
        """Replay a recorded history offline: one JSON line per input line, in input order."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from policywatch_differ.ota import is_git_repository
        from policywatch_differ.replay import load_classifier, replay_file

        if input_path.is_dir() and not is_git_repository(input_path):
            raise typer.BadParameter(f"{input_path} is a directory but not a git repository")

        classifier = load_classifier() if classify else None
        fh = out.open("w", encoding="utf-8") if out else sys.stdout
        console = Console(stderr=True)
        try:
            with Progress(
                TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=console, transient=False,
            ) as progress:  # fmt: skip
                task = progress.add_task("replay", total=None)
                stats = asyncio.run(
                    replay_file(
                        input_path, fh, classifier=classifier,
                        on_line=lambda n: progress.update(task, completed=n),
                    )
                )  # fmt: skip
        finally:
            if out:
                fh.close()
        console.print(
            f"{stats.lines} lines in {stats.seconds:.1f}s; alerts: {stats.alerts}; "
            + ", ".join(f"{k}: {v}" for k, v in sorted(stats.outcomes.items()))
        )

    @app.command("history")
    def history_cmd(
        document_id: Annotated[
            str, typer.Argument(help="Catalog document id, e.g. 'openai/privacy_policy'.")
        ],
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Print a document's timeline: versions and what each capture meant."""
        from policywatch_differ.history import HistoryStore

        h = asyncio.run(HistoryStore(_store()).load(document_id))
        if h is None:
            typer.echo(f"No history for {document_id!r}.", err=True)
            raise typer.Exit(1)
        if as_json:
            typer.echo(h.model_dump_json(indent=2, exclude={"events"}))
            return
        typer.echo(f"{h.document_id}: state={h.state} current=v{h.current} versions={len(h.versions)}")
        for v in h.versions:
            typer.echo(
                f"  v{v.number} {v.first_seen:%Y-%m-%d %H:%M} … {v.last_seen:%Y-%m-%d %H:%M} "
                f"{v.kind} {v.size} B {v.storage_key}"
            )
        typer.echo("timeline:")
        for t in h.timeline:
            ver = f"v{t.version}" if t.version else "  "
            flag = "!" if t.substantive else " "
            typer.echo(f"  {t.at:%Y-%m-%d %H:%M} {flag} {t.kind:<13} {ver:<4} {t.summary[:120]}")

    @app.command("show")
    def show_cmd(
        document_id: Annotated[str, typer.Argument(help="Catalog document id.")],
        version: Annotated[
            int | None, typer.Option("--version", help="Version number (default: live).")
        ] = None,
    ) -> None:
        """Print a stored version's clean text."""
        from policywatch_differ.history import HistoryStore

        async def run() -> str:
            hs = HistoryStore(_store())
            h = await hs.load(document_id)
            if h is None or not h.versions:
                raise typer.BadParameter(f"no versions of {document_id!r}")
            n = version or h.current or len(h.versions)
            if not 1 <= n <= len(h.versions):
                raise typer.BadParameter(f"{document_id!r} has versions 1..{len(h.versions)}")
            return await hs.get_text(h.versions[n - 1].storage_key)

        typer.echo(asyncio.run(run()), nl=False)

    @app.command("reextract")
    def reextract_cmd(
        document_id: Annotated[str, typer.Argument(help="Catalog document id.")],
        select: Annotated[list[str] | None, typer.Option("--select", help="CSS selector to keep.")] = None,
        remove: Annotated[list[str] | None, typer.Option("--remove", help="CSS selector to drop.")] = None,
    ) -> None:
        """Re-extract the live version's raw capture with new hints; recorded as 'technical'."""
        from policywatch_shared.events import ExtractionHints

        from policywatch_differ.engine import DocumentInfo
        from policywatch_differ.service import DifferService

        async def run() -> ChangeEvent | None:
            svc = DifferService(_store())
            h = await svc.histories.load(document_id)
            if h is None:
                raise typer.BadParameter(f"no history for {document_id!r}")
            info = DocumentInfo(h.document_id, h.platform, h.document_type)
            obs = await svc.reextract(h, info, ExtractionHints(select=select or [], remove=remove or []))
            return obs.event if obs else None

        event = asyncio.run(run())
        if event is None:
            typer.echo("Re-extraction gives the same text (or no raw capture is stored): nothing recorded.")
        else:
            typer.echo(render_change(event, color=sys.stdout.isatty()))
