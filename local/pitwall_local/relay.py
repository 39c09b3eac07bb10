"""Deliver EventBridge events to the Step Functions and Lambda targets of the deployed rules.

moto's EventBridge matches an event against the rules that the deployer created from
template.yaml, but delivers only to log groups, archives, SQS and other buses (anything else
raises NotImplementedError). This module wraps moto's `Rule.send_to_targets`: for a matching
rule, state machine targets get an execution (`StartExecution` with the target's input) and
Lambda targets an asynchronous invocation; every other target goes to moto as before. The
rules, patterns, input paths and targets are read from the deployed resources, never restated.

(S3 notifications need no relay: moto invokes the notification's Lambda itself, and the Lambda
shim runs it.)
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.events.models import Rule
from moto.events.utils import EventTemplateParser
from moto.utilities.arns import parse_arn

from pitwall import aws


def _input_path(event: dict[str, Any], path: str) -> Any:
    value: Any = event
    for part in path.removeprefix("$").strip(".").split("."):
        if part:
            value = value[part]
    return value


def target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What the target receives, as EventBridge computes it (Input, InputPath, InputTransformer)."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        return _input_path(event, target["InputPath"])
    if "InputTransformer" in target:
        transformer = target["InputTransformer"]
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,  # type: ignore[arg-type]
        )
    return event


@dataclass
class Relay:
    region: str
    delivered: list[tuple[str, str]] = field(default_factory=list)  # (detail-type, target arn)
    errors: list[str] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def deliver(self, target: dict[str, Any], event: dict[str, Any]) -> None:
        arn = target["Arn"]
        payload = target_input(target, event)
        service = parse_arn(arn).service
        self.delivered.append((str(event.get("detail-type")), arn))
        if service == "states":
            # EventBridge names the execution at random (moto would leave it None)
            aws.client("stepfunctions", self.region).start_execution(
                stateMachineArn=arn, name=str(uuid.uuid4()), input=json.dumps(payload)
            )
        elif service == "lambda":
            thread = threading.Thread(target=self._invoke, args=(arn, payload), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _invoke(self, arn: str, payload: Any) -> None:
        try:
            answer = aws.client("lambda", self.region).invoke(
                FunctionName=arn, Payload=json.dumps(payload).encode()
            )
            if answer.get("FunctionError"):
                self.errors.append(f"{arn}: {answer['Payload'].read().decode()[:500]}")
        except Exception as exc:  # an asynchronous invocation: record, as AWS would log it
            self.errors.append(f"{arn}: {exc}")


@contextmanager
def relayed_events(relay: Relay) -> Iterator[Relay]:
    original = Rule.send_to_targets

    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        if self.scheduled_expression and not self.event_pattern.get_pattern():
            return  # a schedule rule (the reaper's) matches no event; moto's empty pattern would
        if not self.event_pattern.matches_event(original_event):
            return
        ours = [t for t in self.targets if parse_arn(t["Arn"]).service in ("states", "lambda")]
        for target in ours:
            relay.deliver(target, original_event)
        others = [t for t in self.targets if t not in ours]
        if others:
            rest = copy.copy(self)
            rest.targets = others
            original(rest, original_event, transform_input)

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]
    try:
        yield relay
    finally:
        Rule.send_to_targets = original  # type: ignore[method-assign]
