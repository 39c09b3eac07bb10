"""Named errors. A Lambda that raises one fails its Step Functions task with the class name as
the `Error`, so Retry and Catch in `statemachines/*.asl.json` match these names."""


class PitwallError(Exception):
    """Base of every error this project raises on purpose."""


class InvalidCustomFiles(PitwallError):
    """The custom files or run settings break a rule; the message lists every problem."""


class SpotCapacityUnavailable(PitwallError):
    """No configured pool (instance type x AZ) could launch an instance."""


class BudgetExhausted(PitwallError):
    """The run has no time or money left for another segment."""


class RunNotFound(PitwallError):
    """No run record under that id."""


class HostFailed(PitwallError):
    """The host reported that DRFC failed (a command failed, a container died, ...)."""


class RunRecordConflict(PitwallError):
    """Another writer changed the run record first (conditional write lost); retry reads it again."""


class InvalidRunRequest(PitwallError):
    """A run request (inbox upload, CLI, event) breaks a rule; the message names the field."""


class InvalidTransition(PitwallError):
    """A run was asked to move to a state it cannot reach from where it is."""


class NothingToContinueFrom(PitwallError):
    """An increment or evaluation names a run that has no trained checkpoint."""


class RunAlreadyStarted(PitwallError):
    """A second execution was started for a run id that another execution owns."""


class InvalidEvent(PitwallError):
    """An event or task input does not fit its model (a malformed id, an unknown detail type, a
    token no waiting task holds); the message names each field and what is allowed. Nothing was
    changed."""


class RewardSandboxFailed(PitwallError):
    """The sandbox that runs reward code did not answer with a result (it crashed or timed out):
    the custom files are neither valid nor invalid yet; validating again may succeed."""


# -- importing a model into DeepRacer on AWS (DRoA) -------------------------------------------


class InvalidImportRequest(PitwallError):
    """An import asks for something DRoA cannot take (model name, description, checkpoint choice);
    checked before any call to DRoA."""


class CheckpointMissing(PitwallError):
    """The chosen checkpoint is not (or no longer) in S3; the message names the ones that exist."""


class DroaNotConfigured(PitwallError):
    """The stack has no DRoA to import into: its DroaSiteUrl or DroaUserName parameter is empty."""


class DroaTrackUnknown(PitwallError):
    """The run's track cannot be named as a DRoA track id and direction."""


class DroaSignInFailed(PitwallError):
    """DRoA's user pool refused the user name or password (the secret holds the password)."""


class NotADroaSite(PitwallError):
    """The DRoA site URL does not serve DRoA's env.js (wrong URL, or not a DRoA deployment)."""


class DroaBlocked(PitwallError):
    """DRoA's API answered 403: its WAF blocked the request (or the identity may not call it)."""


class DroaUnavailable(PitwallError):
    """DRoA answered 429 or 5xx, or could not be reached: retried with backoff."""


class DroaImportRejected(PitwallError):
    """DRoA refused the import: 400 on the request, or the model ended in ERROR with its
    importErrorMessage."""


class DroaImportTimedOut(PitwallError):
    """DRoA did not finish the import (READY or ERROR) within the import's time limit."""
