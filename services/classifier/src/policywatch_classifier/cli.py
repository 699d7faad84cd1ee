"""``policywatch classify | provisions | train`` (registered on the root command by ``register``)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import typer

from policywatch_classifier.text import clean_markdown, is_heading_block, iter_blocks

CORPUS_DOCS = ("Privacy Policy", "Terms of Service", "Trackers Policy", "Law Enforcement Guidelines")


def _open(input_path: str | None) -> TextIO:
    if input_path in (None, "-"):
        return sys.stdin
    return Path(input_path).open(encoding="utf-8")


def iter_records(fh: TextIO, input_path: str | None) -> Iterator[dict[str, Any]]:
    """JSON Lines with a ``text`` field (other fields echoed), or plain text split into passages."""
    data = fh.read()
    stripped = data.lstrip()
    jsonl = (input_path or "").endswith((".jsonl", ".ndjson"))
    if not jsonl and stripped.startswith("{"):
        first = stripped.splitlines()[0]
        try:
            jsonl = isinstance(json.loads(first), dict)
        except json.JSONDecodeError:
            jsonl = False
    if jsonl:
        for n, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise typer.BadParameter(f"line {n}: expected a JSON object with a 'text' string")
            yield obj
        return
    # Every non-empty paragraph is a passage, however short ("We sell your data."): the contract is
    # one output line per passage. Only bare markdown headings are skipped.
    n = 0
    for start, end in iter_blocks(data):
        block = data[start:end]
        text = clean_markdown(block)
        if not text or is_heading_block(block):
            continue
        n += 1
        yield {"passage": n, "text": text}


def classify_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from policywatch_classifier.pipeline import classify_passages
    from policywatch_classifier.severity import passage_severity

    tags = classify_passages([r["text"] for r in records])
    out = []
    for rec, ptags in zip(records, tags, strict=True):
        row = dict(rec)
        row["categories"] = [{"id": t.id, "confidence": t.confidence, "evidence": t.evidence} for t in ptags]
        sev = passage_severity(rec["text"], ptags)
        if sev is not None:
            row["severity"] = sev[0].value
            row["severity_reasons"] = sev[1]
        out.append(row)
    return out


def _corpus_index(path: Path, documents: tuple[str, ...]) -> Any:
    import lzma

    from policywatch_classifier.provision import build_from_documents

    latest: dict[tuple[str, str], dict[str, Any]] = {}
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r["document"] in documents and r["text"]:
                latest[(r["service"], r["document"])] = r
    docs = [
        (svc, f"{svc.lower().replace(' ', '-')}/{doc.lower().replace(' ', '_')}", r["text"], r["commit"])
        for (svc, doc), r in sorted(latest.items())
    ]
    return build_from_documents(docs)


def register(app: typer.Typer) -> None:
    @app.command()
    def classify(
        input_path: str = typer.Argument(
            None, metavar="[INPUT]", help="Text file, '-' for stdin, or JSONL with 'text'."
        ),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per line (the stable contract)."),
    ) -> None:
        """Tag passages with governance categories, confidence, evidence and severity."""
        with _open(input_path) as fh:
            records = list(iter_records(fh, input_path))
        for row in classify_records(records):
            if as_json:
                typer.echo(json.dumps(row, ensure_ascii=False))
                continue
            cats = ", ".join(f"{c['id']} ({c['confidence']:.2f})" for c in row["categories"]) or "—"
            label = row.get("id", row.get("passage", ""))
            typer.echo(f"[{label}] {row.get('severity', 'none')}: {cats}")
            for c in row["categories"]:
                for ev in c["evidence"][:1]:
                    typer.echo(f"    {c['id']}: “{ev}”")

    @app.command()
    def provisions(
        category: str = typer.Argument(..., help="Taxonomy category id, e.g. ai_training."),
        index_file: Path = typer.Option(None, "--index", help="Read the index from a JSON file."),
        from_corpus: Path = typer.Option(
            None,
            "--from-corpus",
            help="Build the index from an OTA corpus (.jsonl.xz), e.g. ../shared/corpus/…",
        ),
        save: Path = typer.Option(None, "--save", help="Write the (built) index to this JSON file."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """List the platforms whose current documents contain a provision of CATEGORY, with excerpts."""
        from policywatch_classifier.provision import ProvisionIndex
        from policywatch_classifier.taxonomy import get_taxonomy

        if category not in get_taxonomy():
            raise typer.BadParameter(
                f"unknown category {category!r}; one of: {', '.join(get_taxonomy().ids)}"
            )
        if from_corpus is not None:
            index = _corpus_index(from_corpus, CORPUS_DOCS)
        elif index_file is not None:
            index = ProvisionIndex.from_json(index_file.read_bytes())
        else:
            from policywatch_shared.storage import make_store

            from policywatch_classifier.settings import ClassifierSettings

            settings = ClassifierSettings()
            index = asyncio.run(ProvisionIndex.load(make_store(settings), settings.provision_index_key))
        if save is not None:
            save.write_bytes(index.to_json())
        found = index.platforms_for(category)
        if as_json:
            for ex in found:
                typer.echo(ex.model_dump_json())
            return
        typer.echo(f"{category}: identified across {len(found)} platform(s)")
        for ex in found:
            typer.echo(f"- {ex.platform} ({ex.document_id}): {ex.excerpt}")

    @app.command()
    def train(
        shared: Path = typer.Option(None, "--shared", help="Shared data directory (default ../shared)."),
        out: Path = typer.Option(None, "--out", help="Artefact path (default: inside the package)."),
    ) -> None:
        """Retrain the classifier model from the shared labelled data (reproducible)."""
        from policywatch_classifier.train import main as train_main

        argv: list[str] = []
        if shared is not None:
            argv += ["--shared", str(shared)]
        if out is not None:
            argv += ["--out", str(out)]
        raise typer.Exit(train_main(argv))
