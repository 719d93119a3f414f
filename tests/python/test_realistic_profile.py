"""Google's own Python client against the emulator's realistic profile.

Right after `users.insert`, Licensing and role assignment cannot see the new user yet and answer
Google's transient errors; Google's client must parse each as an `HttpError` with Google's
status, reason and message, and the same calls must succeed once the user's drawn propagation
delay has passed. The emulator runs with `--profile realistic --time-scale 50 --rng-seed 7`, so
the delays are short (licensing median 160 ms, cap 6 s) and the run repeats.
"""

import json
import os
import pathlib
import subprocess
import time

import pytest
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("WORKSPACE_EMULATOR_BIN", str(REPO / "target" / "debug" / "workspace-emulator"))
SERVICE_ACCOUNT = "support-access@demo-project.iam.gserviceaccount.com"
ADMIN = "admin@reseller-two.example"  # automatic licensing is off in reseller-two
SCOPES = [
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.rolemanagement",
    "https://www.googleapis.com/auth/apps.licensing",
]
LICENSE_ANSWERS = {
    (412, "conditionNotMet", "User creation is not complete."),
    (400, "invalid", "Invalid Input: userId"),
    (403, "forbidden", "Not Authorized to access this resource/api"),
}
ROLE_ANSWERS = {
    (412, "conditionNotMet", "User creation is not complete."),
    (400, "invalid", "Invalid Input: resource_id"),
    (403, "forbidden", "Not Authorized to access this resource/api"),
}


@pytest.fixture(scope="module")
def emulator():
    """`workspace-emulator serve --demo --profile realistic …` on a free port; its base URL."""
    process = subprocess.Popen(
        [BIN, "serve", "--listen", "127.0.0.1:0", "--demo",
         "--profile", "realistic", "--time-scale", "50", "--rng-seed", "7"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()
        prefix = "workspace-emulator listening on "
        assert line.startswith(prefix), f"unexpected first line {line!r}"
        yield line[len(prefix):]
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def clients(emulator, tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "support-access.json"
    subprocess.run(
        [BIN, "keygen", "--emulator", emulator, "--client-email", SERVICE_ACCOUNT, "--out", str(path)],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    creds = service_account.Credentials.from_service_account_file(str(path), scopes=SCOPES).with_subject(ADMIN)

    def service(api, version):
        return build(api, version, credentials=creds, static_discovery=False, cache_discovery=False,
                     discoveryServiceUrl=emulator + "discovery/v1/apis/{api}/{apiVersion}/rest")

    return service("admin", "directory_v1"), service("licensing", "v1")


def answer(error):
    """(status, reason, message) of an HttpError, as Google's client parsed them."""
    body = json.loads(error.content)
    assert body["error"]["errors"][0]["message"] == body["error"]["message"]
    return error.resp.status, error.error_details[0]["reason"], error.reason


def until_ok(call, allowed, limit=10.0):
    """Runs `call` every 20 ms until it succeeds; returns the transient answers seen before."""
    seen = []
    started = time.monotonic()
    while True:
        try:
            call()
            return seen
        except HttpError as error:
            got = answer(error)
            assert got in allowed, f"unexpected answer while propagating: {got}"
            seen.append(got)
        assert time.monotonic() - started < limit, "never propagated"
        time.sleep(0.02)


def test_new_users_meet_googles_transient_errors_then_succeed(clients):
    directory, licensing = clients
    role_id = next(r["roleId"] for r in directory.roles().list(customer="my_customer").execute()["items"]
                   if r["roleName"] == "_RESELLER_ADMIN_ROLE")
    transient = []
    for n in range(4):
        email = f"propagating{n}@reseller-two.example"
        user = directory.users().insert(body={
            "primaryEmail": email,
            "name": {"givenName": "Pro", "familyName": f"Pagating {n}"},
            "password": "correct horse battery",
        }).execute()
        # Before Licensing sees the user, it has no license for it: Google's 404.
        with pytest.raises(HttpError) as missing:
            licensing.licenseAssignments().get(productId="Google-Apps", skuId="1010020028", userId=email).execute()
        assert answer(missing.value) == (404, "notFound", "User does not have a license for specified sku and product")
        transient += until_ok(
            lambda: licensing.licenseAssignments().insert(
                productId="Google-Apps", skuId="1010020028", body={"userId": email}).execute(),
            LICENSE_ANSWERS)
        transient += until_ok(
            lambda: directory.roleAssignments().insert(
                customer="my_customer",
                body={"roleId": role_id, "assignedTo": user["id"], "scopeType": "CUSTOMER"}).execute(),
            ROLE_ANSWERS)
        assigned = licensing.licenseAssignments().get(productId="Google-Apps", skuId="1010020028", userId=email).execute()
        assert assigned["userId"] == email
    assert transient, "the realistic profile produced no transient error"


def test_licensing_has_no_batch_endpoint(emulator, clients):
    _, licensing = clients
    batch = BatchHttpRequest(batch_uri=emulator + "batch/licensing/v1")
    batch.add(licensing.licenseAssignments().get(productId="Google-Apps", skuId="1010020028", userId=ADMIN))
    with pytest.raises(HttpError) as refused:
        batch.execute()
    assert refused.value.resp.status == 404
