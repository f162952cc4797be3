// The items screen: a paged list, a JSON editor for one item, upload of a
// JSON file and download of what is listed.

import { h, add, clear, notice, errorText, writeButton, confirmDialog, dialog, statusLine, toast, download, formatTs, cellText, pkCell, access } from './ui.js';
import { codeEditor, parseJson } from './editor.js';
import { partitionKeyOf } from './cosmos.js';
import { openQuery } from './query-engine.js';

const PAGE = 50;
const SYSTEM = ['_rid', '_self', '_etag', '_attachments', '_ts', '_lsn'];

/** Columns for a table of results: the keys of the first rows, system ones last. */
export function columnsOf(rows) {
  const seen = new Set();
  for (const r of rows.slice(0, 200)) {
    if (r && typeof r === 'object' && !Array.isArray(r)) for (const k of Object.keys(r)) seen.add(k);
  }
  if (seen.size === 0) return null;
  const cols = [...seen];
  const rank = (k) => (k === 'id' ? -1 : SYSTEM.includes(k) ? 1 : 0);
  return cols.sort((a, b) => rank(a) - rank(b));
}

export function toCsv(rows) {
  const cols = columnsOf(rows);
  const q = (v) => {
    const s = v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  if (!cols) return ['value', ...rows.map((r) => q(r))].join('\r\n') + '\r\n';
  const lines = [cols.map(q).join(',')];
  for (const r of rows) lines.push(cols.map((c) => q(r && typeof r === 'object' ? r[c] : undefined)).join(','));
  return lines.join('\r\n') + '\r\n';
}

export function downloadButtons(getRows, name) {
  return [
    h('button', { type: 'button', class: 'small', 'data-testid': 'download-json', onclick: () => download(`${name}.json`, JSON.stringify(getRows(), null, 2), 'application/json') }, 'Download JSON'),
    h('button', { type: 'button', class: 'small', 'data-testid': 'download-csv', onclick: () => download(`${name}.csv`, toCsv(getRows()), 'text/csv') }, 'Download CSV'),
  ];
}

function stripSystem(doc) {
  return JSON.stringify(doc, null, 2);
}

export async function renderItems(ctx, el, db, coll) {
  const container = await ctx.container(db, coll);
  const pkDef = container.partitionKey || { paths: [] };
  const docsLink = ['dbs', db, 'colls', coll, 'docs'];
  let rows = [];
  let continuation = false;
  let current = null; // {doc, isNew}
  let savedText = '';

  const listStatus = statusLine('items-status');
  const editStatus = statusLine('item-status');
  const filter = h('input', { type: 'text', spellcheck: 'false', placeholder: 'WHERE c.status = "active"', 'aria-label': 'Filter (a WHERE clause)', 'data-testid': 'items-filter' });
  const tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'small', hidden: true, onclick: () => load(false), 'data-testid': 'items-more' }, 'Load more');
  const countText = h('span', { class: 'muted small-text' });

  const editor = codeEditor({ label: 'Item JSON', rows: 24, testid: 'item-editor' });
  const editorTitle = h('h2', null, 'No item open');
  const saveBtn = writeButton({ class: 'primary', onclick: save, 'data-testid': 'item-save' }, 'Save');
  const discardBtn = h('button', { type: 'button', onclick: discard }, 'Discard changes');
  const deleteBtn = writeButton({ class: 'danger', onclick: remove, 'data-testid': 'item-delete' }, 'Delete');
  const charge = h('span', { class: 'muted small-text', 'data-testid': 'item-charge' });
  const editorPane = h(
    'section',
    { class: 'pane editor-pane', 'aria-label': 'Item editor', hidden: true },
    h('div', { class: 'pane-head' }, editorTitle, h('span', { class: 'spacer' }), charge),
    editor.el,
    editStatus,
    h('div', { class: 'actions left' }, saveBtn, discardBtn, deleteBtn),
  );
  const placeholder = h('div', { class: 'pane placeholder' }, h('p', { class: 'muted' }, 'Select an item to see and edit its JSON, or create a new one.'));
  editor.textarea.addEventListener('keydown', (e) => {
    if (e.key === 's' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      save();
    }
  });

  const pkHeads = pkDef.paths.map((p) => h('th', null, p));
  el.append(
    h(
      'div',
      { class: 'screen-head' },
      h('div', null, crumbs(db, coll), h('h1', null, 'Items')),
      h('span', { class: 'spacer' }),
      writeButton({ class: 'primary', onclick: newItem, 'data-testid': 'new-item' }, 'New item'),
      writeButton({ onclick: () => uploadDialog(ctx, db, coll, pkDef).then(() => load(true)), 'data-testid': 'upload-items' }, 'Upload JSON'),
    ),
    h(
      'div',
      { class: 'split' },
      h(
        'section',
        { class: 'pane list-pane', 'aria-label': 'Items' },
        h(
          'form',
          { class: 'filter-row', onsubmit: (e) => { e.preventDefault(); load(true); } },
          h('code', { class: 'muted' }, 'SELECT * FROM c'),
          filter,
          h('button', { type: 'submit', class: 'small' }, 'Apply'),
        ),
        listStatus,
        h('div', { class: 'table-wrap' }, h('table', { class: 'grid selectable', 'data-testid': 'items-table' }, h('thead', null, h('tr', null, h('th', null, 'id'), pkHeads, h('th', null, '_ts'))), tbody)),
        h('div', { class: 'list-foot' }, more, countText, h('span', { class: 'spacer' }), ...downloadButtons(() => rows, coll)),
      ),
      placeholder,
      editorPane,
    ),
  );

  function row(doc) {
    const pk = partitionKeyOf(doc, pkDef);
    const open = h('button', { type: 'button', class: 'link', onclick: () => openItem(doc), 'data-testid': 'item-row' }, cellText(doc.id));
    const tr = h('tr', null, h('td', null, open), pk.map((v) => h('td', null, pkCell(v))), h('td', { class: 'muted' }, formatTs(doc._ts)));
    tr.doc = doc;
    return tr;
  }

  function renderRows() {
    clear(tbody, rows.map(row));
    if (rows.length === 0) tbody.append(h('tr', null, h('td', { colspan: String(2 + pkDef.paths.length), class: 'muted' }, 'No items.')));
    more.hidden = !continuation;
    countText.textContent = rows.length ? `${rows.length} item${rows.length === 1 ? '' : 's'} loaded${continuation ? ', more to load' : ''}` : '';
    markOpen();
  }

  function markOpen() {
    for (const tr of tbody.children) {
      if (!tr.doc) continue;
      const isOpen = current && !current.isNew && tr.doc.id === current.doc.id && JSON.stringify(partitionKeyOf(tr.doc, pkDef)) === JSON.stringify(partitionKeyOf(current.doc, pkDef));
      tr.classList.toggle('selected', !!isOpen);
    }
  }

  let cursor = null;
  async function load(reset) {
    listStatus.set();
    if (reset || !cursor) {
      rows = [];
      const where = filter.value.trim();
      cursor = openQuery(ctx.client, db, coll, { query: `SELECT * FROM c ${where}`.trim(), parameters: [], pageSize: PAGE });
    }
    more.disabled = true;
    try {
      const { docs } = await cursor.next();
      rows = rows.concat(docs);
    } catch (e) {
      listStatus.error(e);
    }
    continuation = cursor.hasMore;
    more.disabled = false;
    renderRows();
  }

  function dirty() {
    return current && editor.value !== savedText;
  }

  async function leaveOk() {
    if (!dirty()) return true;
    return confirmDialog('Discard changes?', 'The open item has changes that are not saved.', { action: 'Discard', danger: true });
  }

  function show(doc, isNew) {
    current = { doc, isNew };
    savedText = isNew ? '' : stripSystem(doc);
    editor.value = isNew ? JSON.stringify(doc, null, 2) : savedText;
    if (isNew) savedText = editor.value;
    editorTitle.textContent = isNew ? 'New item' : `Item ${doc.id}`;
    deleteBtn.hidden = isNew;
    editStatus.set();
    placeholder.hidden = true;
    editorPane.hidden = false;
    markOpen();
  }

  async function openItem(doc) {
    if (!(await leaveOk())) return;
    const pk = partitionKeyOf(doc, pkDef);
    try {
      const res = await ctx.client.request('GET', [...docsLink, doc.id], { headers: { 'x-ms-documentdb-partitionkey': JSON.stringify(pk) } });
      charge.textContent = `${res.charge} RU`;
      show(res.body, false);
    } catch (e) {
      show(doc, false);
      editStatus.error(e);
    }
    editor.textarea.focus();
  }

  async function newItem() {
    if (!(await leaveOk())) return;
    const template = { id: crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) };
    for (const p of pkDef.paths) {
      const segs = p.split('/').filter(Boolean);
      let o = template;
      segs.forEach((s, i) => {
        if (i === segs.length - 1) o[s] = o[s] ?? '';
        else o = o[s] = o[s] || {};
      });
    }
    charge.textContent = '';
    show(template, true);
    editor.textarea.focus();
  }

  async function save() {
    if (!current || access.readOnly) return;
    editStatus.set();
    const parsed = editor.json(editStatus);
    if (!parsed) return;
    const doc = parsed.value;
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
      editStatus.set('error', 'An item must be a JSON object.');
      return;
    }
    const pk = JSON.stringify(partitionKeyOf(doc, pkDef));
    saveBtn.disabled = true;
    try {
      let res;
      if (current.isNew) {
        res = await ctx.client.request('POST', docsLink, { body: doc, headers: { 'x-ms-documentdb-partitionkey': pk } });
        rows.unshift(res.body);
      } else {
        res = await ctx.client.request('PUT', [...docsLink, current.doc.id], { body: doc, headers: { 'x-ms-documentdb-partitionkey': pk } });
        const i = rows.findIndex((r) => r.id === current.doc.id && JSON.stringify(partitionKeyOf(r, pkDef)) === pk);
        if (i >= 0) rows[i] = res.body;
      }
      const wasNew = current.isNew;
      charge.textContent = `${res.charge} RU`;
      show(res.body, false);
      renderRows();
      editStatus.set('success', wasNew ? `Created (${res.charge} RU).` : `Saved (${res.charge} RU).`);
    } catch (e) {
      // The user's text stays in the editor, as typed.
      editStatus.error(e);
    }
    saveBtn.disabled = access.readOnly;
  }

  function discard() {
    if (!current) return;
    if (current.isNew) {
      current = null;
      editorPane.hidden = true;
      placeholder.hidden = false;
      return;
    }
    editor.value = savedText;
    editStatus.set();
  }

  async function remove() {
    if (!current || current.isNew) return;
    const doc = current.doc;
    const ok = await confirmDialog('Delete item', `Delete the item "${doc.id}"? This cannot be undone.`);
    if (!ok) return;
    const pk = JSON.stringify(partitionKeyOf(doc, pkDef));
    try {
      await ctx.client.request('DELETE', [...docsLink, doc.id], { headers: { 'x-ms-documentdb-partitionkey': pk } });
      rows = rows.filter((r) => !(r.id === doc.id && JSON.stringify(partitionKeyOf(r, pkDef)) === pk));
      current = null;
      editorPane.hidden = true;
      placeholder.hidden = false;
      renderRows();
      toast(`Deleted the item ${doc.id}`);
    } catch (e) {
      editStatus.error(e);
    }
  }

  await load(true);
}

