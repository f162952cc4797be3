import { test } from "node:test";
import assert from "node:assert/strict";
import { ChangeFeedMode, ChangeFeedPolicy, ChangeFeedRetentionTimeSpan, ChangeFeedStartFrom } from "@azure/cosmos";
import { withDatabase } from "../helpers.mjs";

test("change feed: latest versions, then only what changed", async (t) => {
  const db = await withDatabase(t);
  const { container: c } = await db.containers.create({ id: "feed", partitionKey: { paths: ["/pk"], version: 2 } });
  for (let i = 0; i < 10; i++) await c.items.create({ id: `i${i}`, pk: `p${i % 3}`, n: i });
  await c.items.upsert({ id: "i4", pk: "p1", n: 40 });

  const iterator = c.items.getChangeFeedIterator({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning() });
  const seen = [];
  while (iterator.hasMoreResults) {
    const page = await iterator.readNext();
    if (page.statusCode === 304) break;
    seen.push(...page.result);
  }
  assert.deepEqual(seen.map((d) => d.id).sort(), Array.from({ length: 10 }, (_, i) => `i${i}`).sort());
  assert.equal(seen.find((d) => d.id === "i4").n, 40);

  await c.items.create({ id: "new", pk: "p2" });
  const more = [];
  for (let tries = 0; tries < 10 && more.length === 0; tries++) {
    const page = await iterator.readNext();
    more.push(...page.result);
  }
  assert.deepEqual(more.map((d) => d.id), ["new"]);
});

test("change feed: all versions and deletes", async (t) => {
  const db = await withDatabase(t);
  const { container: c } = await db.containers.create({
    id: "avad",
    partitionKey: { paths: ["/pk"], version: 2 },
    changeFeedPolicy: new ChangeFeedPolicy(ChangeFeedRetentionTimeSpan.fromMinutes(5)),
  });
  const iterator = c.items.getChangeFeedIterator({
    changeFeedStartFrom: ChangeFeedStartFrom.Now(),
    changeFeedMode: ChangeFeedMode.AllVersionsAndDeletes,
  });
  const first = await iterator.readNext();
  assert.equal(first.result.length, 0);
  await c.items.create({ id: "a", pk: "p", v: 1 });
  await c.item("a", "p").replace({ id: "a", pk: "p", v: 2 });
  await c.item("a", "p").delete();
  const changes = [];
  for (let tries = 0; tries < 10 && changes.length < 3; tries++) {
    const page = await iterator.readNext();
    changes.push(...page.result);
  }
  assert.deepEqual(
    changes.map((ch) => ch.metadata.operationType),
    ["create", "replace", "delete"],
  );
  assert.equal(changes[1].current.v, 2);
  // No previous images unless the container's previousImageRetentionPolicy asks.
  assert.equal(changes[1].previous, undefined);
  assert.equal(changes[2].previous, undefined);
  assert.equal(changes[2].metadata.previousImageLSN, changes[1].metadata.lsn);
  assert.equal(changes[2].metadata.id, "a");
});
