"""One default-sized synthetic platform (2,000 dealers x 24 months) shared by the demo tests."""

from __future__ import annotations

import pytest

from risk_engine.demo import Platform, generate_platform


@pytest.fixture(scope="session")
def platform() -> Platform:
    return generate_platform()
