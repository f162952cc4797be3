// The change feed viewer: reads a container's changes from the beginning,
// from now or from a time, one feed per partition key range (or one
// partition key value), and polls for more by hand or every few seconds.

import { h, clear, field, statusLine, cellText, pkCell, formatTs, uid } from './ui.js';
import { codeEditor } from './editor.js';
import { partitionKeyOf, parsePartitionKeyInput } from './cosmos.js';
import { crumbs } from './items.js';

const POLL_MS = 3000;

export async function renderChangeFeed(ctx, el, db, coll) {
  const container = await ctx.container(db, coll);
  const pkDef = container.partitionKey || { paths: [] };
  const docsPath = ['dbs', db, 'colls', coll, 'docs'];
  let feeds = null; // [{headers, etag, started}]
  let start = 'beginning';
  let changes = [];
  let timer = null;
  let polling = false;
  let totalCharge = 0;

  const name = uid('cf');
  const radio = (value, label) =>
    h('label', { class: 'choice' }, h('input', { type: 'radio', name, value, checked: value === start, 'data-testid': `cf-${value}`, onchange: () => { start = value; when.disabled = value !== 'time'; } }), label);
  const when = h('input', { type: 'datetime-local', step: '1', 'aria-label': 'Start time (local)', disabled: true });
  when.value = new Date(Date.now() - 3600e3 - new Date().getTimezoneOffset() * 60e3).toISOString().slice(0, 19);
  const pkInput = h('input', { type: 'text', spellcheck: 'false', placeholder: 'all partitions', 'data-testid': 'cf-pk' });
  const startBtn = h('button', { type: 'button', class: 'primary', onclick: begin, 'data-testid': 'cf-start' }, 'Start');
  const pollBtn = h('button', { type: 'button', onclick: () => poll(), disabled: true, 'data-testid': 'cf-poll' }, 'Poll now');
  const auto = h('input', { type: 'checkbox', id: uid('auto'), disabled: true, 'data-testid': 'cf-auto', onchange: () => setAuto(auto.checked) });
  const status = statusLine();
  const info = h('span', { class: 'muted small-text', 'aria-live': 'polite', 'data-testid': 'cf-info' });
  const tbody = h('tbody');
  const viewer = codeEditor({ label: 'Change (JSON)', rows: 22, readOnly: true });
  const viewerPane = h('section', { class: 'pane editor-pane', hidden: true, 'aria-label': 'Change' }, h('div', { class: 'pane-head' }, h('h2', null, 'Change')), viewer.el);

  el.append(
    h('div', { class: 'screen-head' }, h('div', null, crumbs(db, coll), h('h1', null, 'Change feed'))),
    h(
      'section',
      { class: 'pane cf-controls' },
      h('fieldset', { class: 'choices' }, h('legend', null, 'Start from'), radio('beginning', 'The beginning'), radio('now', 'Now'), radio('time', 'A time'), when),
      field('Partition key value', pkInput),
      h('div', { class: 'actions left' }, startBtn, pollBtn, h('label', { class: 'choice', for: auto.id }, auto, `Poll every ${POLL_MS / 1000} s`)),
    ),
    status,
    h(
      'div',
      { class: 'split' },
      h(
        'section',
        { class: 'pane list-pane', 'aria-label': 'Changes' },
        h('div', { class: 'pane-head' }, h('h2', null, 'Changes'), h('span', { class: 'spacer' }), info),
        h('div', { class: 'table-wrap' }, h('table', { class: 'grid selectable', 'data-testid': 'cf-table' }, h('thead', null, h('tr', null, h('th', null, 'id'), pkDef.paths.map((p) => h('th', null, p)), h('th', null, '_lsn'), h('th', null, '_ts'))), tbody)),
      ),
      viewerPane,
    ),
  );
  renderRows();

  async function begin() {
    status.set();
    setAuto(false);
    changes = [];
    totalCharge = 0;
    const startHeaders = { 'a-im': 'Incremental feed', 'x-ms-max-item-count': '100' };
    if (start === 'now') startHeaders['if-none-match'] = '*';
    if (start === 'time') {
      const t = new Date(when.value);
      if (Number.isNaN(t.getTime())) return status.set('error', 'Choose a start time.');
      startHeaders['if-modified-since'] = t.toUTCString();
    }
    const key = parsePartitionKeyInput(pkInput.value);
    try {
      if (key) {
        feeds = [{ headers: { ...startHeaders, 'x-ms-documentdb-partitionkey': JSON.stringify(key) }, etag: null }];
      } else {
        const ranges = await ctx.client.readAll(['dbs', db, 'colls', coll, 'pkranges'], 'PartitionKeyRanges');
        feeds = ranges.map((r) => ({ headers: { ...startHeaders, 'x-ms-documentdb-partitionkeyrangeid': r.id }, etag: null }));
      }
    } catch (e) {
      status.error(e);
      return;
    }
    pollBtn.disabled = false;
    auto.disabled = false;
    renderRows();
    await poll();
  }

  async function poll() {
    if (!feeds || polling) return;
    polling = true;
    pollBtn.disabled = true;
    let added = 0;
    try {
      for (const f of feeds) {
        for (let round = 0; round < 50; round++) {
          const headers = { ...f.headers };
          if (f.etag) {
            delete headers['if-modified-since'];
            headers['if-none-match'] = f.etag;
          }
          const res = await ctx.client.request('GET', docsPath, { headers });
          totalCharge += res.charge;
          const etag = res.headers.get('etag');
          if (etag) f.etag = etag;
          if (res.status === 304) break;
          const docs = (res.body && res.body.Documents) || [];
          changes.push(...docs);
          added += docs.length;
          if (docs.length === 0) break;
        }
      }
      status.set();
    } catch (e) {
      status.error(e);
    }
    polling = false;
    pollBtn.disabled = false;
    info.textContent = `${changes.length} change${changes.length === 1 ? '' : 's'} · last poll ${new Date().toLocaleTimeString()} (+${added}) · ${totalCharge.toFixed(2)} RU`;
    if (added) renderRows();
  }

  function setAuto(on) {
    auto.checked = on;
    if (timer) clearInterval(timer);
    timer = on ? setInterval(poll, POLL_MS) : null;
  }

  function renderRows() {
    if (!feeds) {
      clear(tbody, h('tr', null, h('td', { colspan: String(3 + pkDef.paths.length), class: 'muted' }, 'Choose where to start and press Start.')));
      return;
    }
    if (!changes.length) {
      clear(tbody, h('tr', null, h('td', { colspan: String(3 + pkDef.paths.length), class: 'muted' }, 'No changes yet.')));
      return;
    }
    const sorted = changes.slice().sort((a, b) => (b._lsn || 0) - (a._lsn || 0));
    clear(
      tbody,
      sorted.map((d) =>
        h(
          'tr',
          null,
          h('td', null, h('button', { type: 'button', class: 'link', onclick: () => { viewer.value = JSON.stringify(d, null, 2); viewerPane.hidden = false; } }, cellText(d.id))),
          partitionKeyOf(d, pkDef).map((v) => h('td', null, pkCell(v))),
          h('td', { class: 'num' }, cellText(d._lsn)),
          h('td', { class: 'muted' }, formatTs(d._ts)),
        ),
      ),
    );
  }

  return () => setAuto(false);
}
