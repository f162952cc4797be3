// The scripts screen: stored procedures, triggers and user-defined functions
// of a container; create, edit, delete, and execute a stored procedure.

import { h, add, clear, field, errorText, statusLine, tabs, writeButton, confirmDialog, toast, access } from './ui.js';
import { codeEditor, parseJson } from './editor.js';
import { parsePartitionKeyInput } from './cosmos.js';
import { crumbs } from './items.js';

const KINDS = {
  sprocs: {
    label: 'Stored procedures',
    one: 'stored procedure',
    feed: 'StoredProcedures',
    template: 'function sample(name) {\n  var response = getContext().getResponse();\n  console.log("called with " + name);\n  response.setBody({ greeting: "Hello, " + name });\n}\n',
  },
  triggers: {
    label: 'Triggers',
    one: 'trigger',
    feed: 'Triggers',
    template: 'function trigger() {\n  var request = getContext().getRequest();\n  var item = request.getBody();\n  if (!item.createdAt) item.createdAt = new Date().toISOString();\n  request.setBody(item);\n}\n',
  },
  udfs: {
    label: 'User-defined functions',
    one: 'user-defined function',
    feed: 'UserDefinedFunctions',
    template: 'function double(x) {\n  return x * 2;\n}\n',
  },
};

let lastKind = 'sprocs';

export async function renderScripts(ctx, el, db, coll) {
  let kind = lastKind;
  const collPath = ['dbs', db, 'colls', coll];
  const tabBar = h('div');
  const list = h('ul', { class: 'script-list', 'data-testid': 'script-list' });
  const listStatus = statusLine();
  const detail = h('section', { class: 'pane script-detail', 'aria-label': 'Script' });
  const newBtn = writeButton({ class: 'primary small', onclick: () => open(null), 'data-testid': 'new-script' }, '+ New');

  el.append(
    h('div', { class: 'screen-head' }, h('div', null, crumbs(db, coll), h('h1', null, 'Scripts')), h('span', { class: 'spacer' }), tabBar),
    h('div', { class: 'split scripts' }, h('section', { class: 'pane list-pane', 'aria-label': 'Scripts' }, h('div', { class: 'pane-head nowrap' }, h('h2', { class: 'kind-title' }, ''), h('span', { class: 'spacer' }), newBtn), listStatus, list), detail),
  );

  function renderTabs() {
    clear(
      tabBar,
      tabs(
        Object.entries(KINDS).map(([id, k]) => ({ id, label: k.label })),
        kind,
        (k) => {
          kind = lastKind = k;
          renderTabs();
          tabBar.querySelector(`[data-tab="${k}"]`).focus();
          loadList();
        },
      ),
    );
    el.querySelector('.kind-title').textContent = KINDS[kind].label;
  }

  let scripts = [];
  async function loadList(selectId) {
    listStatus.set();
    clear(list);
    clear(detail, h('p', { class: 'muted' }, `Select a ${KINDS[kind].one}, or create one.`));
    try {
      scripts = await ctx.client.readAll([...collPath, kind], KINDS[kind].feed);
    } catch (e) {
      listStatus.error(e);
      return;
    }
    scripts.sort((a, b) => a.id.localeCompare(b.id));
    clear(
      list,
      scripts.length
        ? scripts.map((s) => h('li', null, h('button', { type: 'button', class: 'link', 'data-id': s.id, onclick: () => open(s) }, s.id)))
        : h('li', { class: 'muted' }, `No ${KINDS[kind].label.toLowerCase()}.`),
    );
    const sel = scripts.find((s) => s.id === selectId);
    if (sel) open(sel);
  }

  function open(script) {
    const k = KINDS[kind];
    for (const b of list.querySelectorAll('button[data-id]')) b.setAttribute('aria-current', String(!!script && b.dataset.id === script.id));
    const isNew = !script;
    const id = h('input', { type: 'text', value: script ? script.id : '', readonly: !isNew, spellcheck: 'false', 'data-testid': 'script-id' });
    const body = codeEditor({ value: script ? script.body : k.template, label: 'Script body', rows: 12, testid: 'script-body' });
    const status = statusLine();
    let triggerType;
    let triggerOp;
    if (kind === 'triggers') {
      triggerType = h('select', { 'data-testid': 'trigger-type' }, ['Pre', 'Post'].map((v) => h('option', { value: v }, v)));
      triggerOp = h('select', { 'data-testid': 'trigger-operation' }, ['All', 'Create', 'Replace', 'Delete', 'Upsert'].map((v) => h('option', { value: v }, v)));
      if (script) {
        triggerType.value = script.triggerType;
        triggerOp.value = script.triggerOperation;
      }
    }
    const save = writeButton({ class: 'primary', 'data-testid': 'script-save' }, isNew ? 'Create' : 'Save');
    save.addEventListener('click', async () => {
      status.set();
      const sid = id.value.trim();
      if (!sid) return status.set('error', 'Enter an id.');
      const def = { id: sid, body: body.value };
      if (kind === 'triggers') {
        def.triggerType = triggerType.value;
        def.triggerOperation = triggerOp.value;
      }
      save.disabled = true;
      try {
        if (isNew) await ctx.client.request('POST', [...collPath, kind], { body: def });
        else await ctx.client.request('PUT', [...collPath, kind, sid], { body: def });
        toast(`Saved the ${k.one} ${sid}`, 'success');
        await loadList(sid);
      } catch (e) {
        status.error(e);
        save.disabled = access.readOnly;
      }
    });
    const del = isNew
      ? null
      : writeButton(
          {
            class: 'danger',
            'data-testid': 'script-delete',
            onclick: async () => {
              if (!(await confirmDialog(`Delete ${k.one}`, `Delete the ${k.one} "${script.id}"?`))) return;
              try {
                await ctx.client.request('DELETE', [...collPath, kind, script.id]);
                toast(`Deleted the ${k.one} ${script.id}`);
                await loadList();
              } catch (e) {
                status.error(e);
              }
            },
          },
          'Delete',
        );
    clear(
      detail,
      h('div', { class: 'pane-head' }, h('h2', null, isNew ? `New ${k.one}` : script.id), isNew ? null : h('span', { class: 'muted small-text' }, k.one)),
      isNew || triggerType ? h('div', { class: 'row' }, isNew ? field('Id', id) : null, triggerType ? field('Type', triggerType) : null, triggerOp ? field('Operation', triggerOp) : null) : null,
      h('div', { class: 'field' }, h('label', { for: body.textarea.id || (body.textarea.id = `script-body-${kind}`) }, 'Body'), body.el),
      status,
      h('div', { class: 'actions left' }, save, del),
      kind === 'sprocs' && !isNew ? executePanel(ctx, collPath, script) : null,
    );
    (isNew ? id : body.textarea).focus();
  }

  renderTabs();
  await loadList();
}

