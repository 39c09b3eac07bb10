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
