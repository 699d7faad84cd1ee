"""The catalog of monitored documents: declarative YAML files, one platform per file.

```yaml
platform:
  id: openai                 # lowercase id: [a-z0-9][a-z0-9_-]*
  name: OpenAI
  jurisdictions: [US, EU]
  languages: [en]
  homepage: https://openai.com
defaults:                    # optional: schedule and hints every document starts from
  schedule: {interval: 12h, jitter: 30m}
documents:
  - type: privacy_policy     # DocumentType vocabulary
    id: openai/privacy_policy  # optional; default "<platform>/<type>"
    title: Privacy Policy
    urls: [https://openai.com/policies/privacy-policy/]   # several = combined in order
    hints: {select: [main], remove: [nav, footer], execute_js: false, wait_for: null}
    schedule: {cron: "0 */6 * * *", jitter: 10m}
    robots_override_reason: null   # set to fetch despite robots.txt, and say why
```

:func:`load_catalog` loads a directory; :func:`validate_catalog` reports every problem as
a :class:`CatalogError` with file, document and field.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from croniter import croniter
from policywatch_shared.events import DocumentType, ExtractionHints
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
DOC_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*/[a-z0-9][a-z0-9_.-]*$")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, None: 1}


def parse_duration(value: object) -> float:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"6h"``, ``"1d"``, ``"1w"``."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION_RE.match(str(value))
        if not m:
            raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 15m, 6h, 1d)")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds < 0:
        raise ValueError("duration must not be negative")
    return seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Hints(_Strict):
    """Extraction hints as written in the catalog (strict: unknown keys are errors)."""

    select: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)
    execute_js: bool = False
    wait_for: str | None = None
    screenshot: bool = False

    @field_validator("select", "remove", mode="before")
    @classmethod
    def _listify(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    @field_validator("select", "remove")
    @classmethod
    def _selectors(cls, v: list[str]) -> list[str]:
        for sel in v:
            check_selector(sel)
        return v

    @field_validator("wait_for")
    @classmethod
    def _wait_for(cls, v: str | None) -> str | None:
        return None if v is None else check_selector(v)

    def to_contract(self) -> ExtractionHints:
        return ExtractionHints(
            select=self.select, remove=self.remove, execute_js=self.execute_js, wait_for=self.wait_for
        )


class Schedule(_Strict):
    """When a document is due: every ``interval`` or on a ``cron`` expression, plus a stable jitter."""

    interval: float | None = Field(default=None, description="Seconds (YAML: 6h, 30m …).")
    cron: str | None = None
    jitter: float = Field(default=0.0, description="Seconds; each document gets a stable offset in it.")

    @field_validator("interval", "jitter", mode="before")
    @classmethod
    def _duration(cls, v: object) -> object:
        return None if v is None else parse_duration(v)

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None and not croniter.is_valid(v):
            raise ValueError(f"invalid cron expression: {v!r}")
        return v

    @model_validator(mode="after")
    def _one(self) -> Schedule:
        if self.interval is None and self.cron is None:
            self.interval = 12 * 3600.0
        if self.interval is not None and self.cron is not None:
            raise ValueError("give either interval or cron, not both")
        if self.interval is not None and self.interval < 1:
            raise ValueError("interval must be at least 1s")
        return self

    def offset(self, document_id: str) -> float:
        """Stable per-document jitter in [0, jitter): spreads documents, same slot after a restart."""
        if self.jitter <= 0:
            return 0.0
        h = int.from_bytes(hashlib.sha256(document_id.encode()).digest()[:8], "big")
        return (h / 2**64) * self.jitter

    @property
    def period(self) -> float:
        """Approximate seconds between two runs."""
        if self.interval is not None:
            return self.interval
        assert self.cron is not None
        it = croniter(self.cron, datetime(2024, 1, 1))
        a = it.get_next(datetime)
        return float((it.get_next(datetime) - a).total_seconds())

    def next_after(self, document_id: str, after: datetime) -> datetime:
        """The first slot strictly after ``after`` (aware datetime, UTC), jitter included."""
        offset = timedelta(seconds=self.offset(document_id))
        if self.cron is not None:
            base = croniter(self.cron, after - offset).get_next(datetime)
            return base + offset
        assert self.interval is not None
        # Slots on a fixed grid (epoch + offset + k*interval): a restart lands on the same slots.
        period = self.interval
        t = after.timestamp() - offset.total_seconds()
        k = int(t // period) + 1
        return datetime.fromtimestamp(k * period + offset.total_seconds(), tz=after.tzinfo)


class DocumentSpec(_Strict):
    type: DocumentType
    id: str | None = None
    title: str | None = None
    urls: list[str] = Field(min_length=1)
    hints: Hints = Field(default_factory=Hints)
    schedule: Schedule | None = None
    robots_override_reason: str | None = None
    enabled: bool = True

    @field_validator("urls", mode="before")
    @classmethod
    def _listify(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    @field_validator("urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        for url in v:
            check_url(url)
        return v

    @field_validator("id")
    @classmethod
    def _id(cls, v: str | None) -> str | None:
        if v is not None and not DOC_ID_RE.match(v):
            raise ValueError(f"invalid document id {v!r} (expected 'platform/name', lowercase)")
        return v


class PlatformSpec(_Strict):
    id: str
    name: str
    jurisdictions: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=lambda: ["en"])
    homepage: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError(f"invalid platform id {v!r} (lowercase letters, digits, '-', '_', '.')")
        return v


class Defaults(_Strict):
    schedule: Schedule | None = None
    hints: Hints | None = None


class CatalogFile(_Strict):
    platform: PlatformSpec
    defaults: Defaults = Field(default_factory=Defaults)
    documents: list[DocumentSpec] = Field(default_factory=list)


def check_selector(selector: str) -> str:
    """Raise ValueError unless ``selector`` is a CSS selector the extractor can parse."""
    from selectolax.lexbor import LexborHTMLParser

    if not selector.strip():
        raise ValueError("empty CSS selector")
    try:
        LexborHTMLParser("<p></p>").css(selector)
    except Exception:
        raise ValueError(f"invalid CSS selector {selector!r}") from None
    return selector


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"bad URL {url!r}: scheme must be http or https")
    if not parts.hostname:
        raise ValueError(f"bad URL {url!r}: no host")
    if any(c.isspace() for c in url):
        raise ValueError(f"bad URL {url!r}: contains whitespace")
    try:
        _ = parts.port
    except ValueError as exc:
        raise ValueError(f"bad URL {url!r}: {exc}") from None
    host = parts.hostname
    if "." not in host and host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"bad URL {url!r}: host {host!r} is not a domain name") from None
    return url


# --------------------------------------------------------------------------- resolved catalog

DEFAULT_SCHEDULE = Schedule(interval=12 * 3600.0, jitter=1800.0)


@dataclass(frozen=True)
class Document:
    """A catalog document with platform data and defaults applied."""

    id: str
    platform: str
    platform_name: str
    type: DocumentType
    title: str
    urls: tuple[str, ...]
    hints: Hints
    schedule: Schedule
    robots_override_reason: str | None
    jurisdictions: tuple[str, ...]
    languages: tuple[str, ...]
    source: Path

    @property
    def contract_hints(self) -> ExtractionHints:
        return self.hints.to_contract()


@dataclass(frozen=True)
class CatalogError:
    file: str
    document: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.document:
            where += f" [{self.document}]"
        if self.field:
            where += f" {self.field}"
        return f"{where}: {self.message}"


class CatalogInvalid(ValueError):
    def __init__(self, errors: list[CatalogError]) -> None:
        self.errors = errors
        head = "; ".join(str(e) for e in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} catalog error(s): {head}{more}")


@dataclass
class Catalog:
    documents: dict[str, Document]
    platforms: dict[str, PlatformSpec]

    def __iter__(self) -> Iterator[Document]:
        return iter(self.documents.values())

    def __len__(self) -> int:
        return len(self.documents)

    def get(self, document_id: str) -> Document | None:
        return self.documents.get(document_id)

    def for_platform(self, platform: str) -> list[Document]:
        return [d for d in self if d.platform == platform]

    def owns_urls(self, document_id: str, urls: Iterable[str]) -> bool:
        """True when ``urls`` are (a subset of) the catalog URLs of ``document_id`` (SSRF guard)."""
        doc = self.get(document_id)
        return doc is not None and set(urls) <= set(doc.urls)


def catalog_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _doc_label(raw: Any, index: int, platform: str | None) -> str:
    if isinstance(raw, dict):
        if isinstance(raw.get("id"), str):
            return str(raw["id"])
        if isinstance(raw.get("type"), str) and platform:
            return f"{platform}/{raw['type']}"
    return f"documents[{index}]"


def _parse_file(path: Path, rel: str) -> tuple[CatalogFile | None, list[CatalogError]]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return None, [CatalogError(rel, None, None, f"not valid YAML: {exc}")]
    if not isinstance(raw, dict):
        return None, [CatalogError(rel, None, None, "expected a mapping with 'platform' and 'documents'")]
    try:
        return CatalogFile.model_validate(raw), []
    except ValidationError as exc:
        platform = raw.get("platform", {}).get("id") if isinstance(raw.get("platform"), dict) else None
        raw_docs = raw.get("documents")
        docs: list[Any] = raw_docs if isinstance(raw_docs, list) else []
        errors = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            document = None
            field_loc = loc
            if len(loc) >= 2 and loc[0] == "documents" and isinstance(loc[1], int):
                document = _doc_label(docs[loc[1]] if loc[1] < len(docs) else None, loc[1], platform)
                field_loc = loc[2:]
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            elif err["type"] == "enum":
                known = ", ".join(t.value for t in DocumentType)
                msg = f"unknown document type {err.get('input')!r} (known: {known})"
            errors.append(CatalogError(rel, document, _loc(field_loc) or None, msg))
        return None, errors


def _resolve(cf: CatalogFile, source: Path) -> list[Document]:
    p = cf.platform
    out = []
    for spec in cf.documents:
        if not spec.enabled:
            continue
        schedule = spec.schedule or cf.defaults.schedule or DEFAULT_SCHEDULE
        hints = spec.hints
        if cf.defaults.hints is not None and "hints" not in spec.model_fields_set:
            hints = cf.defaults.hints
        out.append(
            Document(
                id=spec.id or f"{p.id}/{spec.type.value}",
                platform=p.id,
                platform_name=p.name,
                type=spec.type,
                title=spec.title or spec.type.value.replace("_", " ").title(),
                urls=tuple(spec.urls),
                hints=hints,
                schedule=schedule,
                robots_override_reason=spec.robots_override_reason,
                jurisdictions=tuple(p.jurisdictions),
                languages=tuple(p.languages),
                source=source,
            )
        )
    return out


def validate_catalog(path: Path | str) -> tuple[Catalog, list[CatalogError]]:
    """Load what is valid and report every error (file, document, field)."""
    root = Path(path)
    errors: list[CatalogError] = []
    docs: dict[str, Document] = {}
    platforms: dict[str, PlatformSpec] = {}
    platform_files: dict[str, str] = {}
    files = catalog_files(root)
    if not root.exists():
        errors.append(CatalogError(str(root), None, None, "no such file or directory"))
    elif not files:
        errors.append(CatalogError(str(root), None, None, "no catalog files (*.yaml)"))
    for f in files:
        rel = str(f.relative_to(root)) if root.is_dir() else f.name
        cf, errs = _parse_file(f, rel)
        errors.extend(errs)
        if cf is None:
            continue
        pid = cf.platform.id
        if pid in platform_files:
            errors.append(
                CatalogError(
                    rel, None, "platform.id", f"duplicate platform id {pid!r} (also in {platform_files[pid]})"
                )
            )
            continue
        platform_files[pid] = rel
        platforms[pid] = cf.platform
        for i, d in enumerate(_resolve(cf, f)):
            if d.id in docs:
                errors.append(
                    CatalogError(
                        rel,
                        d.id,
                        f"documents[{i}].id",
                        f"duplicate document id (also in {docs[d.id].source.name})",
                    )
                )
                continue
            if not d.id.startswith(pid + "/"):
                errors.append(CatalogError(rel, d.id, f"documents[{i}].id", f"id must start with '{pid}/'"))
                continue
            docs[d.id] = d
    return Catalog(docs, platforms), errors


def load_catalog(path: Path | str) -> Catalog:
    """Load a catalog directory (or one file); raise :class:`CatalogInvalid` listing every error."""
    catalog, errors = validate_catalog(path)
    if errors:
        raise CatalogInvalid(errors)
    return catalog


class CatalogWatcher:
    """The catalog, reloaded when its files change (checked at most every ``interval_s``).

    An invalid edit keeps the last valid catalog (and logs the errors), so a typo never
    stops monitoring.
    """

    def __init__(self, path: Path | str, *, interval_s: float = 30.0, catalog: Catalog | None = None) -> None:
        import time

        self.path = Path(path)
        self.interval_s = interval_s
        self._clock = time.monotonic
        self._signature = self._sign()
        self.catalog = catalog if catalog is not None else load_catalog(self.path)
        self._checked = self._clock()

    def _sign(self) -> tuple[tuple[str, float, int], ...]:
        out = []
        for f in catalog_files(self.path) if self.path.exists() else []:
            try:
                st = f.stat()
            except OSError:
                continue
            out.append((str(f), st.st_mtime, st.st_size))
        return tuple(out)

    def refresh(self, *, force: bool = False) -> bool:
        """Reload if the files changed; True when a new catalog was loaded."""
        import logging

        now = self._clock()
        if not force and now - self._checked < self.interval_s:
            return False
        self._checked = now
        signature = self._sign()
        if signature == self._signature:
            return False
        self._signature = signature
        catalog, errors = validate_catalog(self.path)
        if errors:
            logging.getLogger(__name__).error(
                "catalog changed but is invalid; keeping the previous one: %s",
                "; ".join(map(str, errors[:5])),
            )
            return False
        self.catalog = catalog
        return True
