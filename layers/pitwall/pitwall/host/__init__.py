"""The instance side: the host agent that runs DRFC on a spot instance and talks to the
controller through the run's S3 folder (`layout.RunKeys`).

- `protocol`: RunSpec / HostStatus / ControlRequest, what controller and host say to each other.
- `agent.HostAgent`: one segment on one instance, from boot to power-off (one core...).
- `backend.DrfcBackend`: ...two backends: `backends.drfc.RealDrfc` (DRFC's own commands) and
  `pitwall_local.simulated_drfc.SimulatedDrfc` (the local cloud's host, outside this layer).
- `drfc_settings`: run.env / system.env of a segment; `s3objects`: the host's S3 reads/writes.
- `imds`: the instance metadata service, IMDSv2 only (instance id, spot instance-action).
- `userdata`, `packaging`, `iam`: what the controller needs to launch a host: the boot script,
  the agent's zip, and the instance's least-privilege policy. `__main__`: the entry point.

Everything the instance runs uses the standard library and boto3 only (no pydantic, no
powertools) and runs on Python 3.8+, the Python of DRFC's Ubuntu 20.04 / 22.04 images: no
PEP 695 generics, no `match`, no 3.9+ standard library calls, `pitwall.strenum` for enums.
One test imports every module here with those blocked, another the archive under a real 3.8.
"""
