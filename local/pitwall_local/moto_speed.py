"""moto's per-request overheads that do not depend on the request, computed once.

moto finds an action's handler among the names of its response class's methods, listed with
`inspect.getmembers` at every request (a few percent of the local cloud's CPU); a class's
methods do not change while it runs, so the list is cached per class."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from moto.core import responses


@contextmanager
def action_names_cached() -> Iterator[None]:
    original = responses.method_names_from_class
    responses.method_names_from_class = functools.cache(original)
    try:
        yield
    finally:
        responses.method_names_from_class = original
