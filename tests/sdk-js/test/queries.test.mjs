import { test } from "node:test";
import assert from "node:assert/strict";
import { withDatabase } from "../helpers.mjs";

// Spread over many partition keys so that, with several physical partitions,
// every query needs the client to merge per-partition results.
async function people(t) {
  const db = await withDatabase(t);
  const { container } = await db.containers.create({
    id: "people",
    partitionKey: { paths: ["/pk"], version: 2 },
    indexingPolicy: { compositeIndexes: [[{ path: "/team" }, { path: "/n", order: "descending" }]] },
  });
  for (let i = 0; i < 40; i++) {
    await container.items.create({ id: `p${i}`, pk: `k${i}`, n: i, team: ["red", "blue", "green"][i % 3], even: i % 2 === 0 });
  }
  return container;
}

const all = async (c, query, options = {}) => (await c.items.query(query, options).fetchAll()).resources;

test("cross-partition ORDER BY, TOP and OFFSET LIMIT", async (t) => {
  const c = await people(t);
  const ascending = await all(c, "SELECT VALUE c.n FROM c ORDER BY c.n");
  assert.deepEqual(ascending, [...Array(40).keys()]);
  const top = await all(c, "SELECT TOP 3 c.id, c.n FROM c ORDER BY c.n DESC");
  assert.deepEqual(top.map((r) => r.n), [39, 38, 37]);
  const page = await all(c, "SELECT VALUE c.n FROM c ORDER BY c.n OFFSET 10 LIMIT 5");
  assert.deepEqual(page, [10, 11, 12, 13, 14]);
  const docs = await all(c, "SELECT * FROM c WHERE c.even ORDER BY c.team, c.n DESC", { maxItemCount: 4 });
  assert.equal(docs.length, 20);
  assert.deepEqual(docs.slice(0, 2).map((d) => [d.team, d.n]), [["blue", 34], ["blue", 28]]);
});

test("cross-partition aggregates", async (t) => {
  const c = await people(t);
  assert.deepEqual(await all(c, "SELECT VALUE COUNT(1) FROM c"), [40]);
  assert.deepEqual(await all(c, "SELECT VALUE SUM(c.n) FROM c"), [780]);
  assert.deepEqual(await all(c, "SELECT VALUE AVG(c.n) FROM c"), [19.5]);
  assert.deepEqual(await all(c, "SELECT VALUE MIN(c.n) FROM c"), [0]);
  assert.deepEqual(await all(c, "SELECT VALUE MAX(c.team) FROM c"), ["red"]);
  assert.deepEqual(await all(c, "SELECT VALUE COUNT(1) FROM c WHERE c.n >= 35"), [5]);
});

test("cross-partition GROUP BY and DISTINCT", async (t) => {
  const c = await people(t);
  const groups = await all(c, "SELECT c.team, COUNT(1) AS n, SUM(c.n) AS total FROM c GROUP BY c.team");
  const byTeam = Object.fromEntries(groups.map((g) => [g.team, [g.n, g.total]]));
  assert.deepEqual(byTeam, { red: [14, 273], blue: [13, 247], green: [13, 260] });
  const teams = await all(c, "SELECT DISTINCT VALUE c.team FROM c");
  assert.deepEqual(teams.sort(), ["blue", "green", "red"]);
  const ordered = await all(c, "SELECT DISTINCT VALUE c.team FROM c ORDER BY c.team");
  assert.deepEqual(ordered, ["blue", "green", "red"]);
});
