"""The console's rules on the reward function's text, and the Python 3.8 grammar."""

from __future__ import annotations

import pytest

from pitwall.customfiles.reward_static import MAX_CHARACTERS, check_reward_source

GOOD = (
    "import math\nimport numpy as np\nfrom shapely.geometry import Point\n\n\n"
    "def reward_function(params):\n    return 1.0\n"
)
RETURN = "def reward_function(params):\n    return 1.0\n"


def fields_and_messages(source: str | bytes) -> list[tuple[str, str]]:
    return [(problem.field, problem.message) for problem in check_reward_source(source).problems]


def test_a_good_function_passes_and_may_run_everywhere():
    result = check_reward_source(GOOD)

    assert result.problems == []
    assert result.safe_to_run and result.runs_on_38


@pytest.mark.parametrize(
    ("source", "field", "fragment"),
    [
        (
            "import os\ndef reward_function(params):\n    return 1.0\n",
            "line 1",
            "import of 'os' is not allowed",
        ),
        (
            "from subprocess import run\ndef reward_function(params):\n    return 1.0\n",
            "line 1",
            "'subprocess'",
        ),
        ("from . import x\n" + RETURN, "line 1", "import of '.'"),
        (
            "def reward_function(params):\n    import math\n    return 1.0\n",
            "line 2",
            "only at the top level",
        ),
        ("def reward_function(params):\n    return float(eval('1'))\n", "line 2", "uses eval()"),
        ("def reward_function(params):\n    f = open\n    return 1.0\n", "line 2", "uses open()"),
        ("import math\ndef reward_function(params):\n    return math.exec\n", "line 3", "uses exec()"),
        ("def reward_function(params):\n    return 1.0  # np.savetxt\n", "line 2", "'save', 'savetxt'"),
        ("def reward_function(params):\n    return 1.0\n# __import__\n", "line 3", "'__import__'"),
        ("def reward(params):\n    return 1.0\n", "reward_function", "is missing"),
        (
            "def outer():\n    def reward_function(params):\n        return 1.0\n",
            "reward_function",
            "not at the top",
        ),
        ("def reward_function():\n    return 1.0\n", "reward_function", "must take one argument"),
        ("def reward_function(a, b):\n    return 1.0\n", "reward_function", "must take one argument"),
        ("def reward_function(params:\n", "line 1", "syntax error"),
    ],
)
def test_console_rules(source, field, fragment):
    found = fields_and_messages(source)

    assert any(name == field and fragment in message for name, message in found), found
    assert not check_reward_source(source).safe_to_run


def test_optional_extra_arguments_are_fine():
    assert (
        check_reward_source("def reward_function(params, scale=1.0, *, k=2):\n    return 1.0\n").problems
        == []
    )


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        (
            "def reward_function(params):\n    match params:\n        case _:\n            return 1.0\n",
            "Pattern matching",
        ),
        ("def reward_function(params: dict | None):\n    return 1.0\n", "'X | Y' in an annotation"),
        ("def reward_function(params) -> list[float]:\n    return 1.0\n", "'list[...]' in an annotation"),
        (
            "def reward_function(params):\n    with (a as b, c as d):\n        pass\n",
            "Parenthesized context managers",
        ),
        ("type Reward = float\n" + RETURN, "Type statement"),
        ("def reward_function(params):\n    return float(f'{params['x']}')\n", "needs Python 3.12"),
    ],
)
def test_python_3_12_only_code_is_reported_but_may_still_run_on_3_12(source, fragment):
    result = check_reward_source(source)

    (problem,) = result.problems
    assert problem.field.startswith("python3.8 line") and fragment in problem.message
    assert result.safe_to_run and not result.runs_on_38


def test_the_3_8_problem_points_at_the_statement_not_at_the_end_of_the_block():
    source = (
        "import math\n\ndef reward_function(params):\n"
        "    match params:\n        case _:\n            x = 1\n    return 1.0\n"
    )

    (problem,) = check_reward_source(source).problems

    assert problem.field == "python3.8 line 4" and problem.value == "match params:"


def test_size_limit_and_encoding():
    padding = "# " + "x" * 78 + "\n"
    long_source = GOOD + padding * (MAX_CHARACTERS // len(padding) + 1)

    assert ("size", f"{len(long_source):,} characters is too long") in fields_and_messages(long_source)
    assert fields_and_messages(b"\xff\xfe") == [
        ("encoding", "not UTF-8 text: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte")
    ]
