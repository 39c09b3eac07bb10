"""The instance side: the host agent that runs DRFC on a spot instance and talks to the
controller through the run's S3 folder (`layout.RunKeys`).

Everything in this package runs on the instance's Python with the standard library and boto3
only: no pydantic, no powertools. A test imports it with those blocked.
"""
