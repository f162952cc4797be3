// The Data Explorer's shell: sign-in, the top bar, the resource tree and the
// hash router that shows one screen at a time.

import { Cosmos, parseConnectionString } from './cosmos.js';
import { h, clear, field, notice, errorText, access, toast, uid } from './ui.js';
import { renderHome, renderDatabase, createDatabaseDialog } from './resources.js';
import { renderItems } from './items.js';
import { renderQuery } from './query.js';
import { renderScripts } from './scripts.js';
import { renderSettings } from './settings.js';
import { renderChangeFeed } from './changefeed.js';
import { renderAccount } from './account.js';

const SESSION_KEY = 'cosmonaut.explorer.credential';
const root = document.getElementById('app');

/** What every screen shares. */
const ctx = {
  client: null,
  account: null,
  containers: new Map(), // "db/coll" -> container definition
  expanded: new Set(), // tree nodes open: "db" and "db/coll"
  queryState: new Map(), // "db/coll" -> the query screen's text and parameters
  navigate(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  async container(db, coll, fresh = false) {
    const k = `${db}/${coll}`;
    if (fresh || !ctx.containers.has(k)) {
      const res = await ctx.client.request('GET', ['dbs', db, 'colls', coll]);
      ctx.containers.set(k, res.body);
    }
    return ctx.containers.get(k);
  },
  refreshTree: () => renderTree(),
  signOut,
};

// ---------------------------------------------------------------- sign-in

function loadCredential() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
  } catch {
    return null;
  }
}

async function signIn(credential) {
  const client = new Cosmos(credential);
  const res = await client.account();
  ctx.client = client;
  ctx.account = res.body;
  access.readOnly = res.body.access === 'read-only';
  access.entra = res.body.access === 'entra-id';
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(credential));
}

function signOut() {
  sessionStorage.removeItem(SESSION_KEY);
  ctx.client = null;
  ctx.account = null;
  ctx.containers.clear();
  ctx.expanded.clear();
  ctx.queryState.clear();
  access.readOnly = false;
  access.entra = false;
  stopScreen();
  history.replaceState(null, '', location.pathname);
  showSignIn();
}

function showSignIn(message) {
  document.title = 'Sign in · Cosmonaut Data Explorer';
  let mode = 'key';
  const status = h('div', { 'aria-live': 'polite' });
  if (message) status.append(notice('error', message));

  const keyInput = h('textarea', {
    rows: '3',
    spellcheck: 'false',
    autocomplete: 'off',
    placeholder: 'Account key, or AccountEndpoint=…;AccountKey=…;',
    'data-testid': 'signin-key',
  });
  const tokenInput = h('textarea', {
    rows: '5',
    spellcheck: 'false',
    autocomplete: 'off',
    placeholder: 'eyJ0eXAiOiJKV1Qi…',
    'data-testid': 'signin-token',
  });
  const keyField = field('Account key or connection string', keyInput, 'A read-write key can change data; a read-only key can only read and query.');
  const tokenField = field('Entra ID access token', tokenInput, 'A bearer token for the audience https://cosmos.azure.com; what it may do is set by its role assignments.');
  tokenField.hidden = true;

  const choose = (m) => {
    mode = m;
    keyField.hidden = m !== 'key';
    tokenField.hidden = m !== 'aad';
    (m === 'key' ? keyInput : tokenInput).focus();
  };
  const radio = (value, label) => {
    const id = uid('mode');
    return h(
      'label',
      { class: 'choice', for: id },
      h('input', { type: 'radio', name: 'signin-mode', id, value, checked: value === mode, onchange: () => choose(value) }),
      label,
    );
  };

  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'signin-submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin-card', 'aria-labelledby': 'signin-title' },
    h('div', { class: 'brand big' }, logo(), h('span', null, 'Cosmonaut')),
    h('h1', { id: 'signin-title' }, 'Data Explorer'),
    h('p', { class: 'muted' }, `Sign in to ${location.host}. Requests are signed in this browser tab; the credential stays in this tab's session storage until you sign out or close it.`),
    h('fieldset', { class: 'choices' }, h('legend', null, 'Sign in with'), radio('key', 'Key or connection string'), radio('aad', 'Entra ID token')),
    keyField,
    tokenField,
    status,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(status);
    let credential;
    if (mode === 'key') {
      let text = keyInput.value.trim();
      if (/accountkey=/i.test(text)) {
        const parsed = parseConnectionString(text);
        if (parsed.endpoint) {
          try {
            const ep = new URL(parsed.endpoint);
            if (ep.host !== location.host) {
              status.append(notice('info', `The connection string names ${ep.host}; this page talks to ${location.host}, where it is served.`));
            }
          } catch {
            /* an endpoint that is no URL is of no use here anyway */
          }
        }
        text = parsed.key || '';
      }
      if (!text) {
        status.append(notice('error', 'Enter a key or a connection string with an AccountKey.'));
        return;
      }
      credential = { kind: 'key', key: text };
    } else {
      const token = tokenInput.value.trim().replace(/^bearer\s+/i, '');
      if (!token) {
        status.append(notice('error', 'Enter an access token.'));
        return;
      }
      credential = { kind: 'aad', token };
    }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      await signIn(credential);
      showShell();
    } catch (err) {
      status.append(notice('error', errorText(err)));
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });
  clear(root, h('main', { class: 'signin' }, form));
  keyInput.focus();
}

