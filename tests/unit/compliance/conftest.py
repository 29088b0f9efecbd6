"""Fixtures for the compliance core: key providers in temporary directories, no database."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.keys import FileKeyProvider


@pytest.fixture
def key_provider(tmp_path: Path) -> FileKeyProvider:
    return FileKeyProvider(tmp_path / "keys")


@pytest.fixture(scope="module")
def shared_key_provider(tmp_path_factory: pytest.TempPathFactory) -> FileKeyProvider:
    """One provider per module, for hypothesis tests (function-scoped fixtures do not reset per example)."""
    return FileKeyProvider(tmp_path_factory.mktemp("keys") / "keys")
