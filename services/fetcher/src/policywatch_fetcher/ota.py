"""Import Open Terms Archive declarations into catalog YAML.

An OTA declaration (``Service Name.json``) has a ``name`` and ``terms`` keyed by terms
type; each entry has ``fetch`` (URL), ``select`` / ``remove`` (CSS selectors or range
objects), ``executeClientScripts`` and ``filter`` (named JavaScript functions), or a
``combine`` list of such pages. ``Service Name.history.json`` holds past declarations
with ``validUntil``. We import the current declaration; whatever we cannot represent is
reported, never silently dropped: range selectors, filters, per-page selectors that
differ, history entries (kept for the record, not monitored).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from policywatch_shared.events import DocumentType

from policywatch_fetcher.catalog import check_selector

#: OTA terms types → our vocabulary (anything else becomes ``other`` with its own id).
OTA_TYPES: dict[str, DocumentType] = {
    "privacy policy": DocumentType.PRIVACY_POLICY,
    "terms of service": DocumentType.TERMS_OF_SERVICE,
    "terms of use": DocumentType.TERMS_OF_SERVICE,
    "trackers policy": DocumentType.COOKIE_POLICY,
    "cookies policy": DocumentType.COOKIE_POLICY,
    "cookie policy": DocumentType.COOKIE_POLICY,
    "acceptable use policy": DocumentType.ACCEPTABLE_USE_POLICY,
    "community guidelines": DocumentType.COMMUNITY_GUIDELINES,
    "data processing agreement": DocumentType.DATA_PROCESSING_AGREEMENT,
    "data processor agreement": DocumentType.DATA_PROCESSING_AGREEMENT,
    "copyright claims policy": DocumentType.COPYRIGHT_POLICY,
    "developer terms": DocumentType.DEVELOPER_TERMS,
    "commercial terms": DocumentType.COMMERCIAL_TERMS,
    "business terms of service": DocumentType.COMMERCIAL_TERMS,
    "generative ai policy": DocumentType.AI_TERMS,
    "ai policy": DocumentType.AI_TERMS,
    "children privacy policy": DocumentType.CHILDREN_PRIVACY_POLICY,
    "children's privacy policy": DocumentType.CHILDREN_PRIVACY_POLICY,
    "trust and safety guidelines": DocumentType.TRUST_AND_SAFETY,
}


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s or "unnamed"


@dataclass
class OtaIssue:
    service: str
    terms_type: str | None
    message: str

    def __str__(self) -> str:
        where = self.service + (f" / {self.terms_type}" if self.terms_type else "")
        return f"{where}: {self.message}"


@dataclass
class OtaImport:
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # platform id -> catalog YAML data
    issues: list[OtaIssue] = field(default_factory=list)
    documents: int = 0


def _selectors(value: Any, what: str, issue: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, str):
            try:
                out.append(check_selector(item))
            except ValueError as exc:
                issue(f"{exc} in '{what}' (dropped)")
        elif isinstance(item, dict):
            issue(f"range selector in '{what}' not supported (dropped): {json.dumps(item)}")
        else:
            issue(f"unexpected '{what}' value (dropped): {item!r}")
    return out


def convert_declaration(
    decl: dict[str, Any], *, source: str, history: dict[str, Any] | None = None
) -> OtaImport:
    out = OtaImport()
    name = str(decl.get("name") or Path(source).stem)
    pid = slug(name)
    docs: list[dict[str, Any]] = []
    terms = decl.get("terms")
    if not isinstance(terms, dict) or not terms:
        out.issues.append(OtaIssue(name, None, "no 'terms' in declaration"))
        return out
    used_ids: set[str] = set()
    for terms_type, spec in terms.items():

        def issue(msg: str, _t: str = terms_type) -> None:
            out.issues.append(OtaIssue(name, _t, msg))

        if not isinstance(spec, dict):
            issue("declaration is not an object (skipped)")
            continue
        combine = spec.get("combine")
        pages: list[Any] = combine if isinstance(combine, list) else [spec]
        urls: list[str] = []
        selects: list[list[str]] = []
        removes: list[str] = []
        js = bool(spec.get("executeClientScripts"))
        for page in pages:
            if not isinstance(page, dict):
                issue("'combine' entry is not an object (skipped)")
                continue
            merged = {**{k: v for k, v in spec.items() if k != "combine"}, **page}
            url = merged.get("fetch")
            if not isinstance(url, str):
                issue("page without 'fetch' URL (skipped)")
                continue
            urls.append(url)
            selects.append(_selectors(merged.get("select"), "select", issue))
            removes.extend(s for s in _selectors(merged.get("remove"), "remove", issue) if s not in removes)
            js = js or bool(merged.get("executeClientScripts"))
            if merged.get("filter"):
                issue(f"filters not supported (not applied): {merged['filter']}")
        if not urls:
            issue("no URL to fetch (skipped)")
            continue
        select: list[str] = []
        for s in selects:
            select.extend(x for x in s if x not in select)
        if len({tuple(s) for s in selects}) > 1:
            issue("pages have different 'select' selectors: their union applies to every page")
        doc_type = OTA_TYPES.get(terms_type.strip().lower())
        if doc_type is None:
            doc_type = DocumentType.OTHER
            issue(f"terms type not in our vocabulary: imported as 'other' ({pid}/{slug(terms_type)})")
            doc_id = f"{pid}/{slug(terms_type).replace('-', '_')}"
        else:
            doc_id = f"{pid}/{doc_type.value}"
        if doc_id in used_ids:
            doc_id = f"{pid}/{slug(terms_type).replace('-', '_')}"
        used_ids.add(doc_id)
        doc: dict[str, Any] = {"type": doc_type.value, "id": doc_id, "title": terms_type, "urls": urls}
        hints: dict[str, Any] = {}
        if select:
            hints["select"] = select
        if removes:
            hints["remove"] = removes
        if js:
            hints["execute_js"] = True
        if hints:
            doc["hints"] = hints
        docs.append(doc)
        out.documents += 1
    for terms_type, entries in (history or {}).items():
        if isinstance(entries, list) and entries:
            until = [e.get("validUntil") for e in entries if isinstance(e, dict)]
            out.issues.append(
                OtaIssue(
                    name,
                    terms_type,
                    f"{len(entries)} historical declaration(s) "
                    f"(validUntil {', '.join(str(u) for u in until)}) not imported: "
                    "only the current declaration is monitored",
                )
            )
    out.files[pid] = {"platform": {"id": pid, "name": name, "languages": ["en"]}, "documents": docs}
    return out


def import_ota(path: Path | str) -> OtaImport:
    """Convert one declaration file or a directory of them (``*.history.json`` read alongside)."""
    root = Path(path)
    files = [root] if root.is_file() else sorted(root.rglob("*.json"))
    result = OtaImport()
    for f in files:
        if f.name.endswith(".history.json"):
            continue
        try:
            decl = json.loads(f.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            result.issues.append(OtaIssue(f.name, None, f"not valid JSON: {exc}"))
            continue
        if not isinstance(decl, dict):
            result.issues.append(OtaIssue(f.name, None, "not a declaration object"))
            continue
        history_path = f.with_name(f.name.removesuffix(".json") + ".history.json")
        history = None
        if history_path.exists():
            try:
                history = json.loads(history_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                result.issues.append(OtaIssue(f.name, None, f"history file not valid JSON: {exc}"))
        one = convert_declaration(decl, source=str(f), history=history)
        for pid, data in one.files.items():
            if pid in result.files:
                result.issues.append(
                    OtaIssue(f.name, None, f"platform id {pid!r} already imported (skipped)")
                )
                continue
            result.files[pid] = data
        result.issues.extend(one.issues)
        result.documents += one.documents
    return result


def write_catalog(result: OtaImport, out_dir: Path | str, *, overwrite: bool = False) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for pid, data in sorted(result.files.items()):
        target = out / f"{pid}.yaml"
        if target.exists() and not overwrite:
            result.issues.append(OtaIssue(pid, None, f"{target} exists (not overwritten; use --overwrite)"))
            continue
        header = "# Imported from an Open Terms Archive declaration by `policywatch catalog import-ota`.\n"
        target.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=200))
        written.append(target)
    return written
