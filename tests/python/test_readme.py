"""The README's walk-through is a test: its grpcurl commands run exactly as written, in order,
against the service started by the README's first command (`serve --demo --insecure-dev-mode`,
here the already built binary), so the README cannot rot. A command may fail only where the
README says it is refused; everything else must succeed and show what the README promises."""

import os
import pathlib
import re
import shutil
import socket
import subprocess
import time
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# The README's sections whose ```sh blocks are the walk-through, in the order a reader runs them.
SECTIONS = ["A walk-through with grpcurl", "Status, accounts, portal access, credentials"]
# Where the README's commands expect the service (its default listen address).
SERVICE = ("127.0.0.1", 50051)
BASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def section_blocks(text, title):
    """The ```sh blocks of one `## title` section."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README has no section '## {title}'"
    blocks = re.findall(r"^```sh\n(.*?)^```", match.group(1), re.M | re.S)
    assert blocks, f"section '{title}' has no sh block"
    return blocks


def service_binary():
    path = pathlib.Path(
        os.environ.get("SUPPORT_ACCESS_BIN", ROOT / "target" / "debug" / "support-access")
    )
    if not path.exists():
        pytest.fail(f"{path} missing: run `cargo build --workspace --bins` first")
    return path


def port_open(address):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(address) == 0


@pytest.fixture
def demo_service(tmp_path):
    """The README's first command on a database of its own, dropped afterwards."""
    if port_open(SERVICE):
        pytest.fail(f"{SERVICE} is taken: the README's commands need the service there")
    database = f"readme_{uuid.uuid4().hex[:12]}"
    url = BASE_URL.rsplit("/", 1)[0] + "/" + database
    log = open(tmp_path / "service.log", "w")
    env = dict(os.environ, DATABASE_URL=url, SUPPORT_ACCESS_LOG_FORMAT="json")
    process = subprocess.Popen(
        [str(service_binary()), "serve", "--demo", "--insecure-dev-mode"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not port_open(SERVICE):
            assert process.poll() is None, (tmp_path / "service.log").read_text()
            assert time.monotonic() < deadline, "service did not listen within 60 s"
            time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        subprocess.run(
            ["psql", BASE_URL, "-qc", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"],
            capture_output=True,
        )


def test_readme_walkthrough_runs_as_written(demo_service):
    assert shutil.which("grpcurl"), "grpcurl not on PATH (tests/run.sh installs it)"
    text = README.read_text()
    script = "\n".join(block for title in SECTIONS for block in section_blocks(text, title))
    # Every failing command is reported with the command itself; the script goes on, as a
    # reader's terminal would.
    prelude = "set -o pipefail\ntrap 'echo \"::failed:: $BASH_COMMAND\" >&2' ERR\n"
    result = subprocess.run(
        ["bash", "-c", prelude + script], capture_output=True, text=True, timeout=300
    )
    out, err = result.stdout, result.stderr
    transcript = f"--- stdout\n{out}\n--- stderr\n{err}"

    failed = [line for line in err.splitlines() if line.startswith("::failed::")]
    # The one command the README says is refused: the consumer domain.
    assert len(failed) == 1 and "gmail.com" in failed[0], transcript
    assert "Code: InvalidArgument" in err and '"fieldViolations"' in err, transcript

    # What the README promises a reader sees.
    assert "supportaccess.v1.SupportAccessService" in out, transcript  # grpcurl list
    assert out.count('"domainName": "reseller-') >= 2, transcript  # both domains declared
    assert re.search(r"^operations/\S+$", out, re.M), transcript  # the operation's name
    # WaitOperation saw the real operation finish with every account done (the preview before
    # it is done too, but has no account results).
    assert out.count('"result": "ACCOUNT_RESULT_DONE"') + out.count('"result":"ACCOUNT_RESULT_DONE"') >= 4, transcript
    assert '"displayName": "Reseller One"' in out, transcript  # UpdateDomain applied
    assert "OPERATION_KIND_REVOKE" in out, transcript  # the revoke started
    assert '"ana.silva@reseller-' in out, transcript  # the accounts show Ana
    # The status is a summary: the accounts counted by state, not listed.
    assert '"accountCounts"' in out and '"CHECK_STATE_MANUAL_ACTION_REQUIRED"' in out, transcript
    # "Who is not OK" lists Ana's account in reseller-two, waiting for mail routing.
    assert '"email": "ana.silva@reseller-two.example"' in out, transcript
    assert '"customerDomain": "initech.example"' in out, transcript  # ResolveSupportAccount
    assert '"password":' in out, transcript  # the sign-in credential, shown once
