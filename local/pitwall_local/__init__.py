"""The local cloud: the very same template.yaml deployed into moto, the real .asl.json files run
by moto's Step Functions, the Lambda handlers run in-process, and a simulated DRFC host for
every instance the controller launches. Offline; for the demo, the tests and the benchmarks.

- `template`: read template.yaml and expand SAM with the installed aws-sam-translator;
- `deployer`: create the expanded template's resources in moto;
- `moto_lambda_shim`: run Lambda handlers in this process (moto's would need Docker);
- `relay`: deliver EventBridge events to Step Functions and Lambda targets (moto does not);
- `s3_events`: S3 notifications with the object's versionId, as AWS sends them;
- `instances`: a simulated host per launched instance, and the EC2 fault hook;
- `cloud`: `LocalCloud`, all of the above behind one context manager.
"""
