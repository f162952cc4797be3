// Drives the Data Explorer in headless Firefox (over WebDriver BiDi, with
// puppeteer-core) against a server this test starts itself. COSMONAUT_BIN
// names the server binary (default: the debug build); FIREFOX_BIN the browser
// (default: Debian's Firefox ESR). Where that Firefox is missing or cannot be
// driven (no WebDriver BiDi, a crash at start), every test here is skipped with
// the reason.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { PRIMARY, delay, signedRequest, startServer } from './server.mjs';

const BROWSER = process.env.FIREFOX_BIN || '/usr/bin/firefox-esr';
const T = 15000; // the longest any one step may take

// Firefox must not reach out: no updates, telemetry, studies, captive portal
// or connectivity probes, remote settings, safe browsing, push or DNS-over-HTTPS.
const OFFLINE_PREFS = {
  'app.update.auto': false,
  'app.update.enabled': false,
  'app.update.staging.enabled': false,
  'app.normandy.enabled': false,
  'app.shield.optoutstudies.enabled': false,
  'browser.discovery.enabled': false,
  'browser.newtabpage.activity-stream.feeds.telemetry': false,
  'browser.newtabpage.activity-stream.telemetry': false,
  'browser.ping-centre.telemetry': false,
  'browser.region.network.url': '',
  'browser.region.update.enabled': false,
  'browser.safebrowsing.provider.google.updateURL': '',
  'browser.safebrowsing.provider.google4.updateURL': '',
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  'browser.safebrowsing.update.enabled': false,
  'browser.search.geoip.url': '',
  'captivedetect.canonicalURL': '',
  'datareporting.healthreport.uploadEnabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'dom.push.connection.enabled': false,
  'dom.push.serverURL': '',
  'extensions.blocklist.enabled': false,
  'extensions.systemAddon.update.enabled': false,
  'extensions.update.enabled': false,
  'geo.provider.network.url': '',
  'media.gmp-manager.updateEnabled': false,
  'media.gmp-gmpopenh264.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'network.dns.disablePrefetch': true,
  'network.predictor.enabled': false,
  'network.prefetch-next': false,
  'network.proxy.type': 0,
  'network.trr.mode': 5,
  'security.OCSP.enabled': 0,
  'security.remote_settings.crlite_filters.enabled': false,
  'security.remote_settings.intermediates.enabled': false,
  // Honoured by a release build only with MOZ_REMOTE_SETTINGS_DEVTOOLS=1 (see launchFirefox).
  'services.settings.server': 'data:,#remote-settings-dummy/v1',
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.server': '',
  'toolkit.telemetry.unified': false,
};

let stopServer;
let endpoint;
let profileDir;
let browser;
let page;
let skipReason = null; // set when Firefox cannot be driven here
const pageErrors = [];


