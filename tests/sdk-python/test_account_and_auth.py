"""The database account, master-key auth and protocol-level behaviour."""
from email.utils import formatdate
import time

import pytest
from azure.cosmos import CosmosClient, exceptions

from conftest import ENDPOINT

WRONG_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="


def test_account_describes_one_writable_region_at_the_endpoint_used(client, rest):
    account = client.get_database_account()
    assert account.WritableLocations and account.ReadableLocations
    used = client.client_connection.url_connection
    assert account.WritableLocations[0]["databaseAccountEndpoint"].rstrip("/") == used.rstrip("/")
    assert account.WritableLocations[0]["name"]
    assert account.ConsistencyPolicy["defaultConsistencyLevel"] == "Session"
    assert account._EnableMultipleWritableLocations is False
    body = rest.request("GET", "/", "", "").json()
    for key in ("id", "_rid", "_self", "queryEngineConfiguration", "userConsistencyPolicy"):
        assert key in body
    assert isinstance(body["queryEngineConfiguration"], str)


def test_common_response_headers(rest):
    r = rest.request("GET", "/dbs", "dbs", "", headers={"x-ms-activity-id": "9d2e7a4e-0000-4000-8000-000000000001"})
    assert r.status_code == 200
    assert r.headers["x-ms-activity-id"] == "9d2e7a4e-0000-4000-8000-000000000001"
    assert float(r.headers["x-ms-request-charge"]) > 0
    assert r.headers["x-ms-schemaversion"]
    assert r.headers["content-type"].startswith("application/json")
    assert "_count" in r.json() and "Databases" in r.json()


def test_wrong_key_is_401_with_the_signed_payload(rest):
    r = rest.request("GET", "/dbs", "dbs", "", key=WRONG_KEY)
    assert r.status_code == 401
    body = r.json()
    assert body["code"] == "Unauthorized"
    assert "get\\ndbs\\n" in body["message"]


def test_sdk_with_wrong_key_gets_401():
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        bad = CosmosClient(ENDPOINT, WRONG_KEY, connection_verify=False)
        list(bad.list_databases())
    assert err.value.status_code == 401


def test_date_outside_fifteen_minutes_is_refused(rest):
    stale = formatdate(time.time() - 20 * 60, usegmt=True)
    r = rest.request("GET", "/dbs", "dbs", "", date=stale)
    assert r.status_code == 401
    assert "not valid at the current time" in r.json()["message"]
    future = formatdate(time.time() + 20 * 60, usegmt=True)
    assert rest.request("GET", "/dbs", "dbs", "", date=future).status_code == 401


def test_missing_or_garbage_authorization_is_401(rest):
    r = rest.session.get(rest.endpoint + "/dbs", headers={"x-ms-date": formatdate(usegmt=True)}, verify=False)
    assert r.status_code == 401
    r = rest.session.get(rest.endpoint + "/dbs", headers={"authorization": "nonsense", "x-ms-date": formatdate(usegmt=True)}, verify=False)
    assert r.status_code == 401


def test_signature_covers_the_resource(rest):
    # A signature for one resource does not open another.
    date = formatdate(usegmt=True)
    from rest import sign
    auth = sign(rest.key, "GET", "dbs", "dbs/a", date)
    r = rest.session.get(rest.endpoint + "/dbs/b", headers={"authorization": auth, "x-ms-date": date}, verify=False)
    assert r.status_code == 401


def test_unknown_paths_are_404_and_bad_methods_405(rest):
    r = rest.request("GET", "/nothing/here", "", "")
    assert r.status_code in (401, 404)
    r = rest.request("PUT", "/dbs", "dbs", "", body={})
    assert r.status_code == 405
    assert r.json()["code"] == "MethodNotAllowed"
