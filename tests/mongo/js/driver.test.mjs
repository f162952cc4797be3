// The Node.js MongoDB driver against a server of this file's own, on its
// plain and TLS MongoDB ports: connection strings as the server prints them,
// keys, CRUD, cursors, bulk writes, aggregation and indexes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient, ObjectId, Long, Decimal128, Binary, Timestamp, Double, Int32, MongoServerError, MongoBulkWriteError } from 'mongodb';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = process.env.COSMONAUT_BIN || path.join(here, '..', '..', '..', 'target', 'debug', 'cosmonaut');

let server;
let dataDir;
let plainUrl;
let tlsUrl;
let client;

function start() {
  dataDir = mkdtempSync(path.join(tmpdir(), 'cosmonaut-mongo-node-'));
  server = spawn(BIN, ['serve', '--data-dir', dataDir, '--port', '0', '--mongo-port', '0', '--mongo-plain-port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no MongoDB lines:\n${out}`)), 30000);
    server.stdout.on('data', (d) => {
      out += d;
      const urls = [...out.matchAll(/MongoDB: (mongodb:\/\/\S+)/g)].map((m) => m[1]);
      if (urls.length === 2) {
        clearTimeout(timer);
        tlsUrl = urls.find((u) => u.includes('ssl=true'));
        plainUrl = urls.find((u) => u.includes('ssl=false'));
        resolve();
      }
    });
    server.on('exit', (code) => reject(new Error(`the server exited (${code}):\n${out}`)));
  });
}

before(async () => {
  await start();
  client = new MongoClient(plainUrl, { serverSelectionTimeoutMS: 10000 });
  await client.connect();
});

after(async () => {
  await client?.close();
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
  rmSync(dataDir, { recursive: true, force: true });
});

const fresh = () => client.db(`n${new ObjectId().toHexString().slice(-10)}`);

test('the printed TLS connection string connects with the server certificate', async () => {
  const tls = new MongoClient(tlsUrl, { tlsCAFile: path.join(dataDir, 'cert.pem'), serverSelectionTimeoutMS: 10000 });
  try {
    const hello = await tls.db('admin').command({ hello: 1 });
    assert.equal(hello.setName, 'globaldb');
    assert.ok(hello.maxWireVersion >= 17);
    await tls.db('tlsnode').collection('c').insertOne({ _id: 1 });
    assert.deepEqual(await tls.db('tlsnode').collection('c').findOne({ _id: 1 }), { _id: 1 });
    await tls.db('tlsnode').dropDatabase();
  } finally {
    await tls.close();
  }
});

test('a wrong key is refused and a read-only key cannot write', async () => {
  const port = new URL(plainUrl.replace('mongodb://', 'http://')).port;
  const wrong = new MongoClient(`mongodb://localhost:${encodeURIComponent('bm9wZQ==')}@localhost:${port}/?directConnection=true`, { serverSelectionTimeoutMS: 5000 });
  await assert.rejects(wrong.db('admin').command({ listDatabases: 1 }), (e) => e.code === 18);
  await wrong.close();
  const keys = JSON.parse(readFileSync(path.join(dataDir, 'keys.json'), 'utf8'));
  const ro = new MongoClient(`mongodb://localhost:${encodeURIComponent(keys.secondaryReadOnly)}@localhost:${port}/?directConnection=true&authMechanism=SCRAM-SHA-1`, { serverSelectionTimeoutMS: 5000 });
  try {
    await ro.db('ro').collection('c').find().toArray();
    await assert.rejects(ro.db('ro').collection('c').insertOne({ x: 1 }), (e) => e.code === 13);
  } finally {
    await ro.close();
  }
});

test('types come back as they went in', async () => {
  const c = fresh().collection('types');
  const doc = {
    _id: new ObjectId(), i: 5, l: Long.fromNumber(5), d: new Double(5), dec: Decimal128.fromString('9.99'),
    date: new Date('2026-03-04T05:06:07.089Z'), bin: new Binary(Buffer.from([1, 2, 3])), ts: new Timestamp({ t: 10, i: 2 }),
    nested: { arr: [1, 'two', { three: 3 }] },
  };
  await c.insertOne(doc);
  const back = await c.findOne({ _id: doc._id }, { promoteLongs: false, promoteValues: false });
  assert.deepEqual(Object.keys(back), Object.keys(doc));
  assert.ok(back.i instanceof Int32 && back.l instanceof Long && back.d instanceof Double);
  assert.equal(back.dec.toString(), '9.99');
  assert.equal(back.date.toISOString(), '2026-03-04T05:06:07.089Z');
  assert.ok(back.ts.equals(doc.ts));
});

