"""``policywatch demo`` (registered on the root command by :func:`register`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console

from policywatch.stack import parse_services


def demo(
    data_dir: Path = typer.Option(
        Path("var/demo"), "--data-dir", help="Where the demo keeps its mailbox, webhooks, storage and logs."
    ),
    versions: int = typer.Option(
        5, "--versions", min=2, max=20, help="Recorded versions per document (first one included)."
    ),
    services: str | None = typer.Option(
        None, "--services", help="Run only these services (debugging; the demo needs all four)."
    ),
    show_logs: bool = typer.Option(False, "--logs", help="Print the services' logs instead of a log file."),
    ready_timeout: float = typer.Option(180.0, "--ready-timeout", help="Seconds to wait for the services."),
) -> None:
    """Run the whole product offline on real policy histories and show what it found (a few minutes)."""
    from policywatch.demo.run import DemoOptions, run_demo

    opts = DemoOptions(
        data_dir=data_dir,
        max_versions=versions,
        services=parse_services(services),
        ready_timeout_s=ready_timeout,
        show_logs=show_logs,
    )
    console = Console()
    result = asyncio.run(run_demo(opts, console))
    for problem in result.problems:
        console.print(f"[yellow]note:[/yellow] {problem}")
    if not result.ok:
        console.print("[red]the demo did not complete[/red]; service logs: " + str(data_dir / "services.log"))
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
