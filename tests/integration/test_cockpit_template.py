"""The cockpit's resources of template.yaml, deployed into moto by the local cloud: the fleet
dashboard, its alarms on the racer's topic, and the e-mail subscription's filter policy on the
`event` attribute every notification carries (alarms carry none, and always arrive)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto.sns.utils import FilterPolicyMatcher

from pitwall import aws
from pitwall.lifecycle import telemetry
from pitwall_local.cloud import LocalCloud


@pytest.fixture(scope="module")
def filtered_cloud() -> Iterator[LocalCloud]:
    parameters = {"NotificationEmail": "racer@example.com", "NotificationEvents": "run-finished,run-failed"}
    with LocalCloud(time_scale=240.0, parameters=parameters) as cloud:
        yield cloud


def test_the_dashboard_shows_the_fleet_metrics_and_every_alarm(filtered_cloud: LocalCloud) -> None:
    cloudwatch = aws.client("cloudwatch", filtered_cloud.region)
    name = filtered_cloud.stack.outputs["FleetDashboardName"]
    body = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
    text = json.dumps(body)
    for metric in (
        telemetry.LIVE_RUNS,
        telemetry.STALE_RUNS,
        telemetry.COST,
        telemetry.LIVE_COST,
        telemetry.BUDGET_USED,
        telemetry.REPLACEMENTS,
        telemetry.STALLS,
        telemetry.INTERRUPTIONS,
        telemetry.CIRCUIT_BREAKER_TRIPS,
        telemetry.EPISODES,
    ):
        assert f'"{metric}"' in text or f'\\"{metric}\\"' in text, metric
    [alarm_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    alarms = cloudwatch.describe_alarms()["MetricAlarms"]
    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(a["AlarmArn"] for a in alarms)


def test_the_alarms_watch_the_telemetry_and_the_failure_queue_and_tell_the_racer(
    filtered_cloud: LocalCloud,
) -> None:
    topic = filtered_cloud.stack.outputs["NotificationTopicArn"]
    every = aws.client("cloudwatch").describe_alarms()["MetricAlarms"]
    alarms = {a["MetricName"]: a for a in every if a["Namespace"] == telemetry.NAMESPACE}
    assert set(alarms) == {telemetry.STALE_RUNS, telemetry.BUDGET_USED, telemetry.CIRCUIT_BREAKER_TRIPS}
    assert alarms[telemetry.BUDGET_USED]["Threshold"] == 80
    for alarm in alarms.values():
        assert alarm["Dimensions"] == [{"Name": "service", "Value": "pitwall"}]
    # the fourth watches the queue of failed asynchronous events; every alarm tells the racer
    [failures] = [a for a in every if a["Namespace"] == "AWS/SQS"]
    assert failures["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert all(a["AlarmActions"] == [topic] for a in every) and len(every) == 4


def test_the_email_subscription_gets_the_chosen_events_and_every_alarm(filtered_cloud: LocalCloud) -> None:
    sns = aws.client("sns", filtered_cloud.region)
    topic = filtered_cloud.stack.outputs["NotificationTopicArn"]
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])
    policy = json.loads(attributes["Attributes"]["FilterPolicy"])
    matcher = FilterPolicyMatcher(policy, "MessageAttributes")

    def delivered(event: str | None) -> bool:
        attrs = {"event": {"Type": "String", "Value": event}} if event else {}
        return matcher.matches(attrs, "body")

    assert delivered("run-finished") and delivered("run-failed")
    assert not delivered("training-started") and not delivered("run-resumed")
    assert delivered(None)  # a CloudWatch alarm's message
