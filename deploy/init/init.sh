#!/bin/sh
# One-shot initialisation of the compose stack (the `init` service). Idempotent: every step
# leaves existing topics, buckets and schema alone, so it is safe to re-run after an upgrade.
set -eu

echo "init: kafka topics on ${KAFKA_BOOTSTRAP_SERVERS}"
# Partitions, retention and compaction come from policywatch_shared.topics.TOPICS.
policywatch topics create

echo "init: bucket ${S3_BUCKET} on ${S3_ENDPOINT}"
python - <<'PY'
import os

from minio import Minio

client = Minio(
    os.environ["S3_ENDPOINT"],
    access_key=os.environ["S3_ACCESS_KEY"],
    secret_key=os.environ["S3_SECRET_KEY"],
    secure=os.environ.get("S3_SECURE", "false").lower() in ("1", "true", "yes"),
    region=os.environ.get("S3_REGION") or None,
)
bucket = os.environ["S3_BUCKET"]
if client.bucket_exists(bucket):
    print(f"init: bucket {bucket} exists")
else:
    client.make_bucket(bucket)
    print(f"init: bucket {bucket} created")
PY

echo "init: notifier database migration"
policywatch db upgrade

echo "init: done"
