import { test } from "node:test";
import assert from "node:assert/strict";
import { withDatabase, statusOf } from "../helpers.mjs";

test("users and permissions", async (t) => {
  const db = await withDatabase(t);
  const { container } = await db.containers.create({ id: "c", partitionKey: { paths: ["/pk"], version: 2 } });
  const { user } = await db.users.create({ id: "bob" });
  const { resource: permission } = await user.permissions.create({
    id: "p",
    permissionMode: "Read",
    resource: container.url,
  });
  assert.ok(permission._token.startsWith("type=resource"));
  const { resources } = await user.permissions.readAll().fetchAll();
  assert.deepEqual(resources.map((p) => p.id), ["p"]);
  assert.equal(await statusOf(db.users.create({ id: "bob" })), 409);
  await user.delete();
  assert.equal(await statusOf(user.read()), 404);
});