function executePanel(ctx, collPath, sproc) {
  const pk = h('input', { type: 'text', spellcheck: 'false', placeholder: '"value" or ["a", "b"]', 'data-testid': 'sproc-pk' });
  const params = h('textarea', { rows: '2', spellcheck: 'false', 'data-testid': 'sproc-params' });
  params.value = '[]';
  const out = h('div', { class: 'exec-out', 'aria-live': 'polite', 'data-testid': 'sproc-result' });
  const run = h('button', { type: 'button', class: 'primary', 'data-testid': 'sproc-execute' }, 'Execute');
  const charge = h('span', { class: 'muted small-text', 'data-testid': 'sproc-charge' });
  run.addEventListener('click', async () => {
    clear(out);
    charge.textContent = '';
    const parsed = parseJson(params.value.trim() || '[]');
    if (parsed.error) return out.append(h('div', { class: 'notice error', role: 'alert' }, `Parameters: ${parsed.error}`));
    const args = Array.isArray(parsed.value) ? parsed.value : [parsed.value];
    const key = parsePartitionKeyInput(pk.value);
    const headers = { 'x-ms-documentdb-script-enable-logging': 'true' };
    if (key) headers['x-ms-documentdb-partitionkey'] = JSON.stringify(key);
    run.disabled = true;
    try {
      const res = await ctx.client.request('POST', [...collPath, 'sprocs', sproc.id], { body: args, headers });
      const logs = res.headers.get('x-ms-documentdb-script-log-results');
      charge.textContent = `Request charge: ${res.charge} RU`;
      add(
        out,
        h(
          'div',
          { class: 'exec-grid' },
          h('div', null, h('h3', null, 'Result'), h('pre', { class: 'json-out', 'data-testid': 'sproc-output' }, typeof res.body === 'string' ? res.body : JSON.stringify(res.body, null, 2))),
          h('div', null, h('h3', null, 'Log'), logs ? h('pre', { class: 'json-out', 'data-testid': 'sproc-logs' }, safeDecode(logs)) : h('p', { class: 'muted' }, 'Nothing logged.')),
        ),
      );
    } catch (e) {
      out.append(h('div', { class: 'notice error', role: 'alert' }, errorText(e)));
      const logs = e.headers && e.headers.get && e.headers.get('x-ms-documentdb-script-log-results');
      if (logs) out.append(h('h3', null, 'Log'), h('pre', { class: 'json-out' }, safeDecode(logs)));
    }
    run.disabled = false;
  });
  return h(
    'div',
    { class: 'exec' },
    h('h3', null, 'Execute'),
    h('div', { class: 'row' }, field('Partition key value', pk, 'A stored procedure runs within one partition key value.'), field('Parameters (JSON array)', params)),
    h('div', { class: 'actions left' }, run, charge),
    out,
  );
}

function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