test('queries, cursors and updates', async () => {
  const c = fresh().collection('items');
  await c.insertMany(Array.from({ length: 300 }, (_, i) => ({ _id: i, n: i, g: i % 5, tags: [`t${i % 3}`] })));
  const all = await c.find({}, { batchSize: 17 }).sort({ n: -1 }).toArray();
  assert.equal(all.length, 300);
  assert.equal(all[0].n, 299);
  assert.deepEqual(await c.find({ g: 2, n: { $lt: 20 } }).sort({ n: 1 }).project({ _id: 0, n: 1 }).toArray(), [{ n: 2 }, { n: 7 }, { n: 12 }, { n: 17 }]);
  assert.equal(await c.countDocuments({ tags: 't1' }), 100);
  assert.equal(await c.estimatedDocumentCount(), 300);
  assert.deepEqual(await c.distinct('g'), [0, 1, 2, 3, 4]);
  const u = await c.updateMany({ g: 0 }, { $inc: { n: 1000 }, $push: { tags: 'zero' } });
  assert.equal(u.modifiedCount, 60);
  const r = await c.findOneAndUpdate({ _id: 5 }, { $set: { x: 1 } }, { returnDocument: 'after' });
  assert.equal(r.x, 1);
  const up = await c.updateOne({ _id: 'new' }, { $setOnInsert: { made: true } }, { upsert: true });
  assert.equal(up.upsertedId, 'new');
  assert.equal((await c.deleteMany({ g: 1 })).deletedCount, 60);
});

test('bulk writes report errors as the driver expects', async () => {
  const c = fresh().collection('bulk');
  await c.insertOne({ _id: 1 });
  await assert.rejects(c.insertMany([{ _id: 2 }, { _id: 1 }, { _id: 3 }], { ordered: false }), (e) => {
    assert.ok(e instanceof MongoBulkWriteError);
    assert.equal(e.result.insertedCount, 2);
    assert.equal(e.writeErrors[0].code, 11000);
    return true;
  });
  const result = await c.bulkWrite([
    { insertOne: { document: { _id: 4 } } },
    { updateOne: { filter: { _id: 4 }, update: { $set: { a: 1 } } } },
    { deleteOne: { filter: { _id: 1 } } },
    { replaceOne: { filter: { _id: 9 }, replacement: { r: 1 }, upsert: true } },
  ]);
  assert.equal(result.insertedCount, 1);
  assert.equal(result.modifiedCount, 1);
  assert.equal(result.deletedCount, 1);
  assert.equal(result.upsertedCount, 1);
});

test('aggregation and indexes', async () => {
  const db = fresh();
  const c = db.collection('sales');
  await c.insertMany([{ k: 'a', v: 1 }, { k: 'b', v: 2 }, { k: 'a', v: 3 }]);
  const groups = await c.aggregate([{ $group: { _id: '$k', total: { $sum: '$v' } } }, { $sort: { _id: 1 } }]).toArray();
  assert.deepEqual(groups, [{ _id: 'a', total: 4 }, { _id: 'b', total: 2 }]);
  await c.createIndex({ k: 1, v: -1 });
  await c.createIndex({ v: 1 }, { unique: true });
  await assert.rejects(c.insertOne({ k: 'c', v: 2 }), (e) => e instanceof MongoServerError && e.code === 11000);
  const names = (await c.listIndexes().toArray()).map((i) => i.name);
  assert.deepEqual(names, ['_id_', 'k_1_v_-1', 'v_1']);
  assert.deepEqual((await db.listCollections().toArray()).map((x) => x.name), ['sales']);
  await db.dropDatabase();
});

test('transactions commit together, abort cleanly, and withTransaction retries a conflict', async () => {
  const db = fresh();
  await db.collection('acct').insertMany([{ _id: 'a', balance: 100 }, { _id: 'b', balance: 0 }]);
  const session = client.startSession();
  try {
    let attempts = 0;
    await session.withTransaction(async () => {
      attempts += 1;
      const a = await db.collection('acct').findOne({ _id: 'a' }, { session });
      await db.collection('acct').updateOne({ _id: 'a' }, { $set: { balance: a.balance - 30 } }, { session });
      await db.collection('acct').updateOne({ _id: 'b' }, { $inc: { balance: 30 } }, { session });
      await db.collection('log').insertOne({ moved: 30 }, { session });
      if (attempts === 1) {
        // A write outside the transaction to a document it wrote.
        await db.collection('acct').updateOne({ _id: 'a' }, { $inc: { balance: 1 } });
      }
    });
    assert.equal(attempts, 2);
    const balances = await db.collection('acct').find().sort({ _id: 1 }).toArray();
    assert.deepEqual(balances.map((d) => d.balance), [71, 30]);
    assert.equal(await db.collection('log').countDocuments(), 1);

    session.startTransaction();
    await db.collection('acct').deleteMany({}, { session });
    assert.equal(await db.collection('acct').countDocuments({}, { session }), 0);
    await session.abortTransaction();
    assert.equal(await db.collection('acct').countDocuments(), 2);
  } finally {
    await session.endSession();
  }
});
