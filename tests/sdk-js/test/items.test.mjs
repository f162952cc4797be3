import { test } from "node:test";
import assert from "node:assert/strict";
import { partitions, withDatabase, statusOf } from "../helpers.mjs";

async function container(t, partitionKey = { paths: ["/pk"], version: 2 }) {
  const db = await withDatabase(t);
  return (await db.containers.create({ id: "items", partitionKey })).container;
}

test("item create, read, upsert, replace, delete", async (t) => {
  const c = await container(t);
  const created = await c.items.create({ id: "a", pk: "p", n: 1 });
  assert.equal(created.statusCode, 201);
  assert.ok(created.requestCharge > 0);
  assert.ok(created.headers["x-ms-session-token"]);
  assert.equal(created.etag, created.resource._etag);
  const read = await c.item("a", "p").read();
  assert.equal(read.resource.n, 1);
  const upserted = await c.items.upsert({ id: "a", pk: "p", n: 2 });
  assert.equal(upserted.statusCode, 200);
  assert.equal((await c.items.upsert({ id: "b", pk: "p" })).statusCode, 201);
  const replaced = await c.item("a", "p").replace({ id: "a", pk: "p", n: 3 });
  assert.equal(replaced.resource.n, 3);
  assert.equal(replaced.resource._rid, created.resource._rid);
  assert.equal((await c.item("a", "p").delete()).statusCode, 204);
  assert.equal((await c.item("a", "p").read()).statusCode, 404);
});

test("conflicts, missing items and optimistic concurrency", async (t) => {
  const c = await container(t);
  const { resource } = await c.items.create({ id: "e", pk: "p", v: 1 });
  assert.equal(await statusOf(c.items.create({ id: "e", pk: "p" })), 409);
  assert.equal(await statusOf(c.item("nope", "p").replace({ id: "nope", pk: "p" })), 404);
  assert.equal(await statusOf(c.item("nope", "p").delete()), 404);
  const ifMatch = { accessCondition: { type: "IfMatch", condition: resource._etag } };
  await c.item("e", "p").replace({ id: "e", pk: "p", v: 2 }, ifMatch);
  assert.equal(await statusOf(c.item("e", "p").replace({ id: "e", pk: "p", v: 3 }, ifMatch)), 412);
  assert.equal(await statusOf(c.item("e", "p").delete(ifMatch)), 412);
  assert.equal((await c.item("e", "p").read()).resource.v, 2);
});

test("limits: ids and the 2 MB item size", async (t) => {
  const c = await container(t);
  assert.equal(await statusOf(c.items.create({ id: "x".repeat(1024), pk: "p" })), 400);
  await c.items.create({ id: "x".repeat(1023), pk: "p" });
  assert.equal(await statusOf(c.items.create({ id: "big", pk: "p", blob: "x".repeat(2 * 1024 * 1024) })), 413);
  assert.equal((await c.item("big", "p").read()).statusCode, 404);
});

test("partition key must match the body", async (t) => {
  const c = await container(t);
  await c.items.create({ id: "m", pk: "p" });
  assert.equal(await statusOf(c.item("m", "p").replace({ id: "m", pk: "q" })), 400);
});

test("readAll pages through every item across ranges", async (t) => {
  const c = await container(t);
  for (let i = 0; i < 30; i++) await c.items.create({ id: `i${i}`, pk: `p${i % 6}` });
  const { resources } = await c.items.readAll().fetchAll();
  assert.equal(resources.length, 30);
  const iterator = c.items.readAll({ maxItemCount: 4 });
  const seen = new Set();
  let pages = 0;
  while (iterator.hasMoreResults()) {
    const page = await iterator.fetchNext();
    page.resources.forEach((r) => seen.add(r.id));
    pages++;
  }
  assert.equal(seen.size, 30);
  assert.ok(pages >= 8);
});

test("parameterised queries, in one partition and across all", async (t) => {
  const c = await container(t);
  for (let i = 0; i < 12; i++) await c.items.create({ id: `q${i}`, pk: `p${i % 3}`, n: i, even: i % 2 === 0 });
  const query = { query: "SELECT * FROM c WHERE c.even = @e", parameters: [{ name: "@e", value: true }] };
  const { resources } = await c.items.query(query).fetchAll();
  assert.deepEqual(resources.map((r) => r.n).sort((a, b) => a - b), [0, 2, 4, 6, 8, 10]);
  const one = await c.items.query("SELECT * FROM c WHERE c.n = 4", { partitionKey: "p1" }).fetchAll();
  assert.deepEqual(one.resources.map((r) => r.id), ["q4"]);
  assert.equal(await statusOf(c.items.query("SELECT * FORM c").fetchAll()), 400);
});

test("hierarchical partition keys", async (t) => {
  const c = await container(t, { paths: ["/tenant", "/user"], kind: "MultiHash", version: 2 });
  for (const tenant of ["a", "b"]) {
    for (let u = 0; u < 4; u++) await c.items.create({ id: `${tenant}${u}`, tenant, user: `u${u}` });
  }
  assert.equal((await c.item("a2", ["a", "u2"]).read()).resource.user, "u2");
  assert.equal((await c.item("a2", ["b", "u2"]).read()).statusCode, 404);
  const { resources } = await c.items.readAll().fetchAll();
  assert.equal(resources.length, 8);
  await c.item("b1", ["b", "u1"]).delete();
  assert.equal((await c.items.readAll().fetchAll()).resources.length, 7);
});

test("partition key ranges match the configured partitions", async (t) => {
  const c = await container(t);
  const { resources } = await c.readPartitionKeyRanges().fetchAll();
  assert.equal(resources.length, partitions);
  assert.equal(resources[0].minInclusive, "");
  assert.equal(resources[resources.length - 1].maxExclusive, "FF");
  const feedRanges = await c.getFeedRanges();
  assert.equal(feedRanges.length, partitions);
});

test("undefined and null partition key values", async (t) => {
  const c = await container(t);
  await c.items.create({ id: "nopk" });
  await c.items.create({ id: "nullpk", pk: null });
  assert.equal((await c.item("nullpk", null).read()).resource.id, "nullpk");
  const { resources } = await c.items.readAll().fetchAll();
  assert.equal(resources.length, 2);
});

test("the query language within one partition key", async (t) => {
  const c = await container(t);
  const people = [
    { id: "1", pk: "red", name: "Ana", age: 31, tags: ["x", "y"] },
    { id: "2", pk: "red", name: "Bo", age: 25, tags: ["y"] },
    { id: "3", pk: "red", name: "Cy", age: 42, tags: [] },
  ];
  for (const p of people) await c.items.create(p);
  const run = async (query) => (await c.items.query(query, { partitionKey: "red" }).fetchAll()).resources;
  assert.deepEqual(await run("SELECT VALUE c.name FROM c ORDER BY c.age DESC"), ["Cy", "Ana", "Bo"]);
  assert.deepEqual(await run("SELECT VALUE COUNT(1) FROM c WHERE c.age > 30"), [2]);
  assert.deepEqual(await run("SELECT TOP 2 c.id, c.name FROM c ORDER BY c.id"), [
    { id: "1", name: "Ana" },
    { id: "2", name: "Bo" },
  ]);
  assert.deepEqual(await run("SELECT VALUE t FROM c JOIN t IN c.tags WHERE c.id = '1'"), ["x", "y"]);
  assert.deepEqual(await run("SELECT VALUE UPPER(c.name) FROM c WHERE ARRAY_CONTAINS(c.tags, 'y') ORDER BY c.name"), ["ANA", "BO"]);
});
