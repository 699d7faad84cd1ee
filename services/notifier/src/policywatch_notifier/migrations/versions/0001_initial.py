"""Initial notifier schema: subscribers, subscriptions, changes, deliveries (ledger), outbox, digest runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200)),
        sa.Column("tier", sa.String(40), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("webhook_url", sa.Text()),
        sa.Column("webhook_enabled", sa.Boolean(), nullable=False),
        sa.Column("webhook_disabled_reason", sa.Text()),
        sa.Column("apprise_urls", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("digest_weekday", sa.Integer(), nullable=False),
        sa.Column("digest_time", sa.String(5), nullable=False),
        sa.Column("signing_secret", sa.String(120), nullable=False),
        sa.Column("unsubscribe_token", sa.String(64), nullable=False, unique=True),
        sa.Column("api_key_hash", sa.String(64), unique=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "subscriber_id",
            sa.String(32),
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("platform", sa.String(120)),
        sa.Column("document_id", sa.String(240)),
        sa.Column("category", sa.String(120)),
        sa.Column("min_severity", sa.String(16), nullable=False),
        sa.Column("everything", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text()),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_subscriptions_subscriber_id", "subscriptions", ["subscriber_id"])
    op.create_table(
        "classified_changes",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("change_event_id", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(120), nullable=False),
        sa.Column("document_id", sa.String(240), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("substantive", sa.Boolean(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("detected_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
    )
    op.create_index("ix_classified_changes_change_event_id", "classified_changes", ["change_event_id"])
    op.create_index("ix_classified_changes_platform", "classified_changes", ["platform"])
    op.create_index("ix_classified_changes_detected_at", "classified_changes", ["detected_at"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "subscriber_id",
            sa.String(32),
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event_key", sa.String(80), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tier", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("classified_event_id", sa.String(64)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("sent_at", TS),
        sa.UniqueConstraint("subscriber_id", "event_key", "channel", name="uq_delivery_once"),
    )
    op.create_index("ix_deliveries_subscriber_id", "deliveries", ["subscriber_id"])
    op.create_table(
        "delivery_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "delivery_id",
            sa.String(32),
            sa.ForeignKey("deliveries.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("locked_until", TS),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_delivery_outbox_next_attempt_at", "delivery_outbox", ["next_attempt_at"])
    op.create_table(
        "digest_runs",
        sa.Column(
            "subscriber_id",
            sa.String(32),
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("period", sa.String(40), primary_key=True),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "digest_runs",
        "delivery_outbox",
        "deliveries",
        "classified_changes",
        "subscriptions",
        "subscribers",
    ):
        op.drop_table(table)
