"""Big and many: a file of hundreds of MiB goes up streamed (memory stays flat, online and through
``sync``) and arrives byte-identical; thousands of metric names reach the server's lineage in batches."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from polyaxon_integrations import tracking
from polyaxon_integrations.core.client import PolyaxonClient
from tests.conftest import ROOT

pytestmark = pytest.mark.server

SIZE = 384 << 20  # enough to see a copy in memory (it would be +384 MB), small enough for CI's disk and time
LIMIT = 64 << 20  # what the tracking may add to the process's peak RSS for such a file


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def make_file(path: Path) -> Path:
    with open(path, "wb") as fh:
        block = os.urandom(1 << 20)  # incompressible, as checkpoints are
        for i in range(SIZE >> 20):
            fh.write(block[i % 7 :] + block[: i % 7])
    return path


PEAK = """
    import faulthandler, os, resource, sys
    faulthandler.dump_traceback_later(200, exit=True)  # a hang shows every thread's stack, not a bare timeout
    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    sys.argv = ["polyaxon-integrations", *sys.argv[1:]]
"""


def run_child(code: str, *args: str) -> tuple[int, int, str]:
    """(peak RSS before the work, peak RSS after it, stdout) of a child process running ``code``."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PEAK) + textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    lines = proc.stdout.strip().splitlines()
    before, after = (int(x) for x in lines[-1].split())
    return before, after, "\n".join(lines[:-1])


# The file, its copy in the offline run folder, and the server's temporary and stored copy of each upload.
DISK_NEEDED = 6 * SIZE


@pytest.mark.timeout(600)
def test_a_big_checkpoint_goes_up_streamed_online_and_through_sync(
    sandbox: object, host: str, api: PolyaxonClient, project: str, tmp_path: Path
) -> None:
    store = getattr(sandbox, "artifacts_store", None)
    if store is None or not Path(store).is_dir():
        pytest.skip("needs the sandbox's store folder")
    free = min(shutil.disk_usage(tmp_path).free, shutil.disk_usage(store).free)
    if free < DISK_NEEDED:  # the server would answer 500 to each upload and the run would wait for it
        pytest.skip(f"needs {DISK_NEEDED >> 20} MiB free on disk for the file and its copies, has {free >> 20} MiB")
    try:
        _big_checkpoint(Path(store), api, project, tmp_path)
    finally:  # a session's later tests should not pay for these GiBs of disk
        shutil.rmtree(tmp_path, ignore_errors=True)
        for run in api.list_runs("default", project):
            shutil.rmtree(Path(store) / run["uuid"], ignore_errors=True)


def _big_checkpoint(store: Path, api: PolyaxonClient, project: str, tmp_path: Path) -> None:
    big = make_file(tmp_path / "model.ckpt")
    want = sha256(big)

    before, after, out = run_child(
        f"""
        from polyaxon_integrations import tracking
        run = tracking.init(project={project!r})
        base = peak()
        run.log_artifact({str(big)!r}, name="ckpt", kind="model")
        assert run.end(timeout=150) is True, "the server does not have the checkpoint after 150 s"
        print(run.run_uuid)
        print(base, peak())
        """
    )
    assert after - before < LIMIT, f"online: peak RSS grew by {(after - before) >> 20} MB for a {SIZE >> 20} MB file"
    uuid = out.strip()
    assert sha256(store / uuid / "assets" / "model" / big.name) == want

    offline = tmp_path / "offline-big"
    before, after, out = run_child(
        f"""
        import os
        os.environ["POLYAXON_OFFLINE_ROOT"] = {str(offline)!r}
        from polyaxon_integrations import tracking
        run = tracking.init(project={project!r}, is_offline=True)
        run.log_artifact({str(big)!r}, name="ckpt", kind="model")
        run.end()
        print(run.run_uuid)
        from polyaxon_integrations.__main__ import main
        base = peak()
        assert main(["sync", "--root", {str(offline)!r}]) == 0
        print(base, peak())
        """
    )
    assert after - before < LIMIT, f"sync: peak RSS grew by {(after - before) >> 20} MB for a {SIZE >> 20} MB file"
    uuid = out.strip().splitlines()[0]
    assert sha256(store / uuid / "assets" / "model" / big.name) == want
    assert not list(Path("/tmp").glob("plx-sync-*")), "sync must not build a temporary copy of the run"


