"""The host's named errors. Each message says what failed and where, so the FAILED status the
agent reports (and the racer reads) is enough to act on."""

from __future__ import annotations


class HostError(Exception):
    """Base of every error the host agent raises on purpose; reported as a FAILED status."""


class RunSpecUnavailable(HostError):
    """The run spec could not be read from S3 (missing, unreadable, or for another run)."""


class InvalidRunSpec(HostError):
    """The run spec contradicts itself (e.g. two different model prefixes)."""


class DrfcMissing(HostError):
    """DeepRacer-for-Cloud is not installed where the agent was told to find it."""


class DrfcCommandFailed(HostError):
    """A DRFC command (or docker) exited non-zero; the message names it, its exit code, and
    the last lines it printed."""

    def __init__(self, command: str, exit_code: int, output_tail: str) -> None:
        self.command = command
        self.exit_code = exit_code
        self.output_tail = output_tail
        tail = f"; last output:\n{output_tail}" if output_tail else "; no output"
        super().__init__(f"`{command}` failed with exit code {exit_code}{tail}")
