from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyaxon_integrations.core.exceptions import InvalidNameError
from polyaxon_integrations.core.names import normalize_uuid, slugify, split_project, validate_slug


def test_split_project_forms() -> None:
    assert split_project("p", None) == (None, "p")
    assert split_project("org/p", None) == ("org", "p")
    assert split_project("org/p", "org") == ("org", "p")
    assert split_project("p", "org") == ("org", "p")


@pytest.mark.parametrize("bad", ["a/b/c", "my project", "p.q", "", "org/", "/p"])
def test_invalid_project_names_the_value(bad: str) -> None:
    with pytest.raises(InvalidNameError, match="Invalid"):
        split_project(bad, None)


def test_conflicting_owner() -> None:
    with pytest.raises(InvalidNameError, match="Conflicting owners"):
        split_project("a/p", "b")


def test_reserved_project_name() -> None:
    with pytest.raises(InvalidNameError, match="reserves"):
        split_project("projects", None)
    assert validate_slug("runs", "owner") == "runs"  # only project names are checked against the list


def test_uuid_forms() -> None:
    hexed = "8aac02e3a62a4f0d9c2b3c7b4b8b9c1d"
    assert normalize_uuid(hexed) == hexed
    assert normalize_uuid("8aac02e3-a62a-4f0d-9c2b-3c7b4b8b9c1d") == hexed
    with pytest.raises(InvalidNameError, match="run_uuid 'nope'"):
        normalize_uuid("nope")


@given(st.text(max_size=200))
def test_slugify_always_yields_a_valid_or_empty_slug(text: str) -> None:
    slug = slugify(text)
    if slug:
        assert validate_slug(slug, "name") == slug


def test_slugify_examples() -> None:
    assert slugify("my run.v2") == "my-run-v2"
    assert slugify("tmp/trainer_out") == "tmp-trainer_out"
