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
