"""The adapters a handler's `Deps` holds, and the fakes the lifecycle tests use, offer what the
lifecycle asks of them (`lifecycle.ports`; mypy checks the real ones' signatures too)."""

from __future__ import annotations

import pytest

from pitwall.lifecycle import ports
from pitwall.lifecycle.deps import Deps
from pitwall.settings import Settings

PORTS = {
    "store": ports.Store,
    "runs": ports.RunStore,
    "ec2": ports.Ec2,
    "roles": ports.Roles,
    "tasks": ports.Tasks,
    "messaging": ports.Messaging,
    "machines": ports.Machines,
    "prices": ports.Prices,
    "schedules": ports.Schedules,
}


@pytest.mark.parametrize("name", sorted(PORTS))
def test_the_real_adapters_and_the_fakes_offer_each_interface(
    name: str, stack_settings: dict[str, str], fake_deps: Deps
) -> None:
    settings = Settings.model_validate({**stack_settings, "PITWALL_TOPIC_ARN": "arn:aws:sns:us-east-1:1:t"})
    real = Deps.from_settings(settings)
    assert isinstance(getattr(real, name), PORTS[name])
    assert isinstance(getattr(fake_deps, name), PORTS[name])
    assert type(getattr(real, name)).__module__.startswith("pitwall.")


def test_the_lifecycle_reaches_aws_only_through_its_deps() -> None:
    # module-level adapter calls would bypass the fakes: a lifecycle module imports adapters only
    # for their types, constants and errors (and the DRoA password, read outside Deps)
    from pathlib import Path

    import pitwall.lifecycle

    folder = Path(pitwall.lifecycle.__file__).parent
    for module in sorted(folder.glob("*.py")):
        text = module.read_text()
        for adapter in ("tasks", "messaging", "machines"):
            assert f"from pitwall.adapters import {adapter}" not in text, module.name
        assert "on_demand_price(" not in text, module.name
