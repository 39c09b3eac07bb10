"""SNS notifications to the racer and EventBridge events that chain the lifecycles."""

from __future__ import annotations

import json
from typing import Any

from pitwall import aws
from pitwall.notifications import Message

EVENT_SOURCE = "pitwall"


def notify(topic_arn: str, subject: str, message: str) -> str:
    answer = aws.client("sns").publish(TopicArn=topic_arn, Subject=subject[:99], Message=message)
    return str(answer["MessageId"])


def send(topic_arn: str, message: Message) -> str:
    """Publish one of `pitwall.notifications`' messages, its event and model as message attributes
    (what a subscription's filter policy matches)."""
    answer = aws.client("sns").publish(
        TopicArn=topic_arn,
        Subject=message.subject,
        Message=message.body,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in message.attributes.items()
        },
    )
    return str(answer["MessageId"])


def put_event(bus: str, detail_type: str, detail: dict[str, Any]) -> None:
    answer = aws.client("events").put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "EventBusName": bus,
            }
        ]
    )
    if answer.get("FailedEntryCount"):
        raise RuntimeError(f"EventBridge refused the {detail_type!r} event: {answer['Entries']}")
