// Drives the Data Explorer in headless Chromium against a server this test
// starts itself. COSMONAUT_BIN names the server binary (default: the debug
// build); CHROMIUM_BIN the browser (default: Debian's). With
// EXPLORER_SCREENSHOTS=1 the main screens are saved to docs/explorer/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { PRIMARY, repo, signedRequest, startServer } from './server.mjs';

const BROWSER = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const SHOTS = process.env.EXPLORER_SCREENSHOTS === '1' ? path.join(repo, 'docs', 'explorer') : null;
const T = 15000; // the longest any one step may take

let stopServer;
let endpoint;
let profileDir;
let context;
let page;
const pageErrors = [];

/** Signs a request in Node, as the page does in the browser. */
const rest = (method, resourcePath, type, link, key = PRIMARY, body) =>
  signedRequest(endpoint, method, resourcePath, type, link, { key, body });

async function shot(name) {
  if (!SHOTS) return;
  await page.evaluate(() => document.querySelector('.toasts')?.replaceChildren());
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

const byTest = (id) => page.getByTestId(id);

async function signIn(key) {
  await page.goto(`${endpoint}/_explorer/`);
  await byTest('signin-key').fill(key);
  await byTest('signin-submit').click();
  await page.locator('.topbar').waitFor({ timeout: T });
}

async function signOut() {
  await byTest('signout').click();
  await byTest('signin-key').waitFor({ timeout: T });
}

before(async () => {
  // The server's certificate is self-signed; only this process's own requests to it are made.
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  ({ endpoint, stop: stopServer } = await startServer());
  profileDir = mkdtempSync(path.join(tmpdir(), 'cosmonaut-explorer-profile-'));
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: BROWSER,
    headless: true,
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(T);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // The page must live within its content security policy.
  page.on('console', (m) => {
    if (/content security policy/i.test(m.text())) pageErrors.push(m.text());
  });
});

after(async () => {
  if (context) await context.close();
  if (stopServer) await stopServer();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
});

test('the page is served with its content security policy', async () => {
  const res = await fetch(`${endpoint}/_explorer/index.html`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-security-policy') || '', /default-src 'self'/);
});

test('sign-in refuses a wrong key with the server message, then accepts the primary key', async () => {
  await page.goto(`${endpoint}/_explorer/`);
  await shot('sign-in');
  await byTest('signin-key').fill(Buffer.alloc(64, 7).toString('base64'));
  await byTest('signin-submit').click();
  await page.getByRole('alert').filter({ hasText: '401' }).waitFor();
  assert.match(await page.getByRole('alert').innerText(), /authorization token can't serve the request|key/i);
  await byTest('signin-key').fill(`AccountEndpoint=${endpoint}/;AccountKey=${PRIMARY};`);
  await byTest('signin-submit').click();
  await byTest('access-badge').waitFor();
  assert.equal(await byTest('access-badge').innerText(), 'Read-write key');
  const stored = await page.evaluate(() => Object.keys(sessionStorage).length + ':' + Object.keys(localStorage).filter((k) => k.includes('credential')).length);
  assert.equal(stored, '1:0', 'the credential lives in sessionStorage only');
});

test('creates a database and a container, with client and server errors shown', async () => {
  await byTest('new-database').click();
  await byTest('database-id').fill('shop');
  await page.locator('dialog input[type=radio][value=manual]').check();
  await byTest('create-database').click();
  await page.locator('h1', { hasText: 'shop' }).waitFor();

  await byTest('new-container').click();
  await byTest('container-id').fill('orders');
  // A path without its leading slash: the server's message is shown.
  await byTest('pk-path-1').fill('customer');
  await byTest('create-container').click();
  await page.locator('dialog [role=alert]').filter({ hasText: 'Invalid partition key path' }).waitFor();
  // Bad JSON in the policy is caught before anything is sent.
  await byTest('pk-path-1').fill('/customer');
  const policy = byTest('indexing-policy');
  await policy.fill('{"indexingMode": "consistent",, }');
  await byTest('create-container').click();
  await page.locator('dialog [role=alert]').filter({ hasText: 'Invalid JSON' }).waitFor();
  assert.equal(await policy.inputValue(), '{"indexingMode": "consistent",, }');
  // A policy the server refuses: its message is shown and the text kept.
  const refusedPolicy = '{"includedPaths": [{"path": "/*"}], "excludedPaths": [{"path": "/total"}]}';
  await policy.fill(refusedPolicy);
  await byTest('create-container').click();
  await page.locator('dialog [role=alert]').filter({ hasText: 'could not be accepted' }).waitFor();
  assert.equal(await policy.inputValue(), refusedPolicy);
  await policy.fill('{"indexingMode": "consistent", "includedPaths": [{"path": "/*"}]}');
  await byTest('create-container').click();
  await page.locator('h1', { hasText: 'Items' }).waitFor();
  const created = await rest('GET', '/dbs/shop/colls/orders', 'colls', 'dbs/shop/colls/orders');
  assert.deepEqual(created.body.partitionKey.paths, ['/customer']);
});

test('adds, edits and deletes an item; bad JSON keeps the text', async () => {
  await byTest('new-item').click();
  const editor = byTest('item-editor');
  await editor.fill(JSON.stringify({ id: 'o1', customer: 'alice', total: 10 }, null, 2));
  await byTest('item-save').click();
  await byTest('item-status').getByText(/^Created/).waitFor();
  await byTest('item-row').filter({ hasText: 'o1' }).waitFor();

  // Edit: bad JSON is refused before sending and the text stays.
  const broken = '{\n  "id": "o1",\n  "customer": "alice",\n  "total": 11,,\n}';
  await editor.fill(broken);
  await byTest('item-save').click();
  await page.locator('[role=alert]').filter({ hasText: 'Invalid JSON' }).waitFor();
  assert.equal(await editor.inputValue(), broken);

  // A changed partition key value is refused by the server; its message is shown verbatim.
  await editor.fill(JSON.stringify({ id: 'o1', customer: 'bob', total: 11 }));
  await byTest('item-save').click();
  await page.locator('[role=alert]').filter({ hasText: /^4\d\d / }).waitFor();
  assert.match(await editor.inputValue(), /"bob"/);

  await editor.fill(JSON.stringify({ id: 'o1', customer: 'alice', total: 11 }, null, 2));
  await byTest('item-save').click();
  await byTest('item-status').getByText(/^Saved/).waitFor();

  // A few more items for the query screen.
  for (const [id, customer, total] of [['o2', 'bob', 25], ['o3', 'carol', 7], ['o4', 'alice', 40]]) {
    await byTest('new-item').click();
    await editor.fill(JSON.stringify({ id, customer, total }));
    await byTest('item-save').click();
    await byTest('item-status').getByText(/^Created/).waitFor();
  }
  await byTest('item-row').filter({ hasText: 'o1' }).click();
  await page.locator('h2', { hasText: 'Item o1' }).waitFor();
  assert.match(await editor.inputValue(), /"total": 11/);
  await shot('items');

  // Upload: an array with one item that cannot be created.
  await byTest('upload-items').click();
  await byTest('upload-file').setInputFiles({
    name: 'more.json',
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify([{ id: 'u1', customer: 'dave', total: 1 }, { id: 'o2', customer: 'bob' }, { id: 'u2', customer: 'erin', total: 2 }])),
  });
  await byTest('upload-start').click();
  await byTest('upload-result').getByText('Created 2 of 3 items; 1 failed.').waitFor();
  assert.match(await byTest('upload-result').innerText(), /o2.*409/);
  await page.keyboard.press('Escape');
  await byTest('item-row').filter({ hasText: 'u2' }).waitFor();
  for (const id of ['u1', 'u2']) {
    await byTest('item-row').filter({ hasText: id }).click();
    await byTest('item-delete').click();
    await page.locator('dialog button', { hasText: 'Delete' }).click();
    await byTest('item-row').filter({ hasText: id }).waitFor({ state: 'detached' });
  }

  await byTest('item-row').filter({ hasText: 'o3' }).click();
  await byTest('item-delete').click();
  await page.locator('dialog button', { hasText: 'Delete' }).click();
  await byTest('item-row').filter({ hasText: 'o3' }).waitFor({ state: 'detached' });
});

test('runs queries with metrics, parameters and a cross-partition merge', async () => {
  await page.goto(`${endpoint}/_explorer/index.html#/db/shop/orders/query`);
  const text = byTest('query-text');
  await text.fill('SELECT c.id, c.total FROM c WHERE c.total > @min');
  await page.locator('summary', { hasText: 'Parameters' }).click();
  await byTest('add-param').click();
  await byTest('param-name').fill('@min');
  await byTest('param-value').fill('10');
  await text.press('Control+Enter');
  await byTest('request-charge').waitFor();
  const charge = await byTest('request-charge').innerText();
  assert.match(charge, /^\d+(\.\d+)? RU$/);
  assert.ok(Number(charge.split(' ')[0]) > 0, `a request charge above zero: ${charge}`);
  const out = JSON.parse(await byTest('results-json').inputValue());
  assert.deepEqual(out.map((d) => d.id).sort(), ['o1', 'o2', 'o4']);
  assert.equal(await byTest('output-count').innerText(), '3');

  // ORDER BY and an aggregate across the two partitions.
  await text.fill('SELECT VALUE c.total FROM c ORDER BY c.total DESC');
  await byTest('run-query').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=results-json]')?.value.includes('40'));
  assert.deepEqual(JSON.parse(await byTest('results-json').inputValue()), [40, 25, 11]);
  await text.fill('SELECT VALUE SUM(c.total) FROM c');
  await byTest('run-query').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=results-json]')?.value.includes('76'));
  assert.deepEqual(JSON.parse(await byTest('results-json').inputValue()), [76]);

  await text.fill('SELECT c.id, c.customer, c.total\nFROM c\nWHERE c.total >= @min -- at least this much\n  AND c.customer != "nobody"');
  await byTest('run-query').click();
  await page.getByRole('tab', { name: 'Table' }).click();
  await byTest('results-table').waitFor();
  assert.equal(await byTest('results-table').locator('tbody tr').count(), 3);
  await shot('query');

  await text.fill('SELEC * FROM c');
  await byTest('run-query').click();
  await page.locator('[role=alert]').filter({ hasText: 'Syntax error' }).waitFor();
});

