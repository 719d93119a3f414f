"""Google's own Python client against workspace-emulator.

The real google-api-python-client (discovery-based) and google-auth, pointed at the emulator
with a service-account key fetched by `workspace-emulator keygen` and domain-wide delegation
(`with_subject`), create an org unit, a user, a license assignment, a custom role from the
privilege tree and a role assignment, then list them back. If these pass, a client that works
against Google works against the emulator.

The emulator binary comes from $WORKSPACE_EMULATOR_BIN (default: target/debug/workspace-emulator
at the repository root); it is started on a free port with the demo seed.
"""

import json
import os
import pathlib
import subprocess
import urllib.request

import google.auth.exceptions
import pytest
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("WORKSPACE_EMULATOR_BIN", str(REPO / "target" / "debug" / "workspace-emulator"))
SERVICE_ACCOUNT = "support-access@demo-project.iam.gserviceaccount.com"
ADMIN = "admin@reseller-two.example"  # automatic licensing is off in reseller-two
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
    """Runs `workspace-emulator serve --demo` on a free port; yields its base URL."""
    process = subprocess.Popen(
        [BIN, "serve", "--listen", "127.0.0.1:0", "--demo"],
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
def key_file(emulator, tmp_path_factory):
    """A service-account key file written by `workspace-emulator keygen`."""
    path = tmp_path_factory.mktemp("keys") / "support-access.json"
    subprocess.run(
        [BIN, "keygen", "--emulator", emulator, "--client-email", SERVICE_ACCOUNT, "--out", str(path)],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    key = json.loads(path.read_text())
    assert key["type"] == "service_account"
    assert key["token_uri"] == emulator + "token"
    return str(path)


def credentials(key_file, subject=ADMIN, scopes=SCOPES):
    return service_account.Credentials.from_service_account_file(key_file, scopes=scopes).with_subject(subject)


def service(emulator, creds, api, version):
    """A discovery-based client built from the emulator's discovery document."""
    return build(
        api,
        version,
        credentials=creds,
        discoveryServiceUrl=emulator + "discovery/v1/apis/{api}/{apiVersion}/rest",
        static_discovery=False,
        cache_discovery=False,
    )


def control(emulator, path):
    with urllib.request.urlopen(emulator + "emulator/v1/" + path) as response:
        return json.loads(response.read())


def error_reason(error: HttpError) -> str:
    return json.loads(error.content)["error"]["errors"][0]["reason"]


def flatten(privileges):
    for privilege in privileges:
        yield privilege
        yield from flatten(privilege.get("childPrivileges", []))


def test_provision_with_googles_client_and_list_it_back(emulator, key_file):
    creds = credentials(key_file)
    directory = service(emulator, creds, "admin", "directory_v1")
    licensing = service(emulator, creds, "licensing", "v1")

    customer = directory.customers().get(customerKey="my_customer").execute()
    assert customer["id"].startswith("C")
    assert customer["customerDomain"] == "reseller-two.example"

    org_unit = directory.orgunits().insert(
        customerId="my_customer",
        body={"name": "Customer Care Portal", "parentOrgUnitPath": "/", "description": "Support staff"},
    ).execute()
    assert org_unit["orgUnitPath"] == "/Customer Care Portal"
    assert org_unit["orgUnitId"].startswith("id:")
    # {+orgUnitPath}: the client keeps slashes and encodes the spaces.
    fetched = directory.orgunits().get(customerId="my_customer", orgUnitPath="Customer Care Portal").execute()
    assert fetched["orgUnitId"] == org_unit["orgUnitId"]

    user = directory.users().insert(
        body={
            "primaryEmail": "jane.doe@reseller-two.example",
            "name": {"givenName": "Jane", "familyName": "Doe"},
            "password": "a-long-enough-password",
            "changePasswordAtNextLogin": True,
            "orgUnitPath": "/Customer Care Portal",
        }
    ).execute()
    assert len(user["id"]) == 21 and user["id"].isdigit()
    assert "password" not in user

    license_assignment = licensing.licenseAssignments().insert(
        productId="Google-Apps", skuId="1010020028", body={"userId": "jane.doe@reseller-two.example"}
    ).execute()
    assert license_assignment["kind"] == "licensing#licenseAssignment"
    assert license_assignment["skuName"] == "Google Workspace Business Standard"

    tree = directory.privileges().list(customer="my_customer").execute()["items"]
    wanted = {"RESELLER_VIEW_CUSTOMERS", "RESELLER_ACCESS_CUSTOMER_SUPPORT_CASES"}
    picked = [p for p in flatten(tree) if p["privilegeName"] in wanted]
    assert {p["privilegeName"] for p in picked} == wanted
    role = directory.roles().insert(
        customer="my_customer",
        body={
            "roleName": "Customer Care Portal Access",
            "roleDescription": "View customers and access their support cases",
            "rolePrivileges": [{"privilegeName": p["privilegeName"], "serviceId": p["serviceId"]} for p in picked],
        },
    ).execute()
    assert int(role["roleId"]) > 0
    assert "isSystemRole" not in role

    assignment = directory.roleAssignments().insert(
        customer="my_customer",
        body={"roleId": role["roleId"], "assignedTo": user["id"], "scopeType": "CUSTOMER"},
    ).execute()
    assert assignment["assigneeType"] == "user"

    # List everything back.
    units = directory.orgunits().list(customerId="my_customer", type="all").execute()["organizationUnits"]
    assert "/Customer Care Portal" in [u["orgUnitPath"] for u in units]
    listed = directory.users().list(customer="my_customer", query="orgUnitPath='/Customer Care Portal'").execute()
    assert [u["primaryEmail"] for u in listed["users"]] == ["jane.doe@reseller-two.example"]
    licenses = licensing.licenseAssignments().listForProductAndSku(
        productId="Google-Apps", skuId="1010020028", customerId=customer["id"]
    ).execute()["items"]
    assert "jane.doe@reseller-two.example" in [l["userId"] for l in licenses]
    free = licensing.licenseAssignments().get(
        productId="101001", skuId="1010010001", userId="jane.doe@reseller-two.example"
    ).execute()
    assert free["skuName"] == "Cloud Identity Free"
    roles = directory.roles().list(customer="my_customer").execute()["items"]
    assert "Customer Care Portal Access" in [r["roleName"] for r in roles]
    held = directory.roleAssignments().list(customer="my_customer", userKey="jane.doe@reseller-two.example").execute()
    assert [a["roleId"] for a in held["items"]] == [role["roleId"]]

    # The emulator's ledger saw exactly one effect of each write.
    counters = control(emulator, "counters")
    assert counters["effects_by_key"]["roleAssignment created Customer Care Portal Access/jane.doe@reseller-two.example"] == 1
    assert counters["effects_by_key"]["user created jane.doe@reseller-two.example"] == 1


def test_paging_with_list_next(emulator, key_file):
    directory = service(emulator, credentials(key_file), "admin", "directory_v1")
    request = directory.roles().list(customer="my_customer", maxResults=2)
    names = []
    pages = 0
    while request is not None:
        response = request.execute()
        pages += 1
        names.extend(r["roleName"] for r in response.get("items", []))
        request = directory.roles().list_next(request, response)
    assert pages > 1
    assert "_SEED_ADMIN_ROLE" in names and "_RESELLER_ADMIN_ROLE" in names
    assert len(names) == len(set(names))


def test_google_errors_reach_the_client_as_http_errors(emulator, key_file):
    directory = service(emulator, credentials(key_file), "admin", "directory_v1")
    with pytest.raises(HttpError) as duplicate:
        directory.users().insert(
            body={
                "primaryEmail": "sales@reseller-two.example",
                "name": {"givenName": "Sam", "familyName": "Sales"},
                "password": "a-long-enough-password",
            }
        ).execute()
    assert duplicate.value.resp.status == 409
    assert error_reason(duplicate.value) == "duplicate"
    with pytest.raises(HttpError) as missing:
        directory.users().get(userKey="nobody@reseller-two.example").execute()
    assert missing.value.resp.status == 404
    with pytest.raises(HttpError) as out_of_range:
        directory.users().list(customer="my_customer", maxResults=501).execute()
    assert out_of_range.value.resp.status == 400


def test_token_errors_reach_google_auth(emulator, key_file):
    directory = service(emulator, credentials(key_file, subject="ghost@reseller-two.example"), "admin", "directory_v1")
    with pytest.raises(google.auth.exceptions.RefreshError) as refused:
        directory.customers().get(customerKey="my_customer").execute()
    assert "invalid_grant" in str(refused.value)


def test_reseller_api_lists_the_resold_customers(emulator, key_file):
    reseller = service(emulator, credentials(key_file), "reseller", "v1")
    subscriptions = reseller.subscriptions().list().execute()["subscriptions"]
    assert {s["customerDomain"] for s in subscriptions} == {"initech.example"}
    customer = reseller.customers().get(customerId="initech.example").execute()
    assert customer["customerId"] == subscriptions[0]["customerId"]


def test_batch_requests(emulator, key_file):
    directory = service(emulator, credentials(key_file), "admin", "directory_v1")
    results = {}

    def collect(request_id, response, exception):
        results[request_id] = (response, exception)

    batch = directory.new_batch_http_request(callback=collect)
    batch.add(directory.users().get(userKey="sales@reseller-two.example"), request_id="sales")
    batch.add(directory.users().get(userKey="ghost@reseller-two.example"), request_id="ghost")
    batch.add(directory.users().get(userKey=ADMIN, fields="primaryEmail"), request_id="partial")
    batch.add(
        directory.users().insert(
            body={
                "primaryEmail": "batched@reseller-two.example",
                "name": {"givenName": "Bat", "familyName": "Ched"},
                "password": "a-long-enough-password",
            }
        ),
        request_id="insert",
    )
    batch.execute()
    assert results["sales"][0]["primaryEmail"] == "sales@reseller-two.example"
    assert isinstance(results["ghost"][1], HttpError) and results["ghost"][1].resp.status == 404
    assert results["partial"][0] == {"primaryEmail": ADMIN}
    assert results["insert"][0]["primaryEmail"] == "batched@reseller-two.example"
    # Each inner call is its own ledger entry.
    ledger = control(emulator, "ledger")
    assert any(e["method"] == "directory.users.insert" and e["natural_key"] == "batched@reseller-two.example" for e in ledger)


def test_the_clients_own_discovery_documents_with_an_endpoint_override(emulator, key_file):
    """The way most programs point a Google client elsewhere: the discovery documents bundled
    with the client (Google's real URLs) and `api_endpoint` replacing the root."""
    options = {"api_endpoint": emulator}
    creds = credentials(key_file)
    directory = build("admin", "directory_v1", credentials=creds, client_options=options, static_discovery=True)
    licensing = build("licensing", "v1", credentials=creds, client_options=options, static_discovery=True)
    reseller = build("reseller", "v1", credentials=creds, client_options=options, static_discovery=True)

    admin = directory.users().get(userKey=ADMIN).execute()
    assert admin["isAdmin"] is True
    licenses = licensing.licenseAssignments().listForProduct(
        productId="Google-Apps", customerId=admin["customerId"]
    ).execute()
    assert ADMIN in {item["userId"] for item in licenses["items"]}
    subscriptions = reseller.subscriptions().list(maxResults=5).execute()
    assert subscriptions["subscriptions"][0]["customerDomain"] == "initech.example"


def test_partial_responses_with_fields(emulator, key_file):
    directory = service(emulator, credentials(key_file), "admin", "directory_v1")
    page = directory.users().list(
        customer="my_customer", maxResults=1, fields="nextPageToken,users(primaryEmail,name/givenName)"
    ).execute()
    assert set(page) == {"nextPageToken", "users"}
    assert [set(user) for user in page["users"]] == [{"primaryEmail", "name"}]
    assert set(page["users"][0]["name"]) == {"givenName"}

    admin = directory.users().get(userKey=ADMIN, fields="isAdmin").execute()
    assert admin == {"isAdmin": True}

    with pytest.raises(HttpError) as refused:
        directory.users().get(userKey=ADMIN, fields="name(givenName").execute()
    assert refused.value.resp.status == 400
    assert error_reason(refused.value) == "invalidParameter"


def test_secondary_domains_and_aliases(emulator, key_file):
    """reseller-one is a multi-domain account: users live in verified domains only."""
    scopes = [
        "https://www.googleapis.com/auth/admin.directory.domain",
        "https://www.googleapis.com/auth/admin.directory.user",
    ]
    creds = credentials(key_file, subject="admin@reseller-one.example", scopes=scopes)
    directory = service(emulator, creds, "admin", "directory_v1")

    domains = directory.domains().list(customer="my_customer").execute()["domains"]
    assert [(d["domainName"], d["isPrimary"], d["verified"]) for d in domains] == [
        ("reseller-one.example", True, True),
        ("reseller-one-eu.example", False, True),
        ("reseller-one-apac.example", False, True),
        ("reseller-one-new.example", False, False),
    ]
    eu = directory.domains().get(customer="my_customer", domainName="reseller-one-eu.example").execute()
    assert eu["kind"] == "admin#directory#domain" and eu["verified"] is True
    aliases = directory.domainAliases().list(customer="my_customer").execute()["domainAliases"]
    assert [(a["domainAliasName"], a["parentDomainName"]) for a in aliases] == [
        ("reseller-one-mail.example", "reseller-one.example")
    ]
    alias = directory.domainAliases().get(customer="my_customer", domainAliasName="reseller-one-mail.example").execute()
    assert alias["kind"] == "admin#directory#domainAlias"

    def insert(email):
        body = {"primaryEmail": email, "name": {"givenName": "Ana", "familyName": "Silva"}, "password": "a-long-enough-password"}
        return directory.users().insert(body=body).execute()

    assert insert("ana@reseller-one-apac.example")["primaryEmail"] == "ana@reseller-one-apac.example"
    for refused in ("ana@reseller-one-new.example", "ana@reseller-one-mail.example"):
        with pytest.raises(HttpError) as error:
            insert(refused)
        assert error.value.resp.status == 400 and error_reason(error.value) == "invalid", refused
    with pytest.raises(HttpError) as foreign:
        insert("ana@reseller-two.example")
    assert foreign.value.resp.status == 403

    added = directory.domains().insert(customer="my_customer", body={"domainName": "reseller-one-latam.example"}).execute()
    assert added["verified"] is False and added["isPrimary"] is False
    directory.domains().delete(customer="my_customer", domainName="reseller-one-latam.example").execute()
    with pytest.raises(HttpError) as gone:
        directory.domains().get(customer="my_customer", domainName="reseller-one-latam.example").execute()
    assert gone.value.resp.status == 404
    directory.users().delete(userKey="ana@reseller-one-apac.example").execute()
