import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { withDatabase } from "../helpers.mjs";

test("time to live: items expire from reads and queries", async (t) => {
  const db = await withDatabase(t);
  const { container: c } = await db.containers.create({
    id: "ttl",
    partitionKey: { paths: ["/pk"], version: 2 },
    defaultTtl: 1,
  });
  await c.items.create({ id: "short", pk: "p" });
  await c.items.create({ id: "kept", pk: "p", ttl: -1 });
  await sleep(2100);
  assert.equal((await c.item("short", "p").read()).statusCode, 404);
  const { resources } = await c.items.query("SELECT VALUE c.id FROM c").fetchAll();
  assert.deepEqual(resources, ["kept"]);
});
