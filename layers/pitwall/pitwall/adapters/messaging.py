"""SNS notifications to the racer and EventBridge events that chain the lifecycles."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pitwall import aws
from pitwall.notifications import Message

EVENT_SOURCE = "pitwall"


@dataclass(frozen=True)
class Messaging:
    topic_arn: str
    event_bus: str

    def send(self, message: Message) -> str:
        """Publish one of `pitwall.notifications`' messages, its event and model as message
        attributes (what a subscription's filter policy matches)."""
        answer = aws.client("sns").publish(
            TopicArn=self.topic_arn,
            Subject=message.subject,
            Message=message.body,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in message.attributes.items()
            },
        )
        return str(answer["MessageId"])

    def put_event(self, detail_type: str, detail: dict[str, Any]) -> None:
        answer = aws.client("events").put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": self.event_bus,
                }
            ]
        )
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the {detail_type!r} event: {answer['Entries']}")
