"""The resources assets ask for by name: `kafka`, `warehouse` and `dbt`.

Their configuration is their fields. Each field whose variable is set in the environment
is an `EnvVar`, so the UI shows which variable configures it and never a secret's value;
unset ones take the settings' default (the embedded broker on loopback, files in var/).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import dagster as dg
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from dagster_dbt import DbtCliResource

from cryptoviz_assets.analytics.dbt import dbt_executable, dbt_project
from cryptoviz_assets.settings import Settings, get_settings


def fields_of(values: dict[str, Any], variables: dict[str, str], env_vars: bool) -> dict[str, Any]:
    """A resource's fields: each one's `EnvVar` if asked for and its variable is set, else
    its value from the settings (fields without a value are left out)."""
    fields: dict[str, Any] = {}
    for field, variable in variables.items():
        if env_vars and os.environ.get(variable):
            fields[field] = dg.EnvVar(variable)
        elif values.get(field) is not None:
            fields[field] = values[field]
    return fields


# Field -> (environment variable, librdkafka key)
KAFKA_FIELDS = {
    "bootstrap_servers": ("KAFKA_BOOTSTRAP_SERVERS", "bootstrap.servers"),
    "security_protocol": ("KAFKA_SECURITY_PROTOCOL", "security.protocol"),
    "sasl_mechanism": ("KAFKA_SASL_MECHANISM", "sasl.mechanism"),
    "sasl_username": ("KAFKA_SASL_USERNAME", "sasl.username"),
    "sasl_password": ("KAFKA_SASL_PASSWORD", "sasl.password"),
    "ssl_ca_location": ("KAFKA_SSL_CA_LOCATION", "ssl.ca.location"),
    "ssl_certificate_location": ("KAFKA_SSL_CERTIFICATE_LOCATION", "ssl.certificate.location"),
    "ssl_key_location": ("KAFKA_SSL_KEY_LOCATION", "ssl.key.location"),
    "ssl_key_password": ("KAFKA_SSL_KEY_PASSWORD", "ssl.key.password"),
}


class KafkaResource(dg.ConfigurableResource):
    """Kafka clients (admin, idempotent producer, offsets) for one cluster."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, env_vars: bool = False) -> KafkaResource:
        """The cluster `settings` describe; with `env_vars`, each field set in the
        environment as its `EnvVar`."""
        config = settings.kafka_client_config()
        values = {field: config.get(key) for field, (_, key) in KAFKA_FIELDS.items()}
        variables = {field: variable for field, (variable, _) in KAFKA_FIELDS.items()}
        return cls(**fields_of(values, variables, env_vars))

    def client_config(self) -> dict[str, Any]:
        """librdkafka settings; they hold secrets in clear text: never log them."""
        values = {key: getattr(self, field) for field, (_, key) in KAFKA_FIELDS.items()}
        return {key: value for key, value in values.items() if value}

    def admin(self) -> AdminClient:
        return AdminClient(self.client_config())

    def producer(self, **overrides: Any) -> Producer:
        """An idempotent producer (acks=all): retries never duplicate or reorder."""
        config = {
            **self.client_config(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
        }
        return Producer({**config, **overrides})

    def end_offsets(
        self, topics: Iterable[str], timeout: float = 10.0
    ) -> dict[str, dict[int, int]]:
        """Per topic, partition -> high watermark (the offset the next record will get)."""
        consumer = Consumer({**self.client_config(), "group.id": "cryptoviz-offsets-probe"})
        try:
            metadata = consumer.list_topics(timeout=timeout).topics
            return {
                topic: {
                    p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1]
                    for p in sorted(metadata[topic].partitions)
                }
                for topic in topics
            }
        finally:
            consumer.close()


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse: the private file dbt builds, and the snapshot readers query."""

    path: str  # the published, read-only snapshot
    build_path: str  # the file dbt writes; published to `path` after a build

    @classmethod
    def from_settings(cls, settings: Settings, *, env_vars: bool = False) -> WarehouseResource:
        values = {
            "path": str(settings.warehouse_path),
            "build_path": str(settings.warehouse_build_file),
        }
        variables = {"path": "DUCKDB_PATH", "build_path": "WAREHOUSE_BUILD_PATH"}
        return cls(**fields_of(values, variables, env_vars))


@dg.definitions
def defs() -> dg.Definitions:
    settings = get_settings()
    return dg.Definitions(
        resources={
            "kafka": KafkaResource.from_settings(settings, env_vars=True),
            "warehouse": WarehouseResource.from_settings(settings, env_vars=True),
            "dbt": DbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable()),
        }
    )
