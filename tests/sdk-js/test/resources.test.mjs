import { test } from "node:test";
import assert from "node:assert/strict";
import { client, endpoint, unique, withDatabase, statusOf } from "../helpers.mjs";

test("database account reports session consistency and one write region", async () => {
  const { resource } = await client().getDatabaseAccount();
  // The SDK drops the location lists of an account named "localhost", as it
  // does for the emulator; with any other host it follows them back here.
  for (const loc of resource.writableLocations) assert.equal(loc.databaseAccountEndpoint, endpoint);
  assert.equal(resource.consistencyPolicy, "Session");
  assert.equal(resource.enableMultipleWritableLocations, false);
});

test("database create, read, list, delete and conflicts", async () => {
  const c = client();
  const id = unique("js-db");
  const { resource, statusCode } = await c.databases.create({ id });
  assert.equal(statusCode, 201);
  for (const k of ["_rid", "_self", "_etag", "_ts"]) assert.ok(k in resource, k);
  assert.equal(await statusOf(c.databases.create({ id })), 409);
  const { resources } = await c.databases.readAll().fetchAll();
  assert.ok(resources.some((d) => d.id === id));
  await c.database(id).delete();
  assert.equal(await statusOf(c.database(id).read()), 404);
});

test("container lifecycle, replace and partition key definitions", async (t) => {
  const db = await withDatabase(t);
  const { container, resource } = await db.containers.create({
    id: "c",
    partitionKey: { paths: ["/pk"], version: 2 },
  });
  assert.deepEqual(resource.partitionKey.paths, ["/pk"]);
  for (const k of ["_rid", "_self", "_etag", "_docs", "indexingPolicy"]) assert.ok(k in resource, k);
  assert.equal(await statusOf(db.containers.create({ id: "c", partitionKey: { paths: ["/pk"] } })), 409);
  const replaced = await container.replace({
    id: "c",
    partitionKey: resource.partitionKey,
    indexingPolicy: { indexingMode: "consistent", includedPaths: [{ path: "/*" }], excludedPaths: [] },
    defaultTtl: 30,
  });
  assert.equal(replaced.resource.defaultTtl, 30);
  const { resources } = await db.containers.readAll().fetchAll();
  assert.deepEqual(resources.map((r) => r.id), ["c"]);
  await container.delete();
  assert.equal(await statusOf(container.read()), 404);
});

test("bad input is refused with 400", async (t) => {
  const db = await withDatabase(t);
  assert.equal(await statusOf(db.containers.create({ id: "x", partitionKey: { paths: ["nope"] } })), 400);
  assert.equal(await statusOf(db.containers.create({ id: "x", partitionKey: { paths: ["/a", "/b"], kind: "Hash" } })), 400);
});