function logo() {
  return h('img', { src: 'icon.svg', alt: '', class: 'logo', width: '24', height: '24' });
}

// ---------------------------------------------------------------- shell

let treeEl;
let mainEl;
let disposeScreen = null;

function showShell() {
  const acc = ctx.account;
  const label = { 'read-write': 'Read-write key', 'read-only': 'Read-only key', 'entra-id': 'Entra ID' }[acc.access] || acc.access;
  treeEl = h('nav', { class: 'tree', 'aria-label': 'Databases and containers' });
  mainEl = h('main', { class: 'content', id: 'content', tabindex: '-1' });
  const header = h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'skip', href: '#content', onclick: (e) => { e.preventDefault(); mainEl.focus(); } }, 'Skip to content'),
    h('a', { class: 'brand', href: '#/' }, logo(), h('span', null, 'Cosmonaut'), h('span', { class: 'muted' }, 'Data Explorer')),
    h('span', { class: 'endpoint', title: 'Endpoint' }, location.host),
    h('span', { class: `badge ${acc.access}`, 'data-testid': 'access-badge' }, label),
    h('span', { class: 'spacer' }),
    h('a', { class: 'button', href: '#/account' }, 'Account'),
    h('button', { type: 'button', onclick: signOut, 'data-testid': 'signout' }, 'Sign out'),
  );
  clear(root, header, h('div', { class: 'layout' }, treeEl, mainEl));
  renderTree();
  route();
}

async function renderTree() {
  if (!treeEl) return;
  const head = h(
    'div',
    { class: 'tree-head' },
    h('h2', null, 'Data'),
    h('button', { type: 'button', class: 'small', 'aria-label': 'Refresh the tree', title: 'Refresh', onclick: () => { ctx.containers.clear(); renderTree(); } }, '↻'),
  );
  const newDb = h('button', { type: 'button', class: 'small', 'data-write': '', 'data-testid': 'new-database', onclick: () => createDatabaseDialog(ctx), disabled: access.readOnly || access.entra }, '+ New database');
  let dbs;
  try {
    dbs = await ctx.client.readAll(['dbs'], 'Databases');
  } catch (e) {
    clear(treeEl, head, notice('error', errorText(e)));
    return;
  }
  dbs.sort((a, b) => a.id.localeCompare(b.id));
  const list = h('ul', { class: 'tree-list' });
  for (const db of dbs) list.append(await dbNode(db.id));
  clear(treeEl, head, newDb, dbs.length ? list : h('p', { class: 'muted small-text' }, 'No databases yet.'));
  markCurrent();
}

function toggle(key, open) {
  if (open) ctx.expanded.add(key);
  else ctx.expanded.delete(key);
}

async function dbNode(db) {
  const open = ctx.expanded.has(db);
  const children = h('ul', { class: 'tree-list' });
  const btn = h('button', { type: 'button', class: 'twisty', 'aria-expanded': String(open), 'aria-label': `Expand ${db}` });
  const li = h('li', { class: 'db' }, h('div', { class: 'node' }, btn, h('a', { href: `#/db/${encodeURIComponent(db)}`, 'data-node': db }, h('span', { class: 'ico db-ico', 'aria-hidden': 'true' }), db)), children);
  const fill = async () => {
    children.hidden = !ctx.expanded.has(db);
    if (children.hidden) return;
    let colls;
    try {
      colls = await ctx.client.readAll(['dbs', db, 'colls'], 'DocumentCollections');
    } catch (e) {
      clear(children, h('li', null, notice('error', errorText(e))));
      return;
    }
    colls.sort((a, b) => a.id.localeCompare(b.id));
    for (const c of colls) ctx.containers.set(`${db}/${c.id}`, c);
    clear(children, colls.length ? colls.map((c) => collNode(db, c.id)) : h('li', { class: 'muted small-text' }, 'No containers'));
    markCurrent();
  };
  btn.addEventListener('click', () => {
    const now = !ctx.expanded.has(db);
    toggle(db, now);
    btn.setAttribute('aria-expanded', String(now));
    fill();
  });
  await fill();
  return li;
}

