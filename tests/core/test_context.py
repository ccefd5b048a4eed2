"""Context resolution: every rule of the seed, without a server (resolution sends nothing)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from polyaxon_integrations.client import ClientConfig, PolyaxonClient, RunClient
from polyaxon_integrations.core.context import resolve
from polyaxon_integrations.core.exceptions import ConfigError, InvalidNameError, NoContextError

UUID_A = "1f0e2d3c4b5a69788796a5b4c3d2e1f0"
UUID_B = "aaaabbbbccccddddeeeeffff00001111"


def write(path: Path, data: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    os.chmod(path, 0o600)


@pytest.fixture
def home() -> Path:
    return Path(os.environ["HOME"]) / ".polyaxon"


@pytest.fixture
def cli_login(home: Path) -> None:
    """What an authenticated official CLI leaves in ~/.polyaxon."""
    write(home / ".client", {"POLYAXON_HOST": "http://127.0.0.1:9", "POLYAXON_VERIFY_SSL": False, "client_header": {}})
    write(home / ".auth", {"POLYAXON_AUTH_USERNAME": "u", "POLYAXON_AUTH_TOKEN": "file-token"})
    write(home / ".user", {"username": "u", "email": "u@x.org", "organization": "acme"})


def test_nothing_found_lists_every_source(home: Path) -> None:
    with pytest.raises(NoContextError) as info:
        resolve()
    message = str(info.value)
    assert "Please provide a valid project" in message
    for needle in (
        "client=",
        "POLYAXON_RUN_INSTANCE",
        "POLYAXON_HOST",
        "POLYAXON_PROJECT",
        str(home / ".client"),
        ".polyaxon/.run",
        "is_offline=True",
    ):
        assert needle in message


def test_project_but_no_server_says_what_to_set() -> None:
    with pytest.raises(NoContextError, match=r"^Found no Polyaxon server to log to \(the project is known\)") as info:
        resolve(project="p")
    assert "POLYAXON_HOST" in str(info.value) and "valid project" not in str(info.value)


def test_offline_needs_no_server() -> None:
    ctx = resolve(project="p", is_offline=True)
    assert (ctx.owner, ctx.project, ctx.is_offline, ctx.config) == ("default", "p", True, None)


def test_offline_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_IS_OFFLINE", "yes")
    assert resolve(project="p").is_offline
    monkeypatch.setenv("POLYAXON_IS_OFFLINE", "perhaps")
    with pytest.raises(ConfigError, match="POLYAXON_IS_OFFLINE"):
        resolve(project="p")


def test_environment_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_HOST", "http://127.0.0.1:9/")
    monkeypatch.setenv("POLYAXON_AUTH_TOKEN", "env-token")
    ctx = resolve(project="org/p")
    assert ctx.config is not None
    assert (ctx.config.host, ctx.config.token, ctx.owner, ctx.project) == (
        "http://127.0.0.1:9",
        "env-token",
        "org",
        "p",
    )
    assert ctx.sources["host"] == "environment (POLYAXON_HOST)"
    assert ctx.run_uuid is None and not ctx.is_managed


def test_cli_files(cli_login: None) -> None:
    ctx = resolve(project="p")
    assert ctx.config is not None
    assert (ctx.config.host, ctx.config.token, ctx.config.verify_ssl) == ("http://127.0.0.1:9", "file-token", False)
    assert ctx.owner == "acme"  # the user's organization
    assert ctx.sources["owner"].startswith("CLI config")


def test_environment_overrides_cli_files(cli_login: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_HOST", "http://127.0.0.2:9")
    monkeypatch.setenv("POLYAXON_AUTH_TOKEN", "env-token")
    ctx = resolve(project="p")
    assert ctx.config is not None
    assert (ctx.config.host, ctx.config.token) == ("http://127.0.0.2:9", "env-token")


def test_no_config_ignores_files(cli_login: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_NO_CONFIG", "true")
    with pytest.raises(NoContextError):
        resolve(project="p")


def test_polyaxon_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "elsewhere" / ".polyaxon" / ".client", {"POLYAXON_HOST": "http://127.0.0.3:9"})
    monkeypatch.setenv("POLYAXON_HOME", str(tmp_path / "elsewhere"))
    ctx = resolve(project="p")
    assert ctx.config is not None and ctx.config.host == "http://127.0.0.3:9"


def test_world_readable_token_file_warns(cli_login: None, home: Path) -> None:
    os.chmod(home / ".auth", 0o644)
    with pytest.warns(UserWarning, match="chmod 600"):
        resolve(project="p")


def test_client_argument_wins(cli_login: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_HOST", "http://127.0.0.2:9")
    client = PolyaxonClient(token="arg-token", config=ClientConfig(host="127.0.0.4:9", use_https=None, verify_ssl=None))
    ctx = resolve(project="p", client=client)
    assert ctx.client is client
    assert ctx.config is not None
    assert (ctx.config.host, ctx.config.token, ctx.config.verify_ssl) == ("http://127.0.0.4:9", "arg-token", True)


def test_run_client_argument_supplies_the_entity(cli_login: None) -> None:
    client = PolyaxonClient(config=ClientConfig(host="http://127.0.0.4:9"))
    ctx = resolve(client=RunClient(owner="o", project="q", run_uuid=UUID_A, client=client))
    assert (ctx.owner, ctx.project, ctx.run_uuid, ctx.sources["run"]) == ("o", "q", UUID_A, "client argument")
    # Explicit arguments still win over the client's entity.
    ctx = resolve(project="other", client=RunClient(client=client))
    assert (ctx.owner, ctx.project, ctx.run_uuid) == ("acme", "other", None)


def test_wrong_client_type() -> None:
    with pytest.raises(ConfigError, match="PolyaxonClient or RunClient"):
        resolve(project="p", client="http://127.0.0.1:9")  # type: ignore[arg-type]


@pytest.fixture
def in_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "plx-context"
    write(root / ".configs" / ".auth", {"POLYAXON_AUTH_TOKEN": "scoped-token"})
    monkeypatch.setenv("POLYAXON_IS_MANAGED", "true")
    monkeypatch.setenv("POLYAXON_RUN_INSTANCE", f"org1.proj1.runs.{UUID_A}")
    monkeypatch.setenv("POLYAXON_CONTEXT_ROOT", str(root))
    monkeypatch.setenv("POLYAXON_HOST", "http://127.0.0.5:9")
    monkeypatch.setenv("POLYAXON_AUTH_TOKEN", "env-token")
    return root


def test_in_cluster_attaches_to_the_scheduled_run(in_cluster: Path, cli_login: None, home: Path) -> None:
    write(Path.cwd() / ".polyaxon" / ".run", {"uuid": UUID_B, "owner": "acme", "project": "cached"})
    ctx = resolve()
    assert (ctx.owner, ctx.project, ctx.run_uuid, ctx.is_managed) == ("org1", "proj1", UUID_A, True)
    assert ctx.config is not None and ctx.config.token == "scoped-token"  # the scoped token wins
    assert ctx.cluster is not None and ctx.cluster.artifacts_path == in_cluster / "artifacts" / UUID_A


def test_in_cluster_with_another_project_creates_an_unmanaged_run(in_cluster: Path) -> None:
    ctx = resolve(project="elsewhere")
    assert (ctx.owner, ctx.project, ctx.run_uuid, ctx.is_managed) == ("org1", "elsewhere", None, False)


def test_bad_run_instance(in_cluster: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_RUN_INSTANCE", "org1.proj1.nope")
    with pytest.raises(ConfigError, match=r"owner\.project\.runs"):
        resolve()


def test_run_instance_without_managed_flag_is_not_in_cluster(in_cluster: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLYAXON_IS_MANAGED")
    with pytest.raises(NoContextError):
        resolve()


def test_cached_run_is_resumed_unless_is_new(cli_login: None) -> None:
    write(Path.cwd() / ".polyaxon" / ".run", {"uuid": UUID_B, "name": "r", "owner": "acme", "project": "p1"})
    ctx = resolve()
    assert (ctx.owner, ctx.project, ctx.run_uuid, ctx.sources["run"]) == ("acme", "p1", UUID_B, "cached .run")
    ctx = resolve(is_new=True)
    assert (ctx.project, ctx.run_uuid) == ("p1", None)


def test_cached_run_is_not_resumed_in_another_project(cli_login: None) -> None:
    write(Path.cwd() / ".polyaxon" / ".run", {"uuid": UUID_B, "owner": "acme", "project": "p1"})
    assert resolve(project="p2").run_uuid is None
    assert resolve(project="p1").run_uuid == UUID_B


def test_cached_project_and_global_fallback(cli_login: None, home: Path) -> None:
    write(home / ".project", {"owner": "acme", "name": "global-p"})
    assert resolve().project == "global-p"
    write(Path.cwd() / ".polyaxon" / ".project", {"owner": "acme", "name": "local-p"})
    assert resolve().project == "local-p"


def test_cached_project_owner_used_without_organization(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_HOST", "http://127.0.0.1:9")
    write(Path.cwd() / ".polyaxon" / ".project", {"owner": "team", "name": "p"})
    assert (resolve().owner, resolve(project="p").owner, resolve(project="q").owner) == ("team", "team", "default")


def test_project_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("POLYAXON_PROJECT", "team/envp")
    ctx = resolve()
    assert (ctx.owner, ctx.project) == ("team", "envp")
    assert resolve(project="argp").project == "argp"


def test_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_HOST", "http://127.0.0.1:9")
    assert (resolve(project="p").owner, resolve(project="p").project) == ("default", "p")
    assert (resolve(project="org/p").owner, resolve(owner="org", project="p").owner) == ("org", "org")
    ctx = resolve(project="p", run_uuid=UUID_A.upper())
    assert ctx.run_uuid == UUID_A and ctx.sources["run"] == "argument"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"project": "my project"}, "'my project'"),
        ({"project": "a/b/c"}, "'a/b/c'"),
        ({"owner": "bad owner", "project": "p"}, "'bad owner'"),
        ({"project": "p", "run_uuid": "xyz"}, "'xyz'"),
        ({"owner": "a", "project": "b/p"}, "Conflicting owners"),
    ],
)
def test_invalid_values_are_named(kwargs: dict[str, str], needle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_HOST", "http://127.0.0.1:9")
    with pytest.raises(InvalidNameError) as info:
        resolve(**kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value)
    assert isinstance(info.value, ValueError)


def test_token_never_in_repr() -> None:
    config = ClientConfig(host="http://127.0.0.1:9", token="s3cret-token")
    client = PolyaxonClient(config)
    for text in (repr(config), str(config), repr(client)):
        assert "s3cret-token" not in text
