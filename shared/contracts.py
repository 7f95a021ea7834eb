"""Machine-readable contracts generated from the models the code uses.

JSON Schema for every message, and an AsyncAPI 3.0 document for the AMQP side.
`werving contracts export DIR` writes them (with the OpenAPI document); a test
keeps the copies in ``docs/contracts`` equal to what the code generates.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.commands import BulkCommandEnvelope, CommandEnvelope, CommandMessage, command_type
from shared.commands.envelope import BULK_COMMANDS
from shared.events import EVENT_TYPES
from shared.messaging.routes import WORKER_QUEUES
from shared.settings import Settings

REF_TEMPLATE = "#/components/schemas/{model}"
_DEFS_TEMPLATE = "#/$defs/{model}"


def bulk_command_schema(defs: dict[str, Any], ref_template: str) -> dict[str, Any]:
    """The schema of a bulk request's ``command``, as the ingress and the API accept it:
    any command but ``register_application``, without ``application_id``, and nothing
    else. Adds a ``Bulk<Command>`` schema to ``defs`` (which hold the commands' own) for
    each, and returns their union, discriminated on ``type``."""
    mapping: dict[str, str] = {}
    for model in BULK_COMMANDS:
        name = f"Bulk{model.__name__}"
        variant = copy.deepcopy(defs[model.__name__])
        variant["properties"].pop("application_id")
        required = [field for field in variant.get("required", []) if field != "application_id"]
        if required:
            variant["required"] = required
        else:
            variant.pop("required", None)
        variant["title"] = name
        defs[name] = variant
        mapping[command_type(model)] = ref_template.format(model=name)
    return {
        "description": BulkCommandEnvelope.model_fields["command"].description,
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "type", "mapping": mapping},
    }


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def _bulk_envelope_schema() -> dict[str, Any]:
    """The bulk envelope's standalone schema, its ``command`` spelled out."""
    schema = BulkCommandEnvelope.model_json_schema()
    defs = dict(CommandEnvelope.model_json_schema(ref_template=_DEFS_TEMPLATE)["$defs"])
    schema["properties"]["command"] = bulk_command_schema(defs, _DEFS_TEMPLATE)
    reachable: set[str] = set()
    pending = _refs(schema)
    while pending:
        name = pending.pop().rsplit("/", 1)[-1]
        if name not in reachable:
            reachable.add(name)
            pending |= _refs(defs[name])
    schema["$defs"] = {name: defs[name] for name in sorted(reachable)}
    return schema


def _schemas(ref_template: str) -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        CommandEnvelope,
        BulkCommandEnvelope,
        CommandMessage,
        *EVENT_TYPES,
    ]
    _, top = models_json_schema([(m, "validation") for m in models], ref_template=ref_template)
    defs = dict(top.get("$defs", {}))
    defs["BulkCommandEnvelope"]["properties"]["command"] = bulk_command_schema(defs, ref_template)
    return defs


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
        schema = (
            _bulk_envelope_schema() if model is BulkCommandEnvelope else model.model_json_schema()
        )
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
