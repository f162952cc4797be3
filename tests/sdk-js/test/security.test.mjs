import { test } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import { readFileSync } from "node:fs";
import { CosmosClient } from "@azure/cosmos";
import { endpoint, key, statusOf } from "../helpers.mjs";

test("a wrong key is refused with 401", async () => {
  const bad = new CosmosClient({ endpoint, key: Buffer.alloc(64, 1).toString("base64") });
  assert.equal(await statusOf(bad.databases.readAll().fetchAll()), 401);
});

test("the certificate is a self-signed leaf", async () => {
  const url = new URL(endpoint);
  const code = await new Promise((resolve) => {
    const req = https.get({ host: url.hostname, port: url.port, path: "/", rejectUnauthorized: true }, () =>
      resolve("connected"),
    );
    req.on("error", (e) => resolve(e.code));
  });
  assert.equal(code, "DEPTH_ZERO_SELF_SIGNED_CERT");
});

test("clients that trust the exported certificate connect with verification on", async (t) => {
  const certFile = process.env.COSMONAUT_CERT;
  if (!certFile) return t.skip("COSMONAUT_CERT not set");
  const agent = new https.Agent({ ca: readFileSync(certFile), rejectUnauthorized: true });
  const trusted = new CosmosClient({ endpoint, key, agent });
  const { resources } = await trusted.databases.readAll().fetchAll();
  assert.ok(Array.isArray(resources));
});
