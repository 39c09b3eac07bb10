"""The static half of the reward-function validator: the console's rules, checked on the text.

- it parses under the Python 3.8 grammar (simapp 5.x) and under 3.12 (simapp 6.x);
- annotations that 3.8 evaluates at `def` time and cannot (`int | None`, `list[int]`);
- imports only at the top level of the module, and only math, random, numpy, scipy, shapely;
- no open, exec, eval, compile, input;
- none of the forbidden substrings anywhere, comments and strings included;
- at most 140,000 characters;
- `def reward_function(params)` at the top level, callable with one argument.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from pitwall.customfiles.problems import Problem
from pitwall.layout import REWARD_FUNCTION_FILE

MAX_CHARACTERS = 140_000
ALLOWED_MODULES = ("math", "random", "numpy", "scipy", "shapely")
FORBIDDEN_NAMES = ("open", "exec", "eval", "compile", "input")
FORBIDDEN_SUBSTRINGS = (
    "__import__", "load", "save", "fromfile", "tofile", "genfromtxt", "loadtxt", "savez", "savetxt", "memmap",
)  # fmt: skip
ENTRY_POINT = "reward_function"
_BUILTIN_GENERICS = frozenset({"list", "dict", "tuple", "set", "frozenset", "type"})


@dataclass
class StaticResult:
    """Problems found, and what the dynamic check may safely do with the file."""

    problems: list[Problem] = field(default_factory=list)
    parses_on_312: bool = False
    parses_on_38: bool = False

    @property
    def safe_to_run(self) -> bool:
        """Only a file that passed every rule but the 3.8-only ones is ever executed."""
        return self.parses_on_312 and all(problem.field.startswith("python3.8") for problem in self.problems)

    @property
    def runs_on_38(self) -> bool:
        return self.safe_to_run and self.parses_on_38 and not self.problems


def _problem(field: str, message: str, value: object = None, allowed: str | None = None) -> Problem:
    return Problem(file=REWARD_FUNCTION_FILE, field=field, value=value, message=message, allowed=allowed)


def check_reward_source(source: bytes | str) -> StaticResult:
    """Check a reward function's source against the console's rules."""
    result = StaticResult()
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as error:
            result.problems.append(_problem("encoding", f"not UTF-8 text: {error}"))
            return result
    if len(source) > MAX_CHARACTERS:
        result.problems.append(
            _problem(
                "size", f"{len(source):,} characters is too long", len(source), f"at most {MAX_CHARACTERS:,}"
            )
        )
    result.problems.extend(_forbidden_substrings(source))
    tree = _parse(source, result)
    if tree is None:
        return result
    result.problems.extend(_import_problems(tree))
    result.problems.extend(_forbidden_name_problems(tree))
    result.problems.extend(_entry_point_problems(tree))
    if result.parses_on_38:
        result.problems.extend(_py38_annotation_problems(tree))
        result.problems.extend(_py312_fstring_problems(source, tree))
    return result


def _parse(source: str, result: StaticResult) -> ast.Module | None:
    try:
        tree = ast.parse(source, filename=REWARD_FUNCTION_FILE)
    except SyntaxError as error:
        result.problems.append(
            _problem(f"line {error.lineno}", f"syntax error: {error.msg}", (error.text or "").strip())
        )
        return None
    result.parses_on_312 = True
    try:
        ast.parse(source, filename=REWARD_FUNCTION_FILE, feature_version=(3, 8))
    except SyntaxError as error:
        line = _first_newer_statement_line(tree) or error.lineno
        result.problems.append(
            _problem(
                f"python3.8 line {line}",
                f"not valid Python 3.8 (simapp 5.x runs 3.8): {error.msg}",
                _source_line(source, line) or (error.text or "").strip(),
            )
        )
    else:
        result.parses_on_38 = True
    return tree


def _forbidden_substrings(source: str) -> list[Problem]:
    """One problem per line where a forbidden substring first appears."""
    words_by_line: dict[int, list[str]] = {}
    for word in FORBIDDEN_SUBSTRINGS:
        position = source.find(word)
        if position >= 0:
            words_by_line.setdefault(source.count("\n", 0, position) + 1, []).append(word)
    lines = source.splitlines()
    return [
        _problem(
            f"line {line}",
            f"contains {', '.join(map(repr, words))}, which the console forbids anywhere in the file "
            "(comments and strings too)",
            lines[line - 1].strip(),
            "none of " + ", ".join(FORBIDDEN_SUBSTRINGS),
        )
        for line, words in sorted(words_by_line.items())
    ]


def _import_problems(tree: ast.Module) -> list[Problem]:
    problems = []
    top_level = {id(node) for node in tree.body}
    allowed = ", ".join(ALLOWED_MODULES)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.ImportFrom):
            modules = [("." * node.level) + (node.module or "")]
        else:
            modules = [alias.name for alias in node.names]
        for module in modules:
            if module.split(".")[0] not in ALLOWED_MODULES:
                problems.append(
                    _problem(f"line {node.lineno}", f"import of {module!r} is not allowed", module, allowed)
                )
        if id(node) not in top_level:
            problems.append(
                _problem(
                    f"line {node.lineno}",
                    "imports are allowed only at the top level of the module",
                    ast.unparse(node),
                    "module-level imports",
                )
            )
    return problems


def _forbidden_name_problems(tree: ast.Module) -> list[Problem]:
    problems = []
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            name = node.id
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_NAMES:
            name = node.attr
        if name is not None:
            problems.append(
                _problem(
                    f"line {getattr(node, 'lineno', '?')}",
                    f"uses {name}(), which the console forbids",
                    ast.unparse(node),
                    "none of " + ", ".join(FORBIDDEN_NAMES),
                )
            )
    return problems


def _entry_point_problems(tree: ast.Module) -> list[Problem]:
    definitions = [
        node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == ENTRY_POINT
    ]
    if not definitions:
        nested = any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == ENTRY_POINT
                     for node in ast.walk(tree))  # fmt: skip
        where = "exists, but not at the top level of the module" if nested else "is missing"
        return [
            _problem(
                ENTRY_POINT, f"def {ENTRY_POINT}(params) {where}", allowed="def reward_function(params):"
            )
        ]
    arguments = definitions[-1].args
    positional = arguments.posonlyargs + arguments.args
    required = len(positional) - len(arguments.defaults)
    keyword_defaults = zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
    required_keywords = [arg.arg for arg, default in keyword_defaults if default is None]
    if (not positional and arguments.vararg is None) or required > 1 or required_keywords:
        found = ast.unparse(arguments)
        message = f"must take one argument (the simulator calls reward_function(params)), not ({found})"
        return [_problem(ENTRY_POINT, message, found, "def reward_function(params):")]
    return []


def _py38_annotation_problems(tree: ast.Module) -> list[Problem]:
    """Annotations Python 3.8 evaluates when the `def` runs, and cannot: `X | Y`, `list[int]`."""
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        arguments = node.args
        annotations = [
            arg.annotation for arg in arguments.posonlyargs + arguments.args + arguments.kwonlyargs
        ]
        annotations += [arguments.vararg.annotation if arguments.vararg else None]
        annotations += [arguments.kwarg.annotation if arguments.kwarg else None, node.returns]
        for annotation in annotations:
            reason = _unsupported_on_38(annotation) if annotation is not None else None
            if reason is not None and annotation is not None:
                problems.append(
                    _problem(
                        f"python3.8 line {annotation.lineno}",
                        f"{reason} in an annotation fails on Python 3.8 when the def runs (simapp 5.x)",
                        ast.unparse(annotation),
                        "typing.Optional / typing.List, or no annotation",
                    )
                )
    return problems


def _unsupported_on_38(annotation: ast.expr) -> str | None:
    for node in ast.walk(annotation):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return "'X | Y'"
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id in _BUILTIN_GENERICS
        ):
            return f"'{node.value.id}[...]'"
    return None


def _py312_fstring_problems(source: str, tree: ast.Module) -> list[Problem]:
    """f-strings only 3.12 reads (PEP 701): the string's own quote or a backslash inside `{...}`.
    The 3.8 grammar check of `ast.parse` does not see these."""
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.JoinedStr):
            continue
        text = ast.get_source_segment(source, node) or ""
        body = text.lstrip("rRfFbBuU")
        quote = body[:3] if body[:3] in {'"""', "'''"} else body[:1]
        for value in node.values:
            if not isinstance(value, ast.FormattedValue):
                continue
            inner = ast.get_source_segment(source, value.value) or ""
            if (len(quote) == 1 and quote in inner) or "\\" in inner:
                problems.append(
                    _problem(
                        f"python3.8 line {node.lineno}",
                        "f-string with its own quote or a backslash inside {...} needs Python 3.12 "
                        "(simapp 5.x runs 3.8)",
                        text,
                        "the other quote character inside {...}",
                    )
                )
                break
    return problems


_NEWER_STATEMENTS = tuple(
    getattr(ast, name) for name in ("Match", "TryStar", "TypeAlias") if hasattr(ast, name)
)  # match (3.10), except* (3.11), type X = ... (3.12)


def _first_newer_statement_line(tree: ast.Module) -> int | None:
    """Where the first statement 3.8 cannot parse is: the 3.8 parser's own line is often the
    end of the block."""
    lines = [node.lineno for node in ast.walk(tree) if isinstance(node, _NEWER_STATEMENTS)]
    return min(lines) if lines else None


def _source_line(source: str, number: int | None) -> str | None:
    lines = source.splitlines()
    return lines[number - 1].strip() if number is not None and 0 < number <= len(lines) else None
