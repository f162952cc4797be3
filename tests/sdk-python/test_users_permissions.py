"""Users and permissions through the Python SDK: the resources resource tokens come from."""
import pytest
from azure.cosmos import PartitionKey, exceptions

from conftest import unique


def test_users_and_permissions(database):
    container = database.create_container(unique("perm"), PartitionKey(path="/pk"))
    user = database.create_user({"id": "alice"})
    assert user.read()["_permissions"] == "permissions/"
    with pytest.raises(exceptions.CosmosResourceExistsError):
        database.create_user({"id": "alice"})
    read_only = user.create_permission(
        {"id": "read", "permissionMode": "Read", "resource": container.container_link}
    )
    assert read_only.properties["_token"].startswith("type=resource")
    assert read_only.properties["permissionMode"] == "Read"
    scoped = user.create_permission({
        "id": "one-key", "permissionMode": "All", "resource": container.container_link,
        "resourcePartitionKey": ["p1"],
    })
    assert scoped.properties["resourcePartitionKey"] == ["p1"]
    assert sorted(p["id"] for p in user.list_permissions()) == ["one-key", "read"]
    replaced = user.replace_permission(
        "read", {"id": "read", "permissionMode": "All", "resource": container.container_link}
    )
    assert replaced.properties["permissionMode"] == "All"
    with pytest.raises(exceptions.CosmosHttpResponseError) as err:
        user.create_permission({"id": "bad", "permissionMode": "Write", "resource": container.container_link})
    assert err.value.status_code == 400
    user.delete_permission("one-key")
    assert [p["id"] for p in user.list_permissions()] == ["read"]
    assert [u["id"] for u in database.list_users()] == ["alice"]
    database.delete_user("alice")
    assert list(database.list_users()) == []
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        database.get_user_client("alice").read()
