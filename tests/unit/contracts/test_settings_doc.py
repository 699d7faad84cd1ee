"""The README's settings table is the one generated from the settings classes.

Services whose settings module is not written yet are simply absent from the generated table;
once it exists, the README must be regenerated (the test then fails until it is).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from policywatch_shared import settings_doc
from policywatch_shared.settings import ServiceSettings
from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

REGENERATE = "run: python -m policywatch_shared.settings_doc --write README.md"


def test_readme_table_matches_settings(repo: Path) -> None:
    readme = (repo / "README.md").read_text(encoding="utf-8")
    block = settings_doc.extract_block(readme)
    assert block is not None, (
        f"README.md has no {settings_doc.START} ... {settings_doc.END} block; {REGENERATE}"
    )
    expected = settings_doc.render().strip()
    if block != expected:
        have = set(block.splitlines())
        want = set(expected.splitlines())
        missing = sorted(want - have)[:10]
        extra = sorted(have - want)[:10]
        pytest.fail(
            f"README settings table is stale; {REGENERATE}\nmissing rows: {missing}\nextra rows: {extra}"
        )


def test_every_field_of_every_service_is_documented() -> None:
    table = settings_doc.render()
    classes = settings_doc.settings_classes()
    assert "classifier" in classes  # at least one service is written, so this is not vacuous
    for service, cls in classes.items():
        for name, field in cls.model_fields.items():
            for var in settings_doc.env_names(cls, name, field):
                assert f"`{var}`" in table, f"{service}: {var} ({name}) missing from the table"
    rows = table.splitlines()[2:]
    variables = [r.split("|")[1].strip() for r in rows]
    assert len(variables) == len(set(variables)), "each variable is listed once"


# --------------------------------------------------------------------------- the generator


class _DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore", populate_by_name=True)

    http_port: int = Field(default=8999, description="Port | with a pipe.")
    mode: Literal["fast", "slow"] = Field(default="fast", description="Speed\n   over two lines.")
    token: str | None = Field(default=None, description="Optional secret.")
    hosts: list[str] = Field(default_factory=list, description="Computed default.")
    aliased: int = Field(default=1, validation_alias=AliasChoices("DEMO_ALIAS", "OTHER_NAME"))
    database_url: str = Field(
        default="postgresql://x", validation_alias="DATABASE_URL", description="Overridden."
    )


def test_rows_of_a_settings_class() -> None:
    rows = {(r.variable, r.service): r for r in settings_doc.rows({"demo": _DemoSettings})}
    assert rows[("DEMO_HTTP_PORT", "demo")].default == "`8999`"
    assert rows[("DEMO_HTTP_PORT", "demo")].description == "Port \\| with a pipe."
    assert rows[("DEMO_MODE", "demo")].type == "fast \\| slow"
    assert rows[("DEMO_MODE", "demo")].description == "Speed over two lines."
    assert rows[("DEMO_TOKEN", "demo")].type == "str or none"
    assert rows[("DEMO_TOKEN", "demo")].default == "none"
    assert rows[("DEMO_HOSTS", "demo")].default == "(computed)"
    assert ("DEMO_ALIAS", "demo") in rows and ("OTHER_NAME", "demo") in rows
    # shared variables: once under "all"; a service only when it changes the default
    assert rows[("KAFKA_BOOTSTRAP_SERVERS", "all")].default == "`127.0.0.1:9092`"
    assert ("KAFKA_BOOTSTRAP_SERVERS", "demo") not in rows
    assert rows[("DATABASE_URL", "demo")].default == "`postgresql://x`"
    assert not any(v.startswith("POLICYWATCH_") for v, _ in rows)


def test_table_shape() -> None:
    table = settings_doc.render({"demo": _DemoSettings})
    lines = table.splitlines()
    assert lines[0] == "| Variable | Service | Type | Default | Description |"
    for line in lines:
        # unescaped pipes only as cell separators: 6 per row
        assert line.replace("\\|", "").count("|") == 6, line


def test_write_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\ntext\n", encoding="utf-8")
    assert settings_doc.main(["--check", str(readme)]) == 1
    readme.write_text(
        f"# x\n\n{settings_doc.START}\nSTALE-TABLE\n{settings_doc.END}\n\nafter\n", encoding="utf-8"
    )
    assert settings_doc.main(["--check", str(readme)]) == 1
    assert settings_doc.main(["--write", str(readme)]) == 0
    assert settings_doc.main(["--check", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# x\n\n") and text.endswith(f"{settings_doc.END}\n\nafter\n")
    assert "STALE-TABLE" not in text
    assert settings_doc.main([]) == 0
    assert capsys.readouterr().out.endswith(settings_doc.render())
