"""A data registry per test module: building one costs a few DVC commands (about three seconds),
so the tests that leave it as they found it share it; each checks or restores what it touched."""

import pytest

from tests.support.registries import Registry, build_registry, commits, git


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return build_registry(tmp_path_factory.mktemp("registry"))


@pytest.fixture
def unchanged(registry: Registry):
    """Asserts a bad input left no trace: no commit, no changed tracked file."""
    before = commits(registry.repo)
    yield
    assert commits(registry.repo) == before
    assert git(registry.repo, "status", "--porcelain") == ""
