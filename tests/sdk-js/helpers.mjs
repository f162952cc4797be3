// Shared set-up: scripts/test.sh starts the server and sets these variables.
import { CosmosClient } from "@azure/cosmos";
import { randomUUID } from "node:crypto";

export const endpoint = process.env.COSMONAUT_ENDPOINT ?? "https://localhost:8081/";
export const key =
  process.env.COSMONAUT_KEY ??
  "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";
export const partitions = Number(process.env.COSMONAUT_PARTITIONS ?? "1");

export function unique(prefix) {
  return `${prefix}-${randomUUID().slice(0, 12)}`;
}

// With several servers serving one account (gateways over one PostgreSQL),
// COSMONAUT_ENDPOINTS lists them; each new client goes to the next in turn.
const endpoints = (process.env.COSMONAUT_ENDPOINTS ?? endpoint).split(",").filter(Boolean);
let turn = 0;

export function client(options = {}) {
  const next = endpoints[turn++ % endpoints.length];
  return new CosmosClient({ endpoint: next, key, ...options });
}

/** A fresh database, deleted when the test ends. */
export async function withDatabase(t) {
  const c = client();
  const { database } = await c.databases.create({ id: unique("js-db") });
  t.after(async () => {
    await database.delete();
  });
  return database;
}

/** The status code of a rejected SDK call. */
export async function statusOf(promise) {
  try {
    await promise;
  } catch (e) {
    return e.code;
  }
  return "no error";
}
