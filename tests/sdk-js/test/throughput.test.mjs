import { test } from "node:test";
import assert from "node:assert/strict";
import { client, withDatabase, statusOf } from "../helpers.mjs";

test("throughput offers: read and replace", async (t) => {
  const db = await withDatabase(t);
  const { container } = await db.containers.create({
    id: "ru",
    partitionKey: { paths: ["/pk"], version: 2 },
    throughput: 600,
  });
  const { resource: offer } = await container.readOffer();
  assert.equal(offer.content.offerThroughput, 600);
  const replaced = await client().offer(offer.id).replace({ ...offer, content: { ...offer.content, offerThroughput: 1000 } });
  assert.equal(replaced.resource.content.offerThroughput, 1000);
  assert.equal((await container.readOffer()).resource.content.offerThroughput, 1000);
  const bad = { ...offer, content: { ...offer.content, offerThroughput: 10 } };
  assert.equal(await statusOf(client().offer(offer.id).replace(bad)), 400);
});

test("throughput offers: shared database throughput and autoscale", async (t) => {
  const c = client();
  const { database } = await c.databases.create({ id: `shared-${Date.now()}`, maxThroughput: 2000 });
  t.after(async () => {
    await database.delete();
  });
  const { resource: dbOffer } = await database.readOffer();
  assert.equal(dbOffer.content.offerAutopilotSettings.maxThroughput, 2000);
  const { container: shared } = await database.containers.create({ id: "s", partitionKey: { paths: ["/pk"], version: 2 } });
  assert.equal((await shared.readOffer()).resource, undefined);
  const { container: own } = await database.containers.create({
    id: "d",
    partitionKey: { paths: ["/pk"], version: 2 },
    throughput: 700,
  });
  assert.equal((await own.readOffer()).resource.content.offerThroughput, 700);
});
