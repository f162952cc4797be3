// Container settings and per-request options beyond plain CRUD: unique keys,
// computed properties, deleting a partition key's items, consistency levels
// and session tokens, and the opt-in rate limiter (on a server of its own).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { CosmosClient } from "@azure/cosmos";
import { client, endpoint, key, withDatabase, statusOf } from "../helpers.mjs";

const partitionKey = { paths: ["/pk"], version: 2 };

test("unique keys: 409 within a logical partition, free across them", async (t) => {
  const db = await withDatabase(t);
  const { container: c } = await db.containers.create({
    id: "uk",
    partitionKey,
    uniqueKeyPolicy: { uniqueKeys: [{ paths: ["/email"] }] },
  });
  await c.items.create({ id: "1", pk: "a", email: "x@example.com" });
  assert.equal(await statusOf(c.items.create({ id: "2", pk: "a", email: "x@example.com" })), 409);
  await c.items.create({ id: "3", pk: "b", email: "x@example.com" });
  // A replace that keeps its own value is no conflict; one that takes another's is.
  await c.items.create({ id: "4", pk: "a", email: "y@example.com" });
  await c.item("4", "a").replace({ id: "4", pk: "a", email: "y@example.com", n: 1 });
  assert.equal(await statusOf(c.item("4", "a").replace({ id: "4", pk: "a", email: "x@example.com" })), 409);
  const { resource } = await c.read();
  assert.deepEqual(resource.uniqueKeyPolicy.uniqueKeys[0].paths, ["/email"]);
});

test("computed properties: queryable, never stored", async (t) => {
  const db = await withDatabase(t);
  const { container: c } = await db.containers.create({
    id: "cp",
    partitionKey,
    computedProperties: [{ name: "cp_lower", query: "SELECT VALUE LOWER(c.name) FROM c" }],
  });
  await c.items.create({ id: "1", pk: "p", name: "Widget" });
  await c.items.create({ id: "2", pk: "p", name: "GADGET" });
  const query = async (text) => (await c.items.query(text, { partitionKey: "p" }).fetchAll()).resources;
  assert.deepEqual(await query("SELECT VALUE c.id FROM c WHERE c.cp_lower = 'gadget'"), ["2"]);
  assert.deepEqual(await query("SELECT VALUE c.cp_lower FROM c ORDER BY c.cp_lower"), ["gadget", "widget"]);
  assert.equal((await c.item("1", "p").read()).resource.cp_lower, undefined);
  const bad = { id: "bad", partitionKey, computedProperties: [{ name: "cp", query: "SELECT c.name FROM c" }] };
  assert.equal(await statusOf(db.containers.create(bad)), 400);
});

test("delete all items of a partition key", async (t) => {
  const db = await withDatabase(t);
  const { container: c } = await db.containers.create({ id: "del", partitionKey });
  for (let i = 0; i < 20; i++) await c.items.create({ id: `i${i}`, pk: i % 2 ? "odd" : "even" });
  await c.deleteAllItemsForPartitionKey("odd");
  const { resources } = await c.items.query("SELECT VALUE c.pk FROM c").fetchAll();
  assert.equal(resources.length, 10);
  assert.ok(resources.every((pk) => pk === "even"));
});

test("consistency: session tokens round-trip, weaker levels accepted, stronger refused", async (t) => {
  const db = await withDatabase(t);
  const { container: c } = await db.containers.create({ id: "cons", partitionKey });
  const written = await c.items.create({ id: "1", pk: "p", v: 1 });
  const sessionToken = written.headers["x-ms-session-token"];
  assert.match(sessionToken, /^\d+:.+#\d+/);
  // Another client, handed the writer's session token, reads the write.
  const other = client().database(db.id).container("cons");
  assert.equal((await other.item("1", "p").read({ sessionToken })).resource.v, 1);
  for (const consistencyLevel of ["Session", "ConsistentPrefix", "Eventual"]) {
    assert.equal((await c.item("1", "p").read({ consistencyLevel })).statusCode, 200, consistencyLevel);
  }
  assert.equal(await statusOf(c.item("1", "p").read({ consistencyLevel: "Strong" })), 400);
  assert.equal(await statusOf(c.item("1", "p").read({ consistencyLevel: "BoundedStaleness" })), 400);
  const eventual = new CosmosClient({ endpoint, key, consistencyLevel: "Eventual" });
  assert.equal((await eventual.database(db.id).container("cons").item("1", "p").read()).resource.v, 1);
});

/** A server of this test's own, with extra flags; stopped when the test ends. */
async function ownServer(t, args) {
  const binary = process.env.COSMONAUT_BIN;
  if (!binary) return null;
  const dir = mkdtempSync(join(tmpdir(), "cosmonaut-js-"));
  const server = spawn(binary, ["serve", "--data-dir", dir, "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  t.after(async () => {
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  for await (const line of createInterface({ input: server.stdout })) {
    const found = line.match(/listening on (https:\/\/\S+)/);
    if (found) return found[1];
  }
  throw new Error("cosmonaut exited before it was ready");
}

test("rate limiter: 429 with a retry time, and the SDK's retries carry a burst", async (t) => {
  const limited = await ownServer(t, ["--rate-limit"]);
  if (!limited) return t.skip("COSMONAUT_BIN not set");
  const pad = "x".repeat(10_000); // about 57 RU a create, against 400 RU/s
  const patient = new CosmosClient({ endpoint: limited, key });
  const { database } = await patient.databases.create({ id: "rl" });
  const { container } = await database.containers.create({ id: "c", partitionKey, throughput: 400 });
  const impatient = new CosmosClient({ endpoint: limited, key, connectionPolicy: { retryOptions: { maxRetryAttemptCount: 0 } } });
  const direct = impatient.database("rl").container("c");
  let throttled = null;
  let created = 0;
  for (let i = 0; i < 40 && !throttled; i++) {
    try {
      await direct.items.create({ id: `raw${i}`, pk: "p", pad });
      created++;
    } catch (e) {
      throttled = e;
    }
  }
  assert.ok(throttled, "about 2,300 RU against a 400 RU/s budget must be throttled");
  assert.equal(throttled.code, 429);
  assert.ok(Number(throttled.headers["x-ms-retry-after-ms"]) >= 1);
  assert.equal(String(throttled.headers["x-ms-substatus"]), "3200");
  // The default client waits as told and retries: every create of a burst lands.
  for (let i = 0; i < 15; i++) await container.items.create({ id: `sdk${i}`, pk: "p", pad });
  const { resources } = await container.items.query("SELECT VALUE COUNT(1) FROM c", { partitionKey: "p" }).fetchAll();
  assert.deepEqual(resources, [created + 15]);
});
