// Databases and containers: the home list, a database's page, and the
// dialogs that create and delete them.

import { h, clear, field, manageButton, confirmDialog, dialog, statusLine, toast, formatTs, uid } from './ui.js';
import { codeEditor } from './editor.js';
import { parsePairs } from './cosmos.js';

const DEFAULT_POLICY = {
  indexingMode: 'consistent',
  automatic: true,
  includedPaths: [{ path: '/*' }],
  excludedPaths: [{ path: '/"_etag"/?' }],
};

/** Offers (throughput) of the account, by the resource's _rid. */
export async function offersByRid(ctx) {
  const map = new Map();
  try {
    const offers = await ctx.client.readAll(['offers'], 'Offers');
    for (const o of offers) map.set(o.offerResourceId, o);
  } catch {
    /* throughput is extra information; a caller that may not read offers still sees the rest */
  }
  return map;
}

export function throughputText(offer, shared) {
  if (!offer) return shared ? 'Shared (database)' : 'None';
  const c = offer.content || {};
  const auto = c.offerAutopilotSettings;
  if (auto && auto.maxThroughput) return `Autoscale, max ${auto.maxThroughput} RU/s`;
  return `${c.offerThroughput} RU/s (manual)`;
}

/** Container usage from x-ms-resource-usage: {documentsCount, documentsSize (KB)}. */
export async function containerUsage(ctx, db, coll) {
  const res = await ctx.client.request('GET', ['dbs', db, 'colls', coll], {
    headers: { 'x-ms-documentdb-populatequotainfo': 'true' },
  });
  const usage = parsePairs(res.headers.get('x-ms-resource-usage'));
  ctx.containers.set(`${db}/${coll}`, res.body);
  return {
    container: res.body,
    count: usage.documentsCount !== undefined ? Number(usage.documentsCount) : null,
    sizeKb: usage.documentsSize !== undefined ? Number(usage.documentsSize) : null,
  };
}

export function pkText(container) {
  const pk = container.partitionKey || {};
  return (pk.paths || []).join(', ') + (pk.kind === 'MultiHash' ? ' (hierarchical)' : '');
}

export function ttlText(container) {
  const t = container.defaultTtl;
  if (t === undefined || t === null) return 'Off';
  if (t === -1) return 'On (no default)';
  return `${t} s`;
}

// ---------------------------------------------------------------- home

