"""The runs table (DynamoDB): one item per run; the whole record as JSON in `body`, plus the
attributes that are queried (`model_prefix` has an index: heartbeats name a model prefix).
Every save is conditional on the version the writer read, so two writers never both win."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pitwall import aws
from pitwall.errors import RunNotFound, RunRecordConflict
from pitwall.runs import STORED_RECORD, Run

MODEL_PREFIX_INDEX = "ModelPrefixIndex"


@dataclass(frozen=True)
class RunsTable:
    table_name: str

    @property
    def _dynamodb(self) -> Any:
        return aws.client("dynamodb")

    def _item(self, run: Run) -> dict[str, Any]:
        item: dict[str, Any] = {
            "run_id": {"S": run.run_id},
            "version": {"N": str(run.version)},
            "state": {"S": run.state.value},
            "kind": {"S": run.kind.value},
            "updated_at": {"N": repr(run.updated_at)},
            "body": {"S": run.model_dump_json()},
        }
        if run.model_prefix:
            item["model_prefix"] = {"S": run.model_prefix}
        return item

    def create(self, run: Run) -> bool:
        """Store a new run; False (and nothing written) when the run id exists already."""
        try:
            self._dynamodb.put_item(
                TableName=self.table_name,
                Item=self._item(run),
                ConditionExpression="attribute_not_exists(run_id)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, run_id: str) -> Run:
        answer = self._dynamodb.get_item(
            TableName=self.table_name, Key={"run_id": {"S": run_id}}, ConsistentRead=True
        )
        if "Item" not in answer:
            raise RunNotFound(f"no run {run_id!r} in table {self.table_name}")
        return Run.model_validate_json(answer["Item"]["body"]["S"], context=STORED_RECORD)

    def save(self, run: Run) -> Run:
        """Write `run` if nobody wrote since it was read; returns it with its new version."""
        updated = run.model_copy(update={"version": run.version + 1})
        try:
            self._dynamodb.put_item(
                TableName=self.table_name,
                Item=self._item(updated),
                ConditionExpression="version = :read",
                ExpressionAttributeValues={":read": {"N": str(run.version)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise RunRecordConflict(f"run {run.run_id} changed since version {run.version}") from exc
            raise
        return updated

    def by_model_prefix(self, model_prefix: str) -> list[Run]:
        answer = self._dynamodb.query(
            TableName=self.table_name,
            IndexName=MODEL_PREFIX_INDEX,
            KeyConditionExpression="model_prefix = :prefix",
            ExpressionAttributeValues={":prefix": {"S": model_prefix}},
        )
        return [self.get(item["run_id"]["S"]) for item in answer.get("Items", [])]

    def all(self) -> list[Run]:
        runs: list[Run] = []
        for page in self._dynamodb.get_paginator("scan").paginate(TableName=self.table_name):
            runs += [
                Run.model_validate_json(item["body"]["S"], context=STORED_RECORD)
                for item in page.get("Items", [])
            ]
        return sorted(runs, key=lambda run: run.created_at)