function collNode(db, coll) {
  const key = `${db}/${coll}`;
  const open = ctx.expanded.has(key);
  const base = `#/db/${encodeURIComponent(db)}/${encodeURIComponent(coll)}`;
  const leaves = [
    ['items', 'Items'],
    ['query', 'Query'],
    ['scripts', 'Scripts'],
    ['settings', 'Settings'],
    ['changefeed', 'Change feed'],
  ];
  const children = h(
    'ul',
    { class: 'tree-list leaves', hidden: !open },
    leaves.map(([v, label]) => h('li', null, h('a', { href: `${base}/${v}`, 'data-node': `${key}/${v}` }, label))),
  );
  const btn = h('button', { type: 'button', class: 'twisty', 'aria-expanded': String(open), 'aria-label': `Expand ${coll}` });
  btn.addEventListener('click', () => {
    const now = !ctx.expanded.has(key);
    toggle(key, now);
    btn.setAttribute('aria-expanded', String(now));
    children.hidden = !now;
  });
  return h('li', { class: 'coll' }, h('div', { class: 'node' }, btn, h('a', { href: `${base}/items`, 'data-node': key }, h('span', { class: 'ico coll-ico', 'aria-hidden': 'true' }), coll)), children);
}

function markCurrent() {
  if (!treeEl) return;
  const parts = parseHash();
  const cur = parts.slice(1).join('/');
  for (const a of treeEl.querySelectorAll('a[data-node]')) {
    if (a.dataset.node === cur) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

// ---------------------------------------------------------------- router

function parseHash() {
  return location.hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
}

function stopScreen() {
  if (typeof disposeScreen === 'function') {
    try {
      disposeScreen();
    } catch {
      /* a screen that fails to stop must not block the next one */
    }
  }
  disposeScreen = null;
}

async function route() {
  if (!ctx.client || !mainEl) return;
  stopScreen();
  const parts = parseHash();
  markCurrent();
  const screen = h('div', { class: 'screen' });
  clear(mainEl, screen);
  try {
    if (parts.length === 0) {
      document.title = 'Cosmonaut Data Explorer';
      disposeScreen = await renderHome(ctx, screen);
    } else if (parts[0] === 'account') {
      document.title = 'Account · Cosmonaut Data Explorer';
      disposeScreen = await renderAccount(ctx, screen);
    } else if (parts[0] === 'db' && parts.length === 2) {
      document.title = `${parts[1]} · Cosmonaut Data Explorer`;
      ensureOpen(parts[1]);
      disposeScreen = await renderDatabase(ctx, screen, parts[1]);
    } else if (parts[0] === 'db' && parts.length >= 3) {
      const [, db, coll, view = 'items'] = parts;
      document.title = `${coll} · ${db} · Cosmonaut Data Explorer`;
      ensureOpen(db, coll);
      const renderers = {
        items: renderItems,
        query: renderQuery,
        scripts: renderScripts,
        settings: renderSettings,
        changefeed: renderChangeFeed,
      };
      const render = renderers[view];
      if (!render) throw new Error(`No such screen: ${view}`);
      disposeScreen = await render(ctx, screen, db, coll, parts.slice(4));
    } else {
      screen.append(notice('error', 'No such page.'), h('a', { href: '#/' }, 'Back to the databases'));
    }
  } catch (e) {
    screen.append(notice('error', errorText(e)));
  }
}

function ensureOpen(db, coll) {
  let changed = false;
  if (!ctx.expanded.has(db)) {
    ctx.expanded.add(db);
    changed = true;
  }
  if (coll && !ctx.expanded.has(`${db}/${coll}`)) {
    ctx.expanded.add(`${db}/${coll}`);
    changed = true;
  }
  if (changed) renderTree();
}

window.addEventListener('hashchange', route);

// ---------------------------------------------------------------- start

(async () => {
  const saved = loadCredential();
  if (!saved) {
    showSignIn();
    return;
  }
  try {
    await signIn(saved);
    showShell();
  } catch (e) {
    sessionStorage.removeItem(SESSION_KEY);
    showSignIn(errorText(e));
  }
})();

window.addEventListener('unhandledrejection', (e) => toast(errorText(e.reason), 'error'));
