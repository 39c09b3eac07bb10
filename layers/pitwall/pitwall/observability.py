"""The one Logger, Tracer and Metrics of the project (powertools)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "pitwall"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace="Pitwall", service=SERVICE)