export function crumbs(db, coll) {
  return h(
    'div',
    { class: 'crumbs' },
    h('a', { href: '#/' }, 'Databases'),
    ' / ',
    h('a', { href: `#/db/${encodeURIComponent(db)}` }, db),
    ' / ',
    h('a', { href: `#/db/${encodeURIComponent(db)}/${encodeURIComponent(coll)}/items` }, coll),
  );
}

function uploadDialog(ctx, db, coll, pkDef) {
  return dialog(`Upload items to ${coll}`, (body, close) => {
    const file = h('input', { type: 'file', accept: '.json,application/json', 'data-testid': 'upload-file' });
    const progress = h('progress', { max: '1', value: '0', hidden: true });
    const progressText = h('span', { class: 'muted small-text', 'aria-live': 'polite' });
    const result = h('div', { 'data-testid': 'upload-result' });
    const start = writeButton({ class: 'primary', 'data-testid': 'upload-start' }, 'Upload');
    const closeBtn = h('button', { type: 'button', onclick: () => close() }, 'Close');
    start.addEventListener('click', async () => {
      clear(result);
      const f = file.files && file.files[0];
      if (!f) return result.append(notice('error', 'Choose a JSON file.'));
      const parsed = parseJson(await f.text());
      if (parsed.error) return result.append(notice('error', `${f.name}: ${parsed.error}`));
      const items = Array.isArray(parsed.value) ? parsed.value : [parsed.value];
      start.disabled = true;
      file.disabled = true;
      progress.hidden = false;
      progress.max = items.length;
      progress.value = 0;
      let created = 0;
      let charge = 0;
      const failures = [];
      let next = 0;
      const worker = async () => {
        while (next < items.length) {
          const i = next++;
          const item = items[i];
          try {
            if (!item || typeof item !== 'object' || Array.isArray(item)) throw new Error('not a JSON object');
            if (item.id === undefined) item.id = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${i}`;
            const res = await ctx.client.request('POST', ['dbs', db, 'colls', coll, 'docs'], {
              body: item,
              headers: { 'x-ms-documentdb-partitionkey': JSON.stringify(partitionKeyOf(item, pkDef)) },
            });
            created += 1;
            charge += res.charge;
          } catch (e) {
            failures.push({ index: i, id: item && item.id, message: errorText(e) });
          }
          progress.value += 1;
          progressText.textContent = `${progress.value} of ${items.length}`;
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      failures.sort((a, b) => a.index - b.index);
      add(
        result,
        notice(failures.length ? (created ? 'info' : 'error') : 'success', `Created ${created} of ${items.length} item${items.length === 1 ? '' : 's'}; ${failures.length} failed. ${charge.toFixed(2)} RU.`),
        failures.length
          ? h(
              'ul',
              { class: 'failures' },
              failures.slice(0, 100).map((f) => h('li', null, h('strong', null, `#${f.index + 1}${f.id !== undefined ? ` (${cellText(f.id)})` : ''}: `), f.message)),
            )
          : null,
      );
      file.disabled = false;
      start.disabled = false;
    });
    body.append(
      h('p', { class: 'muted' }, 'A JSON file with one item or an array of items. Items without an id get a generated one; each item is created with the partition key read from it.'),
      h('div', { class: 'field' }, h('label', { for: (file.id = 'upload-file') }, 'JSON file'), file),
      h('div', { class: 'progress-row' }, progress, progressText),
      result,
      h('div', { class: 'actions' }, closeBtn, start),
    );
  });
}