NAMES = 2_500  # one POST of ~1,000 lineage entries is refused; 10,000 were checked by hand (see the note)


def test_thousands_of_metric_names_reach_the_lineage(host: str, api: PolyaxonClient, project: str) -> None:
    run = tracking.init(project=project)
    assert run is not None
    run.log_metrics(step=0, **{f"m{i}": float(i) for i in range(NAMES)})
    assert run.end(timeout=120) is True
    entries = api.request(
        "GET",
        api.api(f"default/{project}/runs/{run.run_uuid}/lineage/artifacts"),
        params={"limit": 1},
    )
    assert entries["count"] == NAMES
    last = f"m{NAMES - 1}"
    assert api.get_metrics("default", project, run.run_uuid, [last])[last]["metric"] == [float(NAMES - 1)]


def test_an_interrupted_upload_is_retried_until_the_server_has_the_same_bytes(
    sandbox: object, host: str, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.faults import CuttingProxy

    store = getattr(sandbox, "artifacts_store", None)
    if store is None or not Path(store).is_dir():
        pytest.skip("needs the sandbox's store folder")
    big = tmp_path / "weights.bin"
    big.write_bytes(os.urandom(24 << 20))
    proxy = CuttingProxy(host, after=4 << 20, cuts=2)
    monkeypatch.setenv("POLYAXON_HOST", proxy.host)
    monkeypatch.setenv("POLYAXON_INTEGRATIONS_RERAISE", "false")
    try:
        run = tracking.init(project=project)
        assert run is not None
        run.log_artifact(big, name="weights", kind="model")
        with pytest.warns(UserWarning, match="did not answer"):
            assert run.end(timeout=120) is True
    finally:
        proxy.close()
    assert proxy.cut == 2  # the upload really was cut, twice
    assert sha256(Path(store) / run.run_uuid / "assets" / "model" / big.name) == sha256(big)


def _form(body: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """A multipart/form-data body as the server's parser sees it: field -> (file name, bytes)."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    return {
        str(part.get_param("name", header="content-disposition")): (part.get_filename(), part.get_payload(decode=True))
        for part in message.iter_parts()
    }


def test_an_upload_answered_405_is_sent_again_whole(tmp_path: Path) -> None:
    """urllib3 sends a request again on the sandbox's stray 405: the second body is the whole file again."""
    from polyaxon_integrations.core.config import ClientConfig
    from tests.faults import fault_server

    data = os.urandom((3 << 20) + 123)
    path = tmp_path / "w.bin"
    path.write_bytes(data + b"appended after the size was taken")
    seen: list[int] = []
    with fault_server(status=201) as server:
        server.first = [405]
        client = PolyaxonClient(ClientConfig(host=server.host))
        sent = client.upload_file("default", "p", "0" * 32, path, "assets/file/w.bin", len(data), seen.append)
    assert sent == len(data) and len(server.bodies) == 2
    assert server.bodies[0] == server.bodies[1]
    form = _form(server.bodies[1], server.requests[1][2]["Content-Type"])
    assert form["upload_file"] == ("w.bin", data)  # only the announced size, byte-identical
    assert form["json"][1] == b'{"untar": false, "path": "assets/file", "overwrite": true}'
    assert sum(seen) == 2 * len(data)  # progress counts each try's bytes


def test_file_names_with_spaces_and_accents_arrive_under_their_names(
    sandbox: object, host: str, project: str, tmp_path: Path
) -> None:
    store = getattr(sandbox, "artifacts_store", None)
    if store is None or not Path(store).is_dir():
        pytest.skip("needs the sandbox's store folder")
    run = tracking.init(project=project)
    assert run is not None
    name = "poids é (epoch 1).bin"
    path = tmp_path / name
    path.write_bytes(os.urandom(2 << 20))
    run.log_artifact(path, name="weights", kind="model")
    assert run.end() is True
    assert sha256(Path(store) / run.run_uuid / "assets" / "model" / name) == sha256(path)
