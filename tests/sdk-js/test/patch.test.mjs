import { test } from "node:test";
import assert from "node:assert/strict";
import { withDatabase, statusOf } from "../helpers.mjs";

test("patch operations, conditions and refusals", async (t) => {
  const db = await withDatabase(t);
  const { container: c } = await db.containers.create({ id: "patch", partitionKey: { paths: ["/pk"], version: 2 } });
  await c.items.create({ id: "a", pk: "p", n: 1, tags: ["x"] });
  const item = c.item("a", "p");

  const { resource, statusCode } = await item.patch([
    { op: "add", path: "/tags/-", value: "y" },
    { op: "incr", path: "/n", value: 2 },
    { op: "set", path: "/nested", value: { k: 1 } },
  ]);
  assert.equal(statusCode, 200);
  assert.deepEqual(resource.tags, ["x", "y"]);
  assert.equal(resource.n, 3);
  assert.deepEqual(resource.nested, { k: 1 });

  const ops = [{ op: "remove", path: "/nested" }];
  assert.equal(await statusOf(item.patch({ condition: "FROM c WHERE c.n = 1", operations: ops })), 412);
  const after = await item.patch({ condition: "FROM c WHERE c.n = 3", operations: ops });
  assert.equal(after.resource.nested, undefined);

  assert.equal(await statusOf(item.patch([{ op: "replace", path: "/missing", value: 1 }])), 400);
  assert.equal(await statusOf(c.item("nope", "p").patch([{ op: "set", path: "/x", value: 1 }])), 404);
  assert.equal((await item.read()).resource.n, 3);
});
