// DOM helpers shared by the screens: element building, dialogs, notices,
// copying, downloads and number formatting.

/**
 * h('button', {class: 'x', onclick: fn, disabled: true}, 'text', child...)
 * Attributes named on* become listeners; false/null attributes are left out.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === false || v === null || v === undefined) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'value') el.value = v;
      else if (k === 'checked') el.checked = !!v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'style') throw new Error('inline styles are refused by the page policy');
      else el.setAttribute(k, v === true ? '' : v);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Appends children as h() does: arrays flattened, null and false left out. */
export function add(el, ...children) {
  append(el, children);
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let idCounter = 0;
export function uid(prefix = 'f') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A label + control pair; the control gets an id for the label. */
export function field(label, control, hint) {
  if (!control.id) control.id = uid();
  return h(
    'div',
    { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    hint ? h('div', { class: 'hint' }, hint) : null,
  );
}

/** The state of write actions: buttons marked data-write are disabled for a read-only key. */
export const access = { readOnly: false, entra: false };

export function writeButton(attrs, ...children) {
  const b = h('button', { type: 'button', ...attrs, 'data-write': '' }, ...children);
  if (access.readOnly) {
    b.disabled = true;
    b.title = 'Signed in with a read-only key';
  }
  return b;
}

/**
 * A button for a management operation (databases, containers, throughput):
 * an Entra ID token cannot do these on the data plane, as on the service.
 */
export function manageButton(attrs, ...children) {
  const b = writeButton(attrs, ...children);
  if (access.entra) {
    b.disabled = true;
    b.title = 'Entra ID tokens cannot manage databases and containers; sign in with a key';
  }
  return b;
}

/** An inline message box (error/info/success) that screen readers announce. */
export function notice(kind, text) {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

export function errorText(e) {
  return e && e.display ? e.display : e && e.message ? e.message : String(e);
}

/** A status line that shows a message of a kind, or nothing. */
export function statusLine(testid) {
  const el = h('div', { class: 'status-line', 'aria-live': 'polite', 'data-testid': testid });
  el.set = (kind, text) => {
    clear(el);
    if (text) el.append(notice(kind, text));
  };
  el.error = (e) => el.set('error', errorText(e));
  return el;
}

let toastHost;
export function toast(text, kind = 'info') {
  if (!toastHost) {
    toastHost = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(toastHost);
  }
  const t = h('div', { class: `toast ${kind}` }, text);
  toastHost.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 3000);
}

/**
 * A modal dialog. build(body, close) fills it; returns a promise settled
 * with what close() is given (undefined on Escape/Cancel).
 */
export function dialog(title, build, { wide = false } = {}) {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const body = h('div', { class: 'dialog-body' });
    const dlg = h(
      'dialog',
      { class: wide ? 'wide' : '', 'aria-labelledby': titleId },
      h(
        'div',
        { class: 'dialog-head' },
        h('h2', { id: titleId }, title),
        h('button', { type: 'button', class: 'icon', 'aria-label': 'Close', onclick: () => close() }, '×'),
      ),
      body,
    );
    let result;
    const close = (value) => {
      result = value;
      dlg.close();
    };
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(result);
    });
    build(body, close);
    document.body.append(dlg);
    dlg.showModal();
    const first = body.querySelector('input, textarea, select');
    if (first) first.focus();
  });
}

/** Asks to confirm; with typeToConfirm, the user must type that text. */
export function confirmDialog(title, message, { action = 'Delete', typeToConfirm, danger = true } = {}) {
  return dialog(title, (body, close) => {
    const input = typeToConfirm
      ? h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', 'data-testid': 'confirm-input' })
      : null;
    const ok = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', disabled: !!typeToConfirm }, action);
    if (input) input.addEventListener('input', () => (ok.disabled = input.value !== typeToConfirm));
    const form = h(
      'form',
      { method: 'dialog' },
      h('p', null, message),
      input ? field(`Type "${typeToConfirm}" to confirm`, input) : null,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', onclick: () => close(false) }, 'Cancel'),
        ok,
      ),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!typeToConfirm || input.value === typeToConfirm) close(true);
    });
    body.append(form);
  }).then((v) => v === true);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = h('textarea', { class: 'offscreen' });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
  toast('Copied to the clipboard');
}

export function copyButton(getText, label = 'Copy') {
  return h(
    'button',
    { type: 'button', class: 'small', onclick: () => copyText(typeof getText === 'function' ? getText() : getText) },
    label,
  );
}

export function download(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: filename, class: 'offscreen' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function formatBytes(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatTs(ts) {
  if (typeof ts !== 'number') return '';
  return new Date(ts * 1000).toISOString().replace('T', ' ').replace('.000Z', 'Z');
}

export function formatMs(ms) {
  if (ms === null || ms === undefined) return '—';
  const n = Number(ms);
  if (n < 1000) return `${n} ms`;
  if (n < 120000) return `${(n / 1000).toFixed(1)} s`;
  return `${Math.round(n / 60000)} min`;
}

/** A short JSON rendering of a value for a table cell. */
/** A partition key value for a table: {} stands for a document without the path. */
export function pkCell(v) {
  return v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0 ? '(none)' : cellText(v);
}

export function cellText(v) {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** A key/value list (<dl>). rows: [[label, value or node], ...] */
export function facts(rows, cls = 'facts') {
  return h(
    'dl',
    { class: cls },
    rows.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v === null || v === undefined || v === '' ? '—' : v)]),
  );
}

/** Tabs with arrow-key movement; tabs: [{id, label, render(panel)}]. */
export function tabs(list, selected, onSelect) {
  const bar = h('div', { class: 'tabs', role: 'tablist' });
  const buttons = list.map((t) =>
    h(
      'button',
      {
        type: 'button',
        role: 'tab',
        'aria-selected': String(t.id === selected),
        tabindex: t.id === selected ? '0' : '-1',
        'data-tab': t.id,
        onclick: () => onSelect(t.id),
      },
      t.label,
    ),
  );
  bar.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    let j = -1;
    if (e.key === 'ArrowRight') j = (i + 1) % buttons.length;
    if (e.key === 'ArrowLeft') j = (i - 1 + buttons.length) % buttons.length;
    if (j >= 0) {
      e.preventDefault();
      buttons[j].focus();
      buttons[j].click();
    }
  });
  bar.append(...buttons);
  return bar;
}