test('creates and runs a stored procedure with a partition key', async () => {
  await page.goto(`${endpoint}/_explorer/index.html#/db/shop/orders/scripts`);
  await byTest('new-script').click();
  await byTest('script-id').fill('greet');
  await byTest('script-body').fill(
    'function greet(name) {\n  console.log("greeting " + name);\n  getContext().getResponse().setBody({ hello: name });\n}',
  );
  await byTest('script-save').click();
  await byTest('sproc-execute').waitFor();
  await byTest('sproc-pk').fill('alice');
  await byTest('sproc-params').fill('["world"]');
  await byTest('sproc-execute').click();
  await byTest('sproc-output').waitFor();
  assert.deepEqual(JSON.parse(await byTest('sproc-output').innerText()), { hello: 'world' });
  assert.match(await byTest('sproc-logs').innerText(), /greeting world/);
  await byTest('sproc-logs').scrollIntoViewIfNeeded();
  await shot('scripts');
});

test('settings, change feed and database pages render', async () => {
  await page.goto(`${endpoint}/_explorer/index.html#/db/shop/orders/settings`);
  await byTest('settings-policy').waitFor();
  await page.locator('dl.facts').filter({ hasText: 'Items' }).waitFor();
  await page.goto(`${endpoint}/_explorer/index.html#/db/shop/orders/changefeed`);
  await byTest('cf-start').click();
  await byTest('cf-table').locator('tbody tr').filter({ hasText: 'o4' }).waitFor();
  await page.goto(`${endpoint}/_explorer/index.html#/db/shop`);
  await byTest('containers-table').locator('tbody tr').filter({ hasText: 'orders' }).waitFor();
});