/** Starts Firefox; returns null, or why it cannot be driven here. */
async function launchFirefox() {
  if (!existsSync(BROWSER)) return `no Firefox at ${BROWSER} (install firefox-esr or set FIREFOX_BIN)`;
  profileDir = mkdtempSync(path.join(tmpdir(), 'cosmonaut-explorer-firefox-'));
  try {
    browser = await puppeteer.launch({
      browser: 'firefox',
      protocol: 'webDriverBiDi',
      executablePath: BROWSER,
      headless: true,
      acceptInsecureCerts: true,
      userDataDir: profileDir,
      extraPrefsFirefox: OFFLINE_PREFS,
      defaultViewport: { width: 1280, height: 800 },
      env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: '1', MOZ_REMOTE_SETTINGS_DEVTOOLS: '1' },
      timeout: 30000,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
    page = await browser.newPage();
    return null;
  } catch (e) {
    await closeFirefox();
    return `${BROWSER} could not be driven over WebDriver BiDi: ${e.message.split('\n')[0]}`;
  }
}

async function closeFirefox() {
  if (!browser) return;
  const proc = browser.process();
  await Promise.race([browser.close().catch(() => {}), delay(10000)]);
  if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  browser = null;
}

/** Signs a request in Node, as the page does in the browser. */
const rest = (method, resourcePath, type, link, headers = {}) =>
  signedRequest(endpoint, method, resourcePath, type, link, { headers });

const sel = (id) => `[data-testid="${id}"]`;
const click = (selector) => page.locator(selector).setTimeout(T).click();
const fill = (selector, value) => page.locator(selector).setTimeout(T).fill(value);
const visible = (selector) => page.waitForSelector(selector, { visible: true, timeout: T });

/** Waits until an element matching selector has text (or a form value) matching re; returns it. */
async function waitText(selector, re) {
  try {
    const handle = await page.waitForFunction(
      (s, source, flags) => {
        const r = new RegExp(source, flags);
        for (const el of document.querySelectorAll(s)) {
          const t = 'value' in el && typeof el.value === 'string' && el.tagName !== 'BUTTON' ? el.value : el.innerText;
          if (r.test(t)) return t;
        }
        return false;
      },
      { timeout: T, polling: 100 },
      selector,
      re.source,
      re.flags,
    );
    return await handle.jsonValue();
  } catch (e) {
    const seen = await page.$$eval(selector, (els) => els.map((el) => ('value' in el && el.tagName !== 'BUTTON' ? el.value : el.innerText))).catch(() => []);
    throw new Error(`no ${selector} with text ${re} (seen: ${JSON.stringify(seen)}; page errors: ${JSON.stringify(pageErrors)})`, { cause: e });
  }
}

/** A test that is skipped, with the reason, where Firefox cannot be driven. */
function ffTest(name, fn) {
  test(name, async (t) => {
    if (skipReason) {
      t.skip(skipReason);
      return;
    }
    await fn(t);
  });
}

describe('Data Explorer in Firefox', () => {
  before(async () => {
    skipReason = await launchFirefox();
    if (skipReason) {
      console.log(`Firefox tests skipped: ${skipReason}`);
      return;
    }
    // The server's certificate is self-signed; only this process's own requests to it are made.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    page.setDefaultTimeout(T);
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (/content security policy|content-security-policy/i.test(m.text())) pageErrors.push(`console: ${m.text()}`);
    });
    page.on('error', (e) => pageErrors.push(`page crashed: ${e.message}`));
    // Firefox logs what the policy refuses as a page error; the page's own
    // securitypolicyviolation events are turned into console messages too, so a
    // refusal is caught even where the browser's log does not carry it.
    await page.evaluateOnNewDocument(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`Content Security Policy violation: ${e.violatedDirective} refused ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
      });
    });
    ({ endpoint, stop: stopServer } = await startServer());
  });

  after(async () => {
    await closeFirefox();
    if (stopServer) await stopServer();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });

  ffTest('signs in with the account key (after refusing a wrong one)', async () => {
    await page.goto(`${endpoint}/_explorer/`, { waitUntil: 'load' });
    await visible(sel('signin-key'));
    await fill(sel('signin-key'), Buffer.alloc(64, 7).toString('base64'));
    await click(sel('signin-submit'));
    await waitText('[role=alert]', /401/);

    await fill(sel('signin-key'), PRIMARY);
    await click(sel('signin-submit'));
    assert.equal(await waitText(sel('access-badge'), /key/), 'Read-write key');
    const stored = await page.evaluate(() => Object.keys(sessionStorage).length);
    assert.equal(stored, 1, 'the credential is kept in sessionStorage');
  });

  ffTest('creates a database and a container with partition key /pk through the dialogs', async () => {
    await click(sel('new-database'));
    await visible('dialog[open] ' + sel('database-id'));
    await fill(sel('database-id'), 'ffshop');
    await click(sel('create-database'));
    await waitText('.content h1', /^ffshop$/);
    assert.equal(await page.$('dialog[open]'), null, 'the dialog closed');

    await click(sel('new-container'));
    await visible('dialog[open] ' + sel('container-id'));
    await fill(sel('container-id'), 'orders');
    await fill(sel('pk-path-1'), '/pk');
    await click(sel('create-container'));
    await waitText('.content h1', /^Items$/);
    // The tree shows the new container under its database.
    await visible('nav.tree a[data-node="ffshop/orders"]');

    const created = await rest('GET', '/dbs/ffshop/colls/orders', 'colls', 'dbs/ffshop/colls/orders');
    assert.equal(created.status, 200);
    assert.deepEqual(created.body.partitionKey.paths, ['/pk']);
  });

  ffTest('creates items in the editor; bad JSON is reported with its line and column', async () => {
    await click(sel('new-item'));
    // The template has a fresh id and the partition key path.
    const template = JSON.parse(await waitText(sel('item-editor'), /"pk"/));
    assert.ok(template.id, 'the template has an id');
    assert.equal(template.pk, '');

    // Firefox words JSON.parse errors its own way; the page still gives a place.
    const broken = '{\n  "id": "ff1",\n  "pk": "a",,\n  "n": 1\n}';
    await fill(sel('item-editor'), broken);
    await click(sel('item-save'));
    const message = await waitText(sel('item-status') + ' [role=alert]', /Invalid JSON/);
    assert.match(message, /\(line 3, column 13\)/, message);
    assert.doesNotMatch(message, /JSON\.parse:|of the JSON data/, message);
    assert.equal(await page.$eval(sel('item-editor'), (t) => t.value), broken, 'the text is kept');
    assert.equal(await page.$eval(sel('item-editor'), (t) => t.selectionStart), broken.indexOf(',,') + 1, 'the caret is put at the error');

    await fill(sel('item-editor'), JSON.stringify({ id: 'ff1', pk: 'a', n: 1 }, null, 2));
    await click(sel('item-save'));
    await waitText(sel('item-status'), /^Created/);
    await waitText(sel('item-row'), /^ff1$/);

    await click(sel('new-item'));
    await waitText(sel('item-editor'), /"pk": ""/);
    await fill(sel('item-editor'), JSON.stringify({ id: 'ff2', pk: 'b', n: 5 }, null, 2));
    await click(sel('item-save'));
    await waitText(sel('item-status'), /^Created/);
    await waitText(sel('item-row'), /^ff2$/);

    const stored = await rest('GET', '/dbs/ffshop/colls/orders/docs/ff1', 'docs', 'dbs/ffshop/colls/orders/docs/ff1', {
      'x-ms-documentdb-partitionkey': '["a"]',
    });
    assert.equal(stored.status, 200);
    assert.deepEqual({ id: stored.body.id, pk: stored.body.pk, n: stored.body.n }, { id: 'ff1', pk: 'a', n: 1 });
  });

  ffTest('runs a cross-partition query with Ctrl+Enter and shows its request charge', async () => {
    await click('nav.tree a[data-node="ffshop/orders/query"]');
    await visible(sel('query-text'));
    await fill(sel('query-text'), 'SELECT c.id, c.n FROM c WHERE c.n >= 1 ORDER BY c.n DESC');
    await page.focus(sel('query-text'));
    await page.keyboard.down('Control');
    await page.keyboard.press('Enter');
    await page.keyboard.up('Control');
    const charge = await waitText(sel('request-charge'), /RU$/);
    assert.match(charge, /^\d+(\.\d+)? RU$/);
    assert.ok(Number(charge.split(' ')[0]) > 0, `a request charge above zero: ${charge}`);
    const rows = JSON.parse(await waitText(sel('results-json'), /ff2/));
    assert.deepEqual(rows, [{ id: 'ff2', n: 5 }, { id: 'ff1', n: 1 }]);
    assert.equal(await waitText(sel('output-count'), /\d/), '2');
    // The query text is highlighted under the textarea.
    assert.ok(await page.$('.sql-hl .t-kw'), 'keywords are highlighted');

    await click('[role=tab][data-tab="table"]');
    await visible(sel('results-table'));
    assert.equal((await page.$$(sel('results-table') + ' tbody tr')).length, 2);
  });

  ffTest('the account page shows the keys', async () => {
    await click('header.topbar a[href="#/account"]');
    await visible(sel('account-keys'));
    assert.equal((await page.$$(sel('account-keys') + ' [data-testid^="key-"]')).length, 4);
    await click(sel('key-primary') + ' + button');
    assert.equal(await waitText(sel('key-primary'), /^[A-Za-z0-9+/=]{20,}$/), PRIMARY);
    await waitText(sel('readiness'), /ready/);
    assert.equal(await waitText(sel('account-access'), /key/), 'Read-write key');
  });

  ffTest('the page raised no uncaught errors and broke no CSP rule', async () => {
    assert.deepEqual(pageErrors, []);
    // The watch is live: a script the policy refuses is reported.
    await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.head.append(s);
    });
    const deadline = Date.now() + T;
    while (!pageErrors.some((e) => /script-src/.test(e)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(pageErrors.some((e) => /script-src/.test(e)), `the refused inline script was seen: ${JSON.stringify(pageErrors)}`);
    assert.equal(await page.evaluate(() => window.__inline), undefined, 'the inline script did not run');
  });
});
