"""Google's Python client against workspace-emulator with the two ways admin tools authenticate
besides domain-wide delegation:

* an administrator's own OAuth consent: `google.oauth2.credentials.Credentials` from the
  authorized-user file `serve --write-keys` writes (refresh-token grant at the emulator's token
  endpoint, as an installed-app client does);
* a delegated admin service account: `service_account.Credentials` with
  `always_use_jwt_access=True`, so every call carries a self-signed JWT and no token endpoint is
  involved; the account holds the demo's "Support Access Automation" role in reseller-one.

Each runs the whole provisioning procedure (org unit, user, license, custom role from the
privilege tree, role assignment, reseller read) and lists it back.
"""

import json
import os
import pathlib
import subprocess
import urllib.request

import google.auth.exceptions
import pytest
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("WORKSPACE_EMULATOR_BIN", str(REPO / "target" / "debug" / "workspace-emulator"))
SERVICE_ACCOUNT = "support-access@demo-project.iam.gserviceaccount.com"
SCOPES = [
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.orgunit",
    "https://www.googleapis.com/auth/admin.directory.rolemanagement",
    "https://www.googleapis.com/auth/admin.directory.customer.readonly",
    "https://www.googleapis.com/auth/apps.licensing",
    "https://www.googleapis.com/auth/apps.order.readonly",
]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """`workspace-emulator serve --demo --write-keys DIR` on a free port; yields (base URL, DIR)."""
    keys = tmp_path_factory.mktemp("keys")
    process = subprocess.Popen(
        [BIN, "serve", "--listen", "127.0.0.1:0", "--demo", "--write-keys", str(keys)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()
        prefix = "workspace-emulator listening on "
        assert line.startswith(prefix), f"unexpected first line {line!r}"
        yield line[len(prefix):], keys
    finally:
        process.terminate()
        process.wait(timeout=10)


def service(base, creds, api, version):
    return build(
        api,
        version,
        credentials=creds,
        discoveryServiceUrl=base + "discovery/v1/apis/{api}/{apiVersion}/rest",
        static_discovery=False,
        cache_discovery=False,
    )


def flatten(privileges):
    for privilege in privileges:
        yield privilege
        yield from flatten(privilege.get("childPrivileges", []))


def run_the_procedure(base, creds, domain, tag):
    """Org unit, user, license, custom role, role assignment, reseller read; then list back."""
    directory = service(base, creds, "admin", "directory_v1")
    licensing = service(base, creds, "licensing", "v1")
    reseller = service(base, creds, "reseller", "v1")

    customer = directory.customers().get(customerKey="my_customer").execute()
    assert customer["customerDomain"] == domain
    unit_name = f"Portal {tag}"
    directory.orgunits().insert(
        customerId="my_customer", body={"name": unit_name, "parentOrgUnitPath": "/"}
    ).execute()
    email = f"staff.{tag}@{domain}"
    user = directory.users().insert(
        body={
            "primaryEmail": email,
            "name": {"givenName": "Staff", "familyName": tag},
            "password": "a-long-enough-password",
            "orgUnitPath": f"/{unit_name}",
        }
    ).execute()
    # reseller-one licenses new users by itself (automatic licensing); assign only where missing.
    try:
        licensing.licenseAssignments().get(productId="Google-Apps", skuId="1010020028", userId=email).execute()
    except HttpError as missing:
        assert missing.resp.status == 404
        licensing.licenseAssignments().insert(
            productId="Google-Apps", skuId="1010020028", body={"userId": email}
        ).execute()
    tree = directory.privileges().list(customer="my_customer").execute()["items"]
    picked = [p for p in flatten(tree) if p["privilegeName"] == "RESELLER_VIEW_CUSTOMERS"]
    role = directory.roles().insert(
        customer="my_customer",
        body={
            "roleName": f"Portal Access {tag}",
            "rolePrivileges": [{"privilegeName": p["privilegeName"], "serviceId": p["serviceId"]} for p in picked],
        },
    ).execute()
    directory.roleAssignments().insert(
        customer="my_customer",
        body={"roleId": role["roleId"], "assignedTo": user["id"], "scopeType": "CUSTOMER"},
    ).execute()
    subscriptions = reseller.subscriptions().list().execute()["subscriptions"]
    assert subscriptions

    listed = directory.users().list(customer="my_customer", query=f"orgUnitPath='/{unit_name}'").execute()
    assert [u["primaryEmail"] for u in listed["users"]] == [email]
    held = directory.roleAssignments().list(customer="my_customer", userKey=email).execute()
    assert [a["roleId"] for a in held["items"]] == [role["roleId"]]
    licenses = licensing.licenseAssignments().listForProductAndSku(
        productId="Google-Apps", skuId="1010020028", customerId=customer["id"]
    ).execute()["items"]
    assert email in [item["userId"] for item in licenses]
    return directory


def test_an_admins_refresh_token_runs_the_whole_procedure(emulator):
    base, keys = emulator
    path = keys / "authorized-user-admin@reseller-two.example.json"
    info = json.loads(path.read_text())
    assert info["type"] == "authorized_user" and info["token_uri"] == base + "token"
    # google-auth always puts Google's token endpoint into credentials read from a file; point it
    # back at the file's `token_uri` (the emulator).
    creds = user_credentials.Credentials.from_authorized_user_file(str(path), scopes=SCOPES)
    creds = creds.with_token_uri(info["token_uri"])
    run_the_procedure(base, creds, "reseller-two.example", "refresh")
    assert creds.valid and set(creds.granted_scopes) == set(SCOPES)


def test_a_delegated_admin_service_account_runs_the_whole_procedure_with_self_signed_jwts(emulator):
    base, keys = emulator
    creds = service_account.Credentials.from_service_account_file(
        str(keys / f"{SERVICE_ACCOUNT}.json"), scopes=SCOPES, always_use_jwt_access=True
    )
    before = control(base, "ledger")
    directory = run_the_procedure(base, creds, "reseller-one.example", "selfsigned")
    after = control(base, "ledger")
    # No token request: every call carried the self-signed JWT itself, as the service account.
    new_entries = after[len(before):]
    assert not [e for e in new_entries if e["method"] == "oauth2.token"]
    assert {e["subject"] for e in new_entries} == {SERVICE_ACCOUNT}
    # A super-admin-only call is refused: the account is a delegated admin, not a super admin.
    with pytest.raises(HttpError) as refused:
        directory.users().makeAdmin(userKey="sales@reseller-one.example", body={"status": True}).execute()
    assert refused.value.resp.status == 403


def test_a_revoked_refresh_token_reaches_google_auth_as_invalid_grant(emulator):
    base, keys = emulator
    info = json.loads((keys / "authorized-user-admin@reseller-one.example.json").read_text())
    request = urllib.request.Request(
        base + "revoke", data=f"token={info['refresh_token']}".encode(), method="POST"
    )
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    creds = user_credentials.Credentials.from_authorized_user_info(info, scopes=SCOPES).with_token_uri(
        info["token_uri"]
    )
    directory = service(base, creds, "admin", "directory_v1")
    with pytest.raises(google.auth.exceptions.RefreshError) as refused:
        directory.customers().get(customerKey="my_customer").execute()
    assert "invalid_grant" in str(refused.value)


def test_a_wrong_client_secret_reaches_google_auth_as_invalid_client(emulator):
    base, keys = emulator
    info = json.loads((keys / "authorized-user-admin@reseller-two.example.json").read_text())
    info["client_secret"] = "GOCSPX-wrong"
    creds = user_credentials.Credentials.from_authorized_user_info(info, scopes=SCOPES).with_token_uri(
        info["token_uri"]
    )
    directory = service(base, creds, "admin", "directory_v1")
    with pytest.raises(google.auth.exceptions.RefreshError) as refused:
        directory.customers().get(customerKey="my_customer").execute()
    assert "invalid_client" in str(refused.value)


def control(base, path):
    with urllib.request.urlopen(base + "emulator/v1/" + path) as response:
        return json.loads(response.read())
