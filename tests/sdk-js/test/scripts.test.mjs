import { test } from "node:test";
import assert from "node:assert/strict";
import { TriggerOperation, TriggerType } from "@azure/cosmos";
import { withDatabase, statusOf } from "../helpers.mjs";

async function newContainer(t) {
  const db = await withDatabase(t);
  const { container } = await db.containers.create({ id: "c", partitionKey: { paths: ["/pk"], version: 2 } });
  return container;
}

const CREATE_MANY = `function createMany(docs) {
  var c = getContext().getCollection();
  docs.forEach(function (d) {
    c.createDocument(c.getSelfLink(), d, function (err) { if (err) throw err; });
  });
  c.queryDocuments(c.getSelfLink(), "SELECT VALUE COUNT(1) FROM r", function (err, rows) {
    if (err) throw err;
    console.log("count %s", rows[0]);
    getContext().getResponse().setBody({ count: rows[0] });
  });
}`;

test("stored procedures: create, execute, roll back", async (t) => {
  const container = await newContainer(t);
  const { resource } = await container.scripts.storedProcedures.create({ id: "many", body: CREATE_MANY });
  assert.equal(resource.id, "many");
  const sproc = container.scripts.storedProcedure("many");
  const docs = [1, 2, 3].map((n) => ({ id: `d${n}`, pk: "p", n }));
  const run = await sproc.execute("p", [docs], { enableScriptLogging: true });
  assert.deepEqual(run.resource, { count: 3 });
  assert.equal(decodeURIComponent(run.headers["x-ms-documentdb-script-log-results"]), "count 3");
  // A second run conflicts on d1 and leaves nothing of itself behind.
  const more = [{ id: "d9", pk: "p" }, { id: "d1", pk: "p" }];
  assert.equal(await statusOf(sproc.execute("p", [more])), 409);
  assert.equal(await statusOf(container.item("d9", "p").read().then((r) => { if (!r.resource) throw { code: r.statusCode }; })), 404);
  const { resources } = await container.scripts.storedProcedures.readAll().fetchAll();
  assert.deepEqual(resources.map((s) => s.id), ["many"]);
  await sproc.replace({ id: "many", body: "function () { getContext().getResponse().setBody(42); }" });
  assert.equal((await sproc.execute("p")).resource, 42);
  await sproc.delete();
  assert.equal(await statusOf(sproc.read()), 404);
});

test("triggers run around item writes", async (t) => {
  const container = await newContainer(t);
  await container.scripts.triggers.create({
    id: "stamp",
    body: "function () { var r = getContext().getRequest(); var b = r.getBody(); b.stamped = true; r.setBody(b); }",
    triggerType: TriggerType.Pre,
    triggerOperation: TriggerOperation.Create,
  });
  await container.scripts.triggers.create({
    id: "audit",
    body: `function () {
      var c = getContext().getCollection();
      var doc = getContext().getResponse().getBody();
      c.createDocument(c.getSelfLink(), { id: "audit-" + doc.id, pk: doc.pk }, function (e) { if (e) throw e; });
    }`,
    triggerType: TriggerType.Post,
    triggerOperation: TriggerOperation.All,
  });
  const { resource } = await container.items.create(
    { id: "a", pk: "p" },
    { preTriggerInclude: ["stamp"], postTriggerInclude: ["audit"] },
  );
  assert.equal(resource.stamped, true);
  const { resource: audit } = await container.item("audit-a", "p").read();
  assert.equal(audit.id, "audit-a");
  // A pre-trigger listed as a post-trigger is refused.
  assert.equal(await statusOf(container.items.create({ id: "b", pk: "p" }, { postTriggerInclude: ["stamp"] })), 400);
});

test("user-defined functions in queries", async (t) => {
  const container = await newContainer(t);
  await container.scripts.userDefinedFunctions.create({
    id: "double",
    body: "function (x) { return x * 2; }",
  });
  for (const n of [1, 2, 3]) await container.items.create({ id: `i${n}`, pk: `p${n}`, n });
  const { resources } = await container.items
    .query("SELECT VALUE udf.double(c.n) FROM c WHERE udf.double(c.n) >= 4 ORDER BY c.n")
    .fetchAll();
  assert.deepEqual(resources, [4, 6]);
});
