"""The ``policywatch`` operator command.

Each service owns its verbs in ``policywatch_<service>.cli`` and exposes
``register(app)``; this module only composes them, so a verb lives next to the
code it drives.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="policywatch",
    help="Watch privacy policies, terms and AI policies; alert when a change matters.",
    no_args_is_help=True,
    add_completion=False,
)

#: Modules that contribute verbs, in help order. A missing one is skipped (partial installs).
VERB_MODULES = [
    "policywatch.stack",  # up, topics
    "policywatch.ops",  # status, dlq
    "policywatch.demo.cli",  # demo
    "policywatch_fetcher.cli",  # catalog, fetch, capture, schedule
    "policywatch_differ.cli",  # diff, replay, history, show, reextract
    "policywatch_classifier.cli",  # classify, provisions, train
    "policywatch_notifier.cli",  # subscribers, serve-api
]


def _register_all() -> None:
    for name in VERB_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue
            raise
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


def main() -> None:
    app()