test('the account page shows the keys, storage and readiness', async () => {
  await page.goto(`${endpoint}/_explorer/index.html#/account`);
  await byTest('account-keys').waitFor();
  assert.equal(await byTest('account-keys').locator('[data-testid^=key-]').count(), 4);
  await byTest('readiness').filter({ hasText: 'ready' }).waitFor();
  await shot('account');
});

test('a read-only key sees writes disabled and the server refuses the rest', async () => {
  const acc = await rest('GET', '/_explorer/api/account', '', '');
  const readOnly = acc.body.keys.find((k) => k.kind === 'primary-readonly').key;
  await signOut();
  await signIn(readOnly);
  assert.equal(await byTest('access-badge').innerText(), 'Read-only key');
  assert.ok(await byTest('new-database').isDisabled());
  await page.goto(`${endpoint}/_explorer/index.html#/db/shop/orders/items`);
  await byTest('item-row').first().waitFor();
  assert.ok(await byTest('new-item').isDisabled());
  // Executing a stored procedure is a write the page does not guess about: the server says no.
  await page.goto(`${endpoint}/_explorer/index.html#/db/shop/orders/scripts`);
  await page.getByRole('button', { name: 'greet' }).click();
  await byTest('sproc-pk').fill('alice');
  await byTest('sproc-execute').click();
  await byTest('sproc-result').getByRole('alert').filter({ hasText: '403' }).waitFor();
  // The account page shows only the read-only keys.
  await page.goto(`${endpoint}/_explorer/index.html#/account`);
  await byTest('account-keys').waitFor();
  assert.equal(await byTest('account-keys').locator('[data-testid^=key-]').count(), 2);
});

test('the page raised no uncaught errors and broke no CSP rule', () => {
  assert.deepEqual(pageErrors, []);
});
