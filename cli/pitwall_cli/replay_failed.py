"""`pitwall replay-failed`: re-drive the asynchronous events that failed every attempt.

Lambda sends such an event to the stack's failure queue (template.yaml: AsyncFailureQueue) as an
invocation record: the function (`requestContext.functionArn`), why it was dropped
(`condition`: RetriesExhausted, EventAgeExceeded) and the event itself (`requestPayload`). Each
record is invoked again asynchronously (so a new failure lands in the queue again) and deleted
from the queue once Lambda accepted it. Every handler is idempotent, so a re-driven event that
the controller no longer needs (a heartbeat of an ended run, a warning about a replaced
instance) changes nothing.

Only the stack's asynchronous functions (its `AsyncFunctionArns` output) are invoked: a record
that names any other function (another stack's, another account's) is left in the queue and
reported, as whoever can write to the queue could otherwise have the operator invoke anything.

The queue is found from the stack's outputs (`--stack`) unless `--queue` names its URL.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from pitwall import aws
from pitwall_cli.runs import stack_outputs


@dataclass(frozen=True)
class Replayed:
    function: str
    condition: str
    redriven: bool
    detail: str
    refused: bool = False  # left in the queue: not an invocation record of the stack's functions


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("replay-failed", help="re-drive the events that failed every attempt")
    parser.add_argument("--stack", default="pitwall", help="the deployed stack (default: pitwall)")
    parser.add_argument("--queue", help="the failure queue's URL, instead of reading it from the stack")
    parser.add_argument("--region", help="AWS region (default: your configuration's)")
    parser.add_argument("--dry-run", action="store_true", help="list the failed events, re-drive nothing")
    parser.set_defaults(func=run)


def _function_of(record: dict[str, Any]) -> str:
    """The function's ARN without the `:$LATEST` qualifier Lambda puts in the record."""
    arn = str(record["requestContext"]["functionArn"])
    return arn.removesuffix(":$LATEST")


def replay_failed(
    queue_url: str, functions: Collection[str], region: str | None = None, dry_run: bool = False
) -> list[Replayed]:
    """Re-drive every record in the queue (until a receive comes back empty) whose function is
    one of `functions` (ARNs)."""
    sqs, lambdas = aws.client("sqs", region), aws.client("lambda", region)
    replayed: list[Replayed] = []
    while True:
        # a dry run leaves what it read visible at once (it reads one batch of ten)
        hidden = 0 if dry_run else 60
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=hidden)
        messages = answer.get("Messages", [])
        if not messages:
            return replayed
        for message in messages:
            try:
                record = json.loads(message["Body"])
                function, condition = _function_of(record), str(record["requestContext"]["condition"])
                payload = record["requestPayload"]
            except (ValueError, KeyError, TypeError) as exc:
                replayed.append(Replayed("?", "?", False, f"not an invocation record: {exc}", refused=True))
                continue  # stays in the queue for a person to read
            if function not in functions:
                names = ", ".join(sorted(arn.rsplit(":", 1)[-1] for arn in functions))
                detail = f"{function} is not one of the stack's asynchronous functions ({names})"
                replayed.append(Replayed(function, condition, False, detail, refused=True))
                continue
            error = json.dumps(record.get("responsePayload"))[:200]
            if dry_run:
                replayed.append(Replayed(function, condition, False, error))
                continue
            body = json.dumps(payload).encode()
            lambdas.invoke(FunctionName=function, InvocationType="Event", Payload=body)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            replayed.append(Replayed(function, condition, True, error))
        if dry_run:
            return replayed


def run(args: argparse.Namespace) -> int:
    outputs = stack_outputs(args)
    queue = args.queue or outputs["AsyncFailureQueueUrl"]
    functions = outputs["AsyncFunctionArns"].split(",")
    replayed = replay_failed(queue, functions, args.region, dry_run=args.dry_run)
    for entry in replayed:
        verb = "re-driven" if entry.redriven else "left"
        print(f"{verb:<10} {entry.function.rsplit(':', 1)[-1]:<48} {entry.condition:<18} {entry.detail}")
    if not replayed:
        print("no failed events")
    return 1 if any(entry.refused for entry in replayed) else 0
