// A container's settings: what cannot change (id, partition key, unique
// keys), its usage, and the time to live and indexing policy, saved by
// replacing the container.

import { h, facts, statusLine, manageButton, toast, formatTs, access } from './ui.js';
import { codeEditor } from './editor.js';
import { containerUsage, deleteContainer, pkText, ttlPicker, offersByRid, throughputText } from './resources.js';
import { crumbs } from './items.js';

const SYSTEM_KEYS = ['_rid', '_ts', '_self', '_etag', '_docs', '_sprocs', '_triggers', '_udfs', '_conflicts'];

export async function renderSettings(ctx, el, db, coll) {
  const [{ container, count, sizeKb }, offers] = await Promise.all([containerUsage(ctx, db, coll), offersByRid(ctx)]);
  const status = statusLine();
  const ttl = ttlPicker(container.defaultTtl);
  const policy = codeEditor({ value: JSON.stringify(container.indexingPolicy || {}, null, 2), label: 'Indexing policy (JSON)', rows: 18, testid: 'settings-policy' });
  const save = manageButton({ class: 'primary', 'data-testid': 'settings-save' }, 'Save');
  const unique = ((container.uniqueKeyPolicy || {}).uniqueKeys || []).map((u) => u.paths.join(' + '));

  save.addEventListener('click', async () => {
    status.set();
    const parsed = policy.json(status, 'Indexing policy');
    if (!parsed) return;
    let ttlValue;
    try {
      ttlValue = ttl.value();
    } catch (e) {
      return status.set('error', e.message);
    }
    const current = await ctx.container(db, coll, true);
    const def = {};
    for (const [k, v] of Object.entries(current)) if (!SYSTEM_KEYS.includes(k)) def[k] = v;
    def.indexingPolicy = parsed.value;
    if (ttlValue === undefined) delete def.defaultTtl;
    else def.defaultTtl = ttlValue;
    save.disabled = true;
    try {
      const res = await ctx.client.request('PUT', ['dbs', db, 'colls', coll], { body: def });
      ctx.containers.set(`${db}/${coll}`, res.body);
      policy.value = JSON.stringify(res.body.indexingPolicy || {}, null, 2);
      status.set('success', 'Saved.');
      toast(`Saved the settings of ${coll}`, 'success');
    } catch (e) {
      status.error(e);
    }
    save.disabled = access.readOnly || access.entra;
  });

  el.append(
    h('div', { class: 'screen-head' }, h('div', null, crumbs(db, coll), h('h1', null, 'Settings'))),
    h(
      'div',
      { class: 'settings' },
      h(
        'section',
        { class: 'pane' },
        h('h2', null, 'Container'),
        facts([
          ['Id', container.id],
          ['Partition key', h('code', null, pkText(container))],
          ['Unique keys', unique.length ? unique.join('; ') : 'None'],
          ['Items', count === null ? '—' : count.toLocaleString()],
          ['Data size', sizeKb === null ? '—' : `${sizeKb.toLocaleString()} KB`],
          ['Throughput', offers.has(container._rid) ? throughputText(offers.get(container._rid)) : 'Shared with the database, or none'],
          ['Last modified', formatTs(container._ts)],
        ]),
        h('div', { class: 'danger-zone' }, h('h3', null, 'Delete'), h('p', { class: 'muted' }, 'Deleting a container removes its items and scripts.'), manageButton({ class: 'danger', 'data-testid': 'delete-container', onclick: () => deleteContainer(ctx, db, coll, status) }, 'Delete container')),
      ),
      h(
        'section',
        { class: 'pane' },
        h('h2', null, 'Settings'),
        ttl.el,
        h('div', { class: 'field' }, h('label', { for: (policy.textarea.id = 'settings-policy') }, 'Indexing policy'), policy.el),
        status,
        h('div', { class: 'actions left' }, save),
      ),
    ),
  );
}

