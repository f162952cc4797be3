// The shared query corpus (tests/query-corpus/corpus.json) through the JavaScript SDK.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { partitions, withDatabase } from "../helpers.mjs";

const corpus = JSON.parse(readFileSync(new URL("../../query-corpus/corpus.json", import.meta.url)));

/** A comparable spelling: object keys sorted (JSON numbers are already doubles here). */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

test("query corpus", async (t) => {
  const db = await withDatabase(t);
  const { container } = await db.containers.create({ id: "c", partitionKey: { paths: [corpus.partitionKey], version: 2 },
    indexingPolicy: corpus.indexingPolicy,
  });
  for (const doc of corpus.documents) await container.items.create(doc);
  for (const c of corpus.cases) {
    if (partitions > 1 && (c.engineOnly || c.mixedTypeOrderBy)) continue;
    const query = { query: c.query, parameters: c.parameters ?? [] };
    const { resources } = await container.items.query(query, { maxItemCount: 2 }).fetchAll();
    let got = resources.map(canonical);
    let want = c.expected.map(canonical);
    if (!c.ordered) {
      got = got.sort();
      want = want.sort();
    }
    assert.deepEqual(got, want, c.query);
  }
});
