import { test } from "node:test";
import assert from "node:assert/strict";
import { ChangeFeedStartFrom } from "@azure/cosmos";
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
