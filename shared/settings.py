"""Typed settings, read once from the environment (prefix ``WERVING_``).

The defaults are the embedded mode: SQLite under ``./var`` and Dramatiq's in-process
broker. Production sets ``WERVING_DATABASE_URL`` and ``WERVING_BROKER_URL``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

STUB_BROKER_URL = "stub://"
INGRESS_EXCHANGE = "werving.ingress"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WERVING_", extra="ignore", frozen=True)

    environment: Literal["dev", "production"] = "dev"
    database_url: str = "sqlite:///var/werving.db"
    broker_url: str = Field(
        default=STUB_BROKER_URL,
        description="amqp://user:pass@host:5672/vhost for RabbitMQ;"
        " stub:// for the in-process broker",
    )
    log_format: Literal["console", "json"] | None = Field(
        default=None, description="defaults to json in production and console in dev"
    )
    log_level: str = "INFO"

    events_exchange: str = "werving.events"
    ingress_queue: str = "werving.commands"
    ingress_exchange: str = Field(
        default=INGRESS_EXCHANGE,
        description="Fanout exchange bound to the ingress queue, where upstream systems publish",
    )

    worker_db_pool_size: int = Field(
        default=16,
        ge=1,
        le=500,
        description="PostgreSQL connections a worker process keeps, opened as its threads"
        " need them (one each); at least its --threads, or connections are opened and"
        " closed per message",
    )

    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_poll_interval_s: float = Field(default=0.25, gt=0)

    idempotency_retention_hours: int = Field(default=48, ge=24)
    retention_sweep_interval_s: float = Field(
        default=3600,
        ge=1,
        le=86_400,
        description="How often the scheduler applies each organisation's retention policy.",
    )

    # Outgoing mail. The defaults reach the embedded mode's local sink.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_timeout_s: float = Field(default=30, gt=0, le=120)
    mail_lease_s: int = Field(default=300, ge=30, description="How long a claimed send may take.")
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where applicants reach this API's pages (interview answers).",
    )
    link_secret: SecretStr | None = Field(
        default=None,
        description="Signs links in emails; required in production, the same in every process.",
    )
    default_sender: str = Field(
        default="no-reply@werving.localhost",
        description="From address for organisations without a verified sender of their own.",
    )
    portal_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public base URL of the careers portal; set-password links point there.",
    )

    # Stored documents (CVs, contracts, letters): a local directory, or S3-compatible storage.
    document_storage: Literal["local", "s3"] = "local"
    documents_dir: Path = Field(
        default=Path("var/documents"), description="Root of the local document store."
    )
    s3_bucket: str | None = None
    s3_prefix: str = Field(
        default="",
        description="Prepended to every object key. werving owns what is under it: the"
        " scheduler's sweep erases files there that no document names.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="For S3-compatible stores (MinIO, Ceph); AWS when unset."
    )
    s3_region: str = "eu-west-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None

    # Limits on rendering one PDF (document_worker), enforced on a child process.
    pdf_cpu_seconds: int = Field(default=20, ge=1, le=600)
    pdf_memory_mb: int = Field(default=1024, ge=128, le=16_384)
    pdf_wall_seconds: float = Field(default=30, gt=0, le=600)
    pdf_max_pages: int = Field(default=50, ge=1, le=2_000)
    pdf_max_bytes: int = Field(default=10 * 1024 * 1024, ge=64 * 1024)

    @property
    def link_key(self) -> bytes:
        """The key for signed links; a fixed one only outside production."""
        if self.link_secret is not None:
            return self.link_secret.get_secret_value().encode()
        if self.environment == "production":
            raise RuntimeError("set WERVING_LINK_SECRET: links in emails must be signed")
        return b"werving-dev-only-link-key"

    @property
    def uses_stub_broker(self) -> bool:
        return self.broker_url.startswith("stub:")

    @property
    def resolved_log_format(self) -> Literal["console", "json"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.environment == "production" else "console"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
