// The query screen: editor, parameters, partition key scope, results as JSON
// or a table, metrics, paging and a per-browser history.

import { h, clear, field, errorText, statusLine, tabs, cellText, formatTs } from './ui.js';
import { sqlEditor, parseJson, codeEditor } from './editor.js';
import { parsePartitionKeyInput } from './cosmos.js';
import { openQuery } from './query-engine.js';
import { columnsOf, downloadButtons, crumbs } from './items.js';

const HISTORY_KEY = 'cosmonaut.explorer.queryHistory';
const HISTORY_MAX = 50;

function loadHistory() {
  try {
    const v = JSON.parse(localStorage.getItem(HISTORY_KEY) || '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

function remember(entry) {
  const list = loadHistory().filter((e) => !(e.query === entry.query && JSON.stringify(e.parameters) === JSON.stringify(entry.parameters) && e.container === entry.container));
  list.unshift(entry);
  try {
    localStorage.setItem(HISTORY_KEY, JSON.stringify(list.slice(0, HISTORY_MAX)));
  } catch {
    /* a full or disabled storage only loses the history */
  }
}

export async function renderQuery(ctx, el, db, coll) {
  const container = await ctx.container(db, coll);
  const key = `${db}/${coll}`;
  const saved = ctx.queryState.get(key) || { query: 'SELECT * FROM c', parameters: [], pk: '', view: 'json' };
  ctx.queryState.set(key, saved);

  let results = [];
  let cursor = null;
  let totals = null;
  let view = saved.view;

  const editor = sqlEditor({ value: saved.query, onRun: () => run() });
  editor.textarea.addEventListener('input', () => (saved.query = editor.value));

  // Parameters: rows of @name and a JSON value.
  const paramRows = h('tbody');
  const addParam = (name = '@', value = '') => {
    const n = h('input', { type: 'text', value: name, spellcheck: 'false', 'aria-label': 'Parameter name', 'data-testid': 'param-name' });
    const v = h('input', { type: 'text', value, spellcheck: 'false', 'aria-label': 'Parameter value (JSON)', placeholder: '42', 'data-testid': 'param-value' });
    const tr = h('tr', null, h('td', null, n), h('td', null, v), h('td', null, h('button', { type: 'button', class: 'small', 'aria-label': 'Remove parameter', onclick: () => { tr.remove(); sync(); } }, '×')));
    n.addEventListener('input', sync);
    v.addEventListener('input', sync);
    paramRows.append(tr);
    return n;
  };
  const sync = () => {
    saved.parameters = [...paramRows.children].map((tr) => {
      const [n, v] = tr.querySelectorAll('input');
      return { name: n.value, value: v.value };
    });
  };
  for (const p of saved.parameters) addParam(p.name, p.value);

  const pkInput = h('input', {
    type: 'text',
    value: saved.pk,
    spellcheck: 'false',
    placeholder: container.partitionKey && container.partitionKey.kind === 'MultiHash' ? '["tenant", "user"]' : '"value"',
    'data-testid': 'query-pk',
  });
  pkInput.addEventListener('input', () => (saved.pk = pkInput.value));

  const runBtn = h('button', { type: 'button', class: 'primary', onclick: () => run(), 'data-testid': 'run-query' }, 'Run', h('kbd', null, 'Ctrl+Enter'));
  const status = statusLine('query-status');
  const metricsEl = h('div', { class: 'metrics', 'data-testid': 'query-metrics' });
  const resultsEl = h('div', { class: 'results', 'data-testid': 'query-results' });
  const more = h('button', { type: 'button', class: 'small', hidden: true, onclick: () => page(), 'data-testid': 'query-more' }, 'Load more');
  const countEl = h('span', { class: 'muted small-text' });
  const viewTabs = h('div');
  const historyList = h('ol', { class: 'history' });
  const historyPane = h('aside', { class: 'pane history-pane', 'aria-label': 'Query history', hidden: true }, h('div', { class: 'pane-head' }, h('h2', null, 'History'), h('span', { class: 'spacer' }), h('button', { type: 'button', class: 'small', onclick: clearHistory }, 'Clear')), historyList);
  const historyBtn = h('button', { type: 'button', 'aria-expanded': 'false', onclick: toggleHistory, 'data-testid': 'history-toggle' }, 'History');

  el.append(
    h('div', { class: 'screen-head' }, h('div', null, crumbs(db, coll), h('h1', null, 'Query')), h('span', { class: 'spacer' }), historyBtn),
    h(
      'div',
      { class: 'query-layout' },
      h(
        'div',
        { class: 'query-main' },
        h(
          'section',
          { class: 'pane query-top' },
          h('div', null, editor.el, h('div', { class: 'query-bar' }, runBtn, h('span', { class: 'muted small-text' }, '100 results a page'))),
          h(
            'div',
            { class: 'query-side' },
            field('Partition key value', pkInput, 'Empty: all partitions.'),
            h(
              'details',
              { class: 'params' },
              h('summary', null, 'Parameters'),
              h('table', { class: 'grid params-table' }, h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Value (JSON)'), h('th', null, ''))), paramRows),
              h('button', { type: 'button', class: 'small', onclick: () => { addParam().focus(); sync(); }, 'data-testid': 'add-param' }, '+ Add parameter'),
            ),
          ),
        ),
        status,
        h('section', { class: 'pane results-pane', 'aria-label': 'Results' }, h('div', { class: 'pane-head' }, viewTabs, h('span', { class: 'spacer' }), metricsEl), resultsEl, h('div', { class: 'list-foot' }, more, countEl, h('span', { class: 'spacer' }), ...downloadButtons(() => results, `${coll}-query`))),
      ),
      historyPane,
    ),
  );
  if (saved.parameters.length) el.querySelector('details.params').open = true;
  renderTabs();
  renderResults();
  editor.textarea.focus();

  function renderTabs() {
    clear(viewTabs, tabs([{ id: 'json', label: 'JSON' }, { id: 'table', label: 'Table' }], view, (v) => {
      view = saved.view = v;
      renderTabs();
      renderResults();
      viewTabs.querySelector(`[data-tab="${v}"]`).focus();
    }));
  }

  function renderResults() {
    if (!cursor) {
      clear(resultsEl, h('p', { class: 'muted' }, 'Run a query to see its results.'));
      return;
    }
    if (results.length === 0) {
      clear(resultsEl, h('p', { class: 'muted' }, 'No results.'));
    } else if (view === 'json') {
      const ed = codeEditor({ value: JSON.stringify(results, null, 2), label: 'Results (JSON)', rows: 20, readOnly: true, testid: 'results-json' });
      clear(resultsEl, ed.el);
    } else {
      const cols = columnsOf(results);
      const table = cols
        ? h(
            'table',
            { class: 'grid', 'data-testid': 'results-table' },
            h('thead', null, h('tr', null, cols.map((c) => h('th', null, c)))),
            h('tbody', null, results.map((r) => h('tr', null, cols.map((c) => h('td', { title: c === '_ts' ? formatTs(r[c]) : null }, cellText(r && typeof r === 'object' ? r[c] : undefined)))))),
          )
        : h('table', { class: 'grid', 'data-testid': 'results-table' }, h('thead', null, h('tr', null, h('th', null, 'value'))), h('tbody', null, results.map((r) => h('tr', null, h('td', null, cellText(r))))));
      clear(resultsEl, h('div', { class: 'table-wrap' }, table));
    }
    more.hidden = !cursor.hasMore;
    countEl.textContent = `${results.length} result${results.length === 1 ? '' : 's'}${cursor.hasMore ? ', more to load' : ''}`;
  }

  function renderMetrics() {
    if (!totals) return clear(metricsEl);
    const iu = totals.indexUtil;
    const names = (list) => (list || []).map((x) => x.IndexSpec || (x.IndexSpecs || []).join(', ')).filter(Boolean);
    const utilized = iu ? [...names(iu.UtilizedSingleIndexes), ...names(iu.UtilizedCompositeIndexes)] : [];
    const potential = iu ? [...names(iu.PotentialSingleIndexes), ...names(iu.PotentialCompositeIndexes)] : [];
    const metric = (label, value, testid) => h('div', { class: 'metric' }, h('span', { class: 'label' }, label), h('span', { class: 'value', 'data-testid': testid }, value));
    clear(
      metricsEl,
      metric('Request charge', `${totals.charge.toFixed(2)} RU`, 'request-charge'),
      metric('Retrieved', totals.hasMetrics ? String(totals.retrieved) : '—', 'retrieved-count'),
      metric('Output', String(totals.output), 'output-count'),
      metric('Execution', totals.hasMetrics ? `${totals.timeMs.toFixed(2)} ms` : '—', 'execution-time'),
      iu
        ? h(
            'details',
            { class: 'metric index-util' },
            h('summary', null, h('span', { class: 'label' }, 'Indexes'), h('span', { class: 'value', 'data-testid': 'index-utilization' }, `${utilized.length} used · ${potential.length} potential`)),
            h('div', { class: 'popover' }, h('h3', null, 'Utilized'), utilized.length ? h('ul', null, utilized.map((x) => h('li', null, h('code', null, x)))) : h('p', { class: 'muted' }, 'None'), h('h3', null, 'Potential'), potential.length ? h('ul', null, potential.map((x) => h('li', null, h('code', null, x)))) : h('p', { class: 'muted' }, 'None')),
          )
        : null,
      totals.merged ? h('span', { class: 'badge', title: 'Run on each physical partition and merged in the browser' }, `merged from ${totals.requests} requests`) : null,
    );
  }

  async function run() {
    status.set();
    const query = editor.value.trim();
    if (!query) return status.set('error', 'Enter a query.');
    const parameters = [];
    for (const tr of paramRows.children) {
      const [n, v] = tr.querySelectorAll('input');
      const name = n.value.trim();
      if (!name || name === '@') continue;
      if (!name.startsWith('@')) return status.set('error', `The parameter name ${name} must start with @.`);
      const parsed = parseJson(v.value.trim() === '' ? 'null' : v.value);
      if (parsed.error) return status.set('error', `Parameter ${name}: ${parsed.error}`);
      parameters.push({ name, value: parsed.value });
    }
    const pk = parsePartitionKeyInput(pkInput.value);
    cursor = openQuery(ctx.client, db, coll, { query, parameters, partitionKey: pk, pageSize: 100 });
    results = [];
    totals = null;
    remember({ query, parameters: saved.parameters.filter((p) => p.name && p.name !== '@'), pk: pkInput.value, container: key, at: Date.now() });
    renderHistory();
    await page();
  }

  async function page() {
    if (!cursor) return;
    runBtn.disabled = true;
    more.disabled = true;
    clear(resultsEl, h('p', { class: 'muted' }, 'Running…'));
    try {
      const { docs, stats, merged } = await cursor.next();
      results = results.concat(docs);
      if (!totals) totals = { ...stats, merged };
      else {
        totals.charge += stats.charge;
        totals.retrieved += stats.retrieved;
        totals.output += merged ? docs.length : stats.output;
        totals.timeMs += stats.timeMs;
        totals.requests += stats.requests;
        totals.indexUtil = totals.indexUtil || stats.indexUtil;
        totals.hasMetrics = totals.hasMetrics || stats.hasMetrics;
      }
      if (!stats.hasMetrics && !merged && totals.output === 0) totals.output = results.length;
    } catch (e) {
      status.set('error', errorText(e) + mergeHint(e));
      if (results.length === 0) cursor = null;
    }
    runBtn.disabled = false;
    more.disabled = false;
    renderMetrics();
    renderResults();
  }

  function mergeHint(e) {
    return e && String(e.substatus) === '1004' ? ' Scope the query to a partition key value to run it on one partition.' : '';
  }

  function renderHistory() {
    const list = loadHistory();
    clear(
      historyList,
      list.length
        ? list.map((e) =>
            h(
              'li',
              null,
              h(
                'button',
                {
                  type: 'button',
                  class: 'history-item',
                  title: e.query,
                  onclick: () => {
                    editor.value = saved.query = e.query;
                    clear(paramRows);
                    for (const p of e.parameters || []) addParam(p.name, p.value);
                    sync();
                    pkInput.value = saved.pk = e.pk || '';
                    if ((e.parameters || []).length) el.querySelector('details.params').open = true;
                    editor.textarea.focus();
                  },
                },
                h('code', null, e.query),
                h('span', { class: 'muted small-text' }, `${e.container} · ${new Date(e.at).toLocaleString()}`),
              ),
            ),
          )
        : h('li', { class: 'muted' }, 'No queries yet.'),
    );
  }

  function toggleHistory() {
    const open = historyPane.hidden;
    historyPane.hidden = !open;
    historyBtn.setAttribute('aria-expanded', String(open));
    if (open) renderHistory();
  }

  function clearHistory() {
    localStorage.removeItem(HISTORY_KEY);
    renderHistory();
  }
}