export async function renderHome(ctx, el) {
  const body = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  el.append(
    h(
      'div',
      { class: 'screen-head' },
      h('h1', null, 'Databases'),
      h('span', { class: 'spacer' }),
      manageButton({ class: 'primary', onclick: () => createDatabaseDialog(ctx), 'data-testid': 'home-new-database' }, 'New database'),
    ),
    body,
  );
  const [dbs, offers] = await Promise.all([ctx.client.readAll(['dbs'], 'Databases'), offersByRid(ctx)]);
  dbs.sort((a, b) => a.id.localeCompare(b.id));
  if (dbs.length === 0) {
    clear(body, h('div', { class: 'empty' }, h('p', null, 'This account has no databases yet.'), manageButton({ class: 'primary', onclick: () => createDatabaseDialog(ctx) }, 'Create the first database')));
    return;
  }
  clear(
    body,
    h(
      'table',
      { class: 'grid' },
      h('thead', null, h('tr', null, h('th', null, 'Database'), h('th', null, 'Throughput'), h('th', null, 'Last modified'))),
      h(
        'tbody',
        null,
        dbs.map((d) =>
          h(
            'tr',
            null,
            h('td', null, h('a', { href: `#/db/${encodeURIComponent(d.id)}` }, d.id)),
            h('td', null, offers.has(d._rid) ? throughputText(offers.get(d._rid)) : 'Per container'),
            h('td', null, formatTs(d._ts)),
          ),
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------- database

export async function renderDatabase(ctx, el, db) {
  const status = statusLine();
  const body = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  el.append(
    h(
      'div',
      { class: 'screen-head' },
      h('div', null, h('div', { class: 'crumbs' }, h('a', { href: '#/' }, 'Databases')), h('h1', null, db)),
      h('span', { class: 'spacer' }),
      manageButton({ class: 'primary', onclick: () => createContainerDialog(ctx, db), 'data-testid': 'new-container' }, 'New container'),
      manageButton({ class: 'danger', onclick: () => deleteDatabase(ctx, db, status), 'data-testid': 'delete-database' }, 'Delete database'),
    ),
    status,
    body,
  );
  const [dbRes, colls, offers] = await Promise.all([
    ctx.client.request('GET', ['dbs', db]),
    ctx.client.readAll(['dbs', db, 'colls'], 'DocumentCollections'),
    offersByRid(ctx),
  ]);
  colls.sort((a, b) => a.id.localeCompare(b.id));
  const rows = colls.map((c) => {
    const count = h('td', { class: 'num' }, '…');
    const size = h('td', { class: 'num' }, '…');
    containerUsage(ctx, db, c.id).then(
      (u) => {
        count.textContent = u.count === null ? '—' : u.count.toLocaleString();
        size.textContent = u.sizeKb === null ? '—' : `${u.sizeKb.toLocaleString()} KB`;
      },
      () => {
        count.textContent = '—';
        size.textContent = '—';
      },
    );
    const base = `#/db/${encodeURIComponent(db)}/${encodeURIComponent(c.id)}`;
    return h(
      'tr',
      null,
      h('td', null, h('a', { href: `${base}/items` }, c.id)),
      h('td', null, h('code', null, pkText(c))),
      count,
      size,
      h('td', null, ttlText(c)),
      h('td', null, throughputText(offers.get(c._rid), offers.has(dbRes.body._rid))),
      h('td', { class: 'links' }, h('a', { href: `${base}/query` }, 'Query'), ' ', h('a', { href: `${base}/settings` }, 'Settings')),
    );
  });
  clear(
    body,
    h('p', { class: 'muted' }, `Database throughput: ${offers.has(dbRes.body._rid) ? throughputText(offers.get(dbRes.body._rid)) : 'none (each container has its own)'}`),
    colls.length
      ? h(
          'table',
          { class: 'grid', 'data-testid': 'containers-table' },
          h(
            'thead',
            null,
            h('tr', null, ['Container', 'Partition key', 'Items', 'Size', 'TTL', 'Throughput', ''].map((t) => h('th', null, t))),
          ),
          h('tbody', null, rows),
        )
      : h('div', { class: 'empty' }, h('p', null, 'No containers in this database yet.'), manageButton({ class: 'primary', onclick: () => createContainerDialog(ctx, db) }, 'Create a container')),
  );
}

async function deleteDatabase(ctx, db, status) {
  const ok = await confirmDialog('Delete database', `This deletes the database "${db}" with all its containers and items. It cannot be undone.`, { typeToConfirm: db });
  if (!ok) return;
  try {
    await ctx.client.request('DELETE', ['dbs', db]);
    toast(`Deleted the database ${db}`);
    ctx.expanded.delete(db);
    ctx.refreshTree();
    ctx.navigate('#/');
  } catch (e) {
    status.error(e);
  }
}

export async function deleteContainer(ctx, db, coll, status) {
  const ok = await confirmDialog('Delete container', `This deletes the container "${coll}" with all its items and scripts. It cannot be undone.`, { typeToConfirm: coll });
  if (!ok) return;
  try {
    await ctx.client.request('DELETE', ['dbs', db, 'colls', coll]);
    toast(`Deleted the container ${coll}`);
    ctx.containers.delete(`${db}/${coll}`);
    ctx.refreshTree();
    ctx.navigate(`#/db/${encodeURIComponent(db)}`);
  } catch (e) {
    status.error(e);
  }
}

// ---------------------------------------------------------------- throughput

/** Radio buttons for none / manual / autoscale and the RU/s figure. */
function throughputPicker(allowNone, noneLabel) {
  const name = uid('tp');
  let mode = allowNone ? 'none' : 'manual';
  const amount = h('input', { type: 'number', min: '400', step: '100', value: '400', 'aria-label': 'Throughput in RU/s', 'data-testid': 'throughput-amount' });
  const choice = (value, label) =>
    h(
      'label',
      { class: 'choice' },
      h('input', {
        type: 'radio',
        name,
        value,
        checked: value === mode,
        onchange: () => {
          mode = value;
          amount.disabled = value === 'none';
          amount.value = value === 'autoscale' ? '4000' : '400';
          amount.min = value === 'autoscale' ? '1000' : '400';
        },
      }),
      label,
    );
  amount.disabled = mode === 'none';
  const el = h(
    'fieldset',
    { class: 'choices' },
    h('legend', null, 'Throughput'),
    allowNone ? choice('none', noneLabel) : null,
    choice('manual', 'Manual'),
    choice('autoscale', 'Autoscale'),
    h('label', { class: 'inline' }, amount, ' RU/s'),
  );
  return {
    el,
    headers() {
      const n = Number(amount.value);
      if (mode === 'manual') return { 'x-ms-offer-throughput': String(n) };
      if (mode === 'autoscale') return { 'x-ms-cosmos-offer-autopilot-settings': JSON.stringify({ maxThroughput: n }) };
      return {};
    },
  };
}

// ---------------------------------------------------------------- create database

export function createDatabaseDialog(ctx) {
  return dialog('New database', (body, close) => {
    const id = h('input', { type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', 'data-testid': 'database-id' });
    const tp = throughputPicker(true, 'None (each container sets its own)');
    const status = statusLine();
    const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-database' }, 'Create');
    const form = h(
      'form',
      null,
      field('Database id', id),
      tp.el,
      status,
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => close() }, 'Cancel'), submit),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const dbId = id.value.trim();
      if (!dbId) return status.set('error', 'Enter an id.');
      submit.disabled = true;
      try {
        await ctx.client.request('POST', ['dbs'], { body: { id: dbId }, headers: tp.headers() });
        toast(`Created the database ${dbId}`, 'success');
        ctx.expanded.add(dbId);
        ctx.refreshTree();
        close(dbId);
        ctx.navigate(`#/db/${encodeURIComponent(dbId)}`);
      } catch (err) {
        status.error(err);
        submit.disabled = false;
      }
    });
    body.append(form);
  });
}

// ---------------------------------------------------------------- create container

/** The TTL picker: off, on with no default (-1), or a number of seconds. */
export function ttlPicker(current) {
  const name = uid('ttl');
  let mode = current === undefined || current === null ? 'off' : current === -1 ? 'on' : 'seconds';
  const secs = h('input', { type: 'number', min: '1', value: mode === 'seconds' ? String(current) : '86400', 'aria-label': 'Default time to live in seconds', 'data-testid': 'ttl-seconds' });
  secs.disabled = mode !== 'seconds';
  const choice = (value, label) =>
    h(
      'label',
      { class: 'choice' },
      h('input', { type: 'radio', name, value, checked: value === mode, 'data-testid': `ttl-${value}`, onchange: () => { mode = value; secs.disabled = value !== 'seconds'; } }),
      label,
    );
  return {
    el: h('fieldset', { class: 'choices' }, h('legend', null, 'Time to live'), choice('off', 'Off'), choice('on', 'On (no default)'), choice('seconds', 'On, items expire after'), h('label', { class: 'inline' }, secs, ' seconds')),
    /** undefined for off; -1; or seconds. Throws on a bad number. */
    value() {
      if (mode === 'off') return undefined;
      if (mode === 'on') return -1;
      const n = Number(secs.value);
      if (!Number.isInteger(n) || n < 1) throw new Error('The time to live must be a whole number of seconds, at least 1.');
      return n;
    },
  };
}

export function createContainerDialog(ctx, db) {
  return dialog(
    `New container in ${db}`,
    (body, close) => {
      const id = h('input', { type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', 'data-testid': 'container-id' });
      const pkInputs = h('div', { class: 'pk-paths' });
      const addPath = (value = '') => {
        const n = pkInputs.children.length;
        const input = h('input', { type: 'text', value, spellcheck: 'false', placeholder: n === 0 ? '/pk' : '/path', 'aria-label': `Partition key path ${n + 1}`, 'data-testid': `pk-path-${n + 1}` });
        pkInputs.append(input);
        addLevel.hidden = pkInputs.children.length >= 3;
        return input;
      };
      const addLevel = h('button', { type: 'button', class: 'small', onclick: () => addPath().focus() }, '+ Add a level (hierarchical key)');
      addPath();

      const tp = throughputPicker(true, "None (use the database's)");
      const ttl = ttlPicker(undefined);
      const unique = h('textarea', { rows: '2', spellcheck: 'false', placeholder: '/email\n/tenant, /name', 'data-testid': 'unique-keys' });
      const policy = codeEditor({ value: JSON.stringify(DEFAULT_POLICY, null, 2), label: 'Indexing policy (JSON)', rows: 9, testid: 'indexing-policy' });
      const status = statusLine();
      const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-container' }, 'Create');
      const form = h(
        'form',
        { class: 'create-container' },
        h(
          'div',
          { class: 'cols' },
          h(
            'div',
            null,
            field('Container id', id),
            h('div', { class: 'field' }, h('label', { for: pkInputs.firstChild.id || (pkInputs.firstChild.id = uid()) }, 'Partition key'), pkInputs, addLevel, h('div', { class: 'hint' }, 'A path such as /tenantId. Up to three levels make a hierarchical key.')),
            tp.el,
            ttl.el,
            field('Unique keys', unique, 'One unique key a line; a key of several paths separates them with commas.'),
          ),
          h('div', null, h('div', { class: 'field' }, h('label', { for: policy.textarea.id || (policy.textarea.id = uid()) }, 'Indexing policy'), policy.el)),
        ),
        status,
        h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => close() }, 'Cancel'), submit),
      );
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        status.set();
        const collId = id.value.trim();
        if (!collId) return status.set('error', 'Enter an id.');
        const paths = [...pkInputs.querySelectorAll('input')].map((i) => i.value.trim()).filter(Boolean);
        if (paths.length === 0) return status.set('error', 'Enter a partition key path, such as /pk.');
        const parsed = policy.json(status, 'Indexing policy');
        if (!parsed) return;
        let ttlValue;
        try {
          ttlValue = ttl.value();
        } catch (err) {
          return status.set('error', err.message);
        }
        const def = {
          id: collId,
          partitionKey: { paths, kind: paths.length > 1 ? 'MultiHash' : 'Hash', version: 2 },
          indexingPolicy: parsed.value,
        };
        if (ttlValue !== undefined) def.defaultTtl = ttlValue;
        const uniqueKeys = unique.value
          .split('\n')
          .map((l) => l.split(',').map((p) => p.trim()).filter(Boolean))
          .filter((p) => p.length)
          .map((p) => ({ paths: p }));
        if (uniqueKeys.length) def.uniqueKeyPolicy = { uniqueKeys };
        submit.disabled = true;
        try {
          await ctx.client.request('POST', ['dbs', db, 'colls'], { body: def, headers: tp.headers() });
          toast(`Created the container ${collId}`, 'success');
          ctx.expanded.add(db);
          ctx.expanded.add(`${db}/${collId}`);
          ctx.refreshTree();
          close(collId);
          ctx.navigate(`#/db/${encodeURIComponent(db)}/${encodeURIComponent(collId)}/items`);
        } catch (err) {
          status.error(err);
          submit.disabled = false;
        }
      });
      body.append(form);
    },
    { wide: true },
  );
}

export { DEFAULT_POLICY };
