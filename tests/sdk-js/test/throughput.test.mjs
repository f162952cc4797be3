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
