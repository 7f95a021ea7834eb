"""Machine-readable contracts generated from the models the code uses.

JSON Schema for every message, and an AsyncAPI 3.0 document for the AMQP side.
`werving contracts export DIR` writes them (with the OpenAPI document); a test
keeps the copies in ``docs/contracts`` equal to what the code generates.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.commands import BulkCommandEnvelope, CommandEnvelope, CommandMessage
from shared.events import EVENT_TYPES
from shared.messaging.routes import WORKER_QUEUES
from shared.settings import Settings

REF_TEMPLATE = "#/components/schemas/{model}"


def _schemas(ref_template: str) -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        CommandEnvelope,
        BulkCommandEnvelope,
        CommandMessage,
        *EVENT_TYPES,
    ]
    _, top = models_json_schema([(m, "validation") for m in models], ref_template=ref_template)
    return dict(top.get("$defs", {}))


def json_schemas() -> dict[str, dict[str, Any]]:
    """One standalone JSON Schema per message, keyed by file name."""
    result: dict[str, dict[str, Any]] = {}
    models: list[type[BaseModel]] = [
        CommandEnvelope,
        BulkCommandEnvelope,
        CommandMessage,
        *EVENT_TYPES,
    ]
    for model in models:
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        result[f"{model.__name__}.schema.json"] = schema
    return result


def asyncapi(settings: Settings) -> dict[str, Any]:
    """The AMQP interface: the command ingress queue and the events exchange."""
    schemas = _schemas(REF_TEMPLATE)
    events = {cls.name: cls.__name__ for cls in EVENT_TYPES}
    channels: dict[str, Any] = {
        "commandIngress": {
            "address": settings.ingress_queue,
            "description": (
                f"Publish command envelopes on the fanout exchange `{settings.ingress_exchange}`"
                f" (any routing key); werving binds it to the durable queue"
                f" `{settings.ingress_queue}`. Set the `user_id` property to your RabbitMQ"
                " user: it selects your organisation. A body with `application_ids` is a bulk"
                " envelope. An envelope refused for your organisation (invalid, unknown"
                " command type, key reused with another body, invalid bulk) is listed under"
                " its key by `GET /v1/commands?idempotency_key=` with its code and field"
                " errors, and announced as `command.refused`; every refused or unauthorised"
                " message is also recorded as a dead letter with its reason."
            ),
            "messages": {
                "commandEnvelope": {"$ref": "#/components/messages/CommandEnvelope"},
                "bulkCommandEnvelope": {"$ref": "#/components/messages/BulkCommandEnvelope"},
            },
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": settings.ingress_exchange,
                        "type": "fanout",
                        "durable": True,
                    },
                }
            },
        },
        **{
            f"event.{name}": {
                "address": f"{{organisationId}}.{name}",
                "description": (
                    f"Routing key `<organisation id>.{name}` on the topic exchange"
                    f" `{settings.events_exchange}`. Bind `<organisation id>.#` for every"
                    f" event of your organisation, `<organisation id>.{name}` for this one;"
                    " RabbitMQ refuses bindings to other organisations' keys."
                ),
                "parameters": {
                    "organisationId": {
                        "description": "The id of the organisation the event belongs to."
                    }
                },
                "messages": {model: {"$ref": f"#/components/messages/{model}"}},
                "bindings": {
                    "amqp": {
                        "is": "routingKey",
                        "exchange": {
                            "name": settings.events_exchange,
                            "type": "topic",
                            "durable": True,
                        },
                    }
                },
            }
            for name, model in events.items()
        },
        **{
            f"worker.{queue}": {
                "address": queue,
                "description": (
                    f"Internal Dramatiq queue `{queue}` (ids only; published by the relay)."
                ),
                "messages": {"commandMessage": {"$ref": "#/components/messages/CommandMessage"}},
            }
            for queue in WORKER_QUEUES
        },
    }
    message_names = [
        "CommandEnvelope",
        "BulkCommandEnvelope",
        "CommandMessage",
        *events.values(),
    ]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "werving AMQP interface",
            "version": "1",
            "description": (
                "Commands in, events out. Messages carry ids, never secrets. Each"
                " organisation's AMQP user gets the permissions `werving org create"
                " --amqp-user` prints: publish on the ingress exchange; declare, bind and"
                " consume queues named `<organisation id>.<anything>`; bind them to the"
                " events exchange only with keys that start with `<organisation id>.`."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": {
            "publishCommand": {
                "action": "receive",
                "channel": {"$ref": "#/channels/commandIngress"},
                "summary": "werving receives command envelopes.",
            },
            **{
                f"emit.{name}": {
                    "action": "send",
                    "channel": {"$ref": f"#/channels/event.{name}"},
                    "summary": f"werving publishes `{name}` after the change commits.",
                }
                for name in events
            },
        },
        "components": {
            "messages": {
                name: {"name": name, "payload": {"$ref": REF_TEMPLATE.format(model=name)}}
                for name in message_names
            },
            "schemas": schemas,
        },
    }
