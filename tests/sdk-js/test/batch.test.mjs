import { test } from "node:test";
import assert from "node:assert/strict";
import { withDatabase } from "../helpers.mjs";

test("transactional batch: committed together or not at all", async (t) => {
  const db = await withDatabase(t);
  const { container: c } = await db.containers.create({ id: "batch", partitionKey: { paths: ["/pk"], version: 2 } });
  await c.items.create({ id: "old", pk: "p", n: 1 });

  const ok = await c.items.batch(
    [
      { operationType: "Create", resourceBody: { id: "a", pk: "p" } },
      { operationType: "Upsert", resourceBody: { id: "old", pk: "p", n: 2 } },
      { operationType: "Read", id: "a" },
      { operationType: "Patch", id: "old", resourceBody: { operations: [{ op: "incr", path: "/n", value: 1 }] } },
    ],
    "p",
  );
  assert.equal(ok.code, 200);
  assert.deepEqual(ok.result.map((r) => r.statusCode), [201, 200, 200, 200]);
  assert.equal(ok.result[3].resourceBody.n, 3);

  const failed = await c.items.batch(
    [
      { operationType: "Create", resourceBody: { id: "b", pk: "p" } },
      { operationType: "Replace", id: "missing", resourceBody: { id: "missing", pk: "p" } },
    ],
    "p",
  );
  assert.equal(failed.code, 207);
  assert.deepEqual(failed.result.map((r) => r.statusCode), [424, 404]);
  assert.equal((await c.item("b", "p").read()).statusCode, 404);
  // Every entry carries its charge, and the response's charge is their sum.
  for (const entry of failed.result) {
    assert.ok(Object.hasOwn(entry, "requestCharge"), JSON.stringify(entry));
  }
  const sum = failed.result.reduce((total, entry) => total + entry.requestCharge, 0);
  const charged = Number(failed.headers["x-ms-request-charge"]);
  assert.ok(charged > 0 && Math.abs(charged - sum) < 0.1, `${charged} vs ${sum}`);
});

test("bulk: an invalid operation is refused alone", async (t) => {
  const db = await withDatabase(t);
  const { container: c } = await db.containers.create({ id: "bulkttl", partitionKey: { paths: ["/key"], version: 2 } });
  const invalidThenValid = [
    { operationType: "Create", partitionKey: "A", resourceBody: { id: "bad", key: "A", ttl: -10 } },
    { operationType: "Create", partitionKey: "A", resourceBody: { id: "good", key: "A" } },
  ];
  const codes = (results) => results.map((r) => r.response?.statusCode ?? r.error?.code);
  assert.deepEqual(codes(await c.items.executeBulkOperations(invalidThenValid)), [400, 201]);
  // Without continue-on-error, what follows the refused operation does not run.
  const stopping = await c.items.bulk(
    [
      { operationType: "Create", partitionKey: "B", resourceBody: { id: "bad2", key: "B", ttl: -10 } },
      { operationType: "Create", partitionKey: "B", resourceBody: { id: "after", key: "B" } },
    ],
    { continueOnError: false },
  );
  assert.deepEqual(stopping.map((r) => r.statusCode), [400, 424]);
  const { resources } = await c.items.query("SELECT VALUE c.id FROM c").fetchAll();
  assert.deepEqual(resources, ["good"]);
});

test("bulk: independent operations over many partition keys", async (t) => {
  const db = await withDatabase(t);
  const { container: c } = await db.containers.create({ id: "bulk", partitionKey: { paths: ["/pk"], version: 2 } });
  await c.items.create({ id: "taken", pk: "k0" });
  const operations = [];
  for (let i = 0; i < 40; i++) {
    operations.push({ operationType: "Create", partitionKey: `k${i % 8}`, resourceBody: { id: `i${i}`, pk: `k${i % 8}`, n: i } });
  }
  operations.push({ operationType: "Create", partitionKey: "k0", resourceBody: { id: "taken", pk: "k0" } });
  operations.push({ operationType: "Delete", partitionKey: "k1", id: "i1" });
  operations.push({ operationType: "Read", partitionKey: "k2", id: "i2" });
  const results = await c.items.executeBulkOperations(operations);
  assert.equal(results.length, operations.length);
  const codes = results.map((r) => r.response?.statusCode ?? r.error?.code);
  assert.deepEqual(codes.slice(0, 40), Array(40).fill(201));
  assert.deepEqual(codes.slice(40), [409, 204, 200]);
  const { resources } = await c.items.query("SELECT VALUE COUNT(1) FROM c").fetchAll();
  assert.equal(resources[0], 40, "40 created, one deleted, and the item that was there before");
});
