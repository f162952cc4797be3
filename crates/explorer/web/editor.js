// Text editors: a textarea with line numbers (JSON, scripts) and a SQL
// textarea over a highlighted copy of its text.

import { h } from './ui.js';

/** A textarea with a line-number gutter. Returns {el, textarea, value get/set}. */
export function codeEditor({ value = '', label, rows = 18, testid, readOnly = false } = {}) {
  const gutter = h('div', { class: 'gutter', 'aria-hidden': 'true' });
  const ta = h('textarea', {
    class: 'code-input',
    spellcheck: 'false',
    autocomplete: 'off',
    autocapitalize: 'off',
    wrap: 'off',
    rows: String(rows),
    'aria-label': label || 'Editor',
    'data-testid': testid,
    readonly: readOnly,
  });
  ta.value = value;
  const el = h('div', { class: 'code' }, gutter, ta);
  let lines = 0;
  const update = () => {
    const n = ta.value.split('\n').length;
    if (n !== lines) {
      lines = n;
      let s = '';
      for (let i = 1; i <= n; i++) s += i + '\n';
      gutter.textContent = s;
    }
    gutter.scrollTop = ta.scrollTop;
  };
  ta.addEventListener('input', update);
  ta.addEventListener('scroll', () => (gutter.scrollTop = ta.scrollTop));
  update();
  return {
    el,
    textarea: ta,
    get value() {
      return ta.value;
    },
    set value(v) {
      ta.value = v;
      update();
    },
    /** Puts the caret at a character offset and scrolls it into view. */
    focusAt(pos) {
      ta.focus();
      ta.setSelectionRange(pos, pos);
      const line = ta.value.slice(0, pos).split('\n').length;
      const lh = parseFloat(getComputedStyle(ta).lineHeight) || 18;
      ta.scrollTop = Math.max(0, (line - 3) * lh);
      update();
    },
    /**
     * The text parsed as {value}; or null, when it is not JSON, after saying
     * why in `status` (after `label`, if any) and putting the caret there.
     */
    json(status, label = '') {
      const parsed = parseJson(ta.value);
      if (!parsed.error) return parsed;
      status.set('error', label ? `${label}: ${parsed.error}` : parsed.error);
      if (parsed.pos !== null) this.focusAt(parsed.pos);
      return null;
    },
  };
}

/**
 * Parses JSON; on error returns {error: "message (line L, column C)", pos}
 * with the position when the engine names one.
 */
export function parseJson(text) {
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    const msg = e.message;
    let pos = null;
    let line = null;
    let col = null;
    let m = /position (\d+)/.exec(msg);
    if (m) pos = Number(m[1]);
    m = /line (\d+) column (\d+)/.exec(msg);
    if (m) {
      line = Number(m[1]);
      col = Number(m[2]);
      if (pos === null) {
        const ls = text.split('\n');
        pos = ls.slice(0, line - 1).reduce((a, l) => a + l.length + 1, 0) + col - 1;
      }
    } else if (pos !== null) {
      const before = text.slice(0, pos).split('\n');
      line = before.length;
      col = before[before.length - 1].length + 1;
    }
    const where = line ? ` (line ${line}, column ${col})` : '';
    const clean = msg.replace(/^JSON\.parse: /, '').replace(/ at line \d+ column \d+ of the JSON data$/, '');
    return { error: `Invalid JSON: ${clean}${where && !/\(line \d+ column \d+\)/.test(clean) ? where : ''}`, pos };
  }
}

const KEYWORDS = new Set(
  (
    'select from where and or not in between order by group asc desc top value distinct join as offset limit ' +
    'exists array like escape is null true false undefined udf having all any some'
  ).split(' '),
);

function esc(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** SQL text as HTML with spans for keywords, strings, numbers, parameters, comments. */
export function highlightSql(text) {
  const re =
    /(--[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|('(?:[^'\\]|\\[\s\S])*(?:'|$)|"(?:[^"\\]|\\[\s\S])*(?:"|$))|(@[A-Za-z_][\w]*)|(\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b)|([A-Za-z_][\w]*)/g;
  let out = '';
  let last = 0;
  let m;
  while ((m = re.exec(text))) {
    out += esc(text.slice(last, m.index));
    const t = esc(m[0]);
    if (m[1]) out += `<span class="t-com">${t}</span>`;
    else if (m[2]) out += `<span class="t-str">${t}</span>`;
    else if (m[3]) out += `<span class="t-par">${t}</span>`;
    else if (m[4]) out += `<span class="t-num">${t}</span>`;
    else if (KEYWORDS.has(m[5].toLowerCase())) out += `<span class="t-kw">${t}</span>`;
    else out += t;
    last = re.lastIndex;
  }
  out += esc(text.slice(last));
  return out + '\n';
}

/** The query textarea over its highlighted copy. */
export function sqlEditor({ value = '', label = 'Query', onRun } = {}) {
  const pre = h('pre', { class: 'sql-hl', 'aria-hidden': 'true' });
  const ta = h('textarea', {
    class: 'sql-input',
    spellcheck: 'false',
    autocomplete: 'off',
    autocapitalize: 'off',
    wrap: 'off',
    'aria-label': label,
    'data-testid': 'query-text',
  });
  ta.value = value;
  const el = h('div', { class: 'sql' }, pre, ta);
  const update = () => {
    pre.innerHTML = highlightSql(ta.value);
    pre.scrollTop = ta.scrollTop;
    pre.scrollLeft = ta.scrollLeft;
  };
  ta.addEventListener('input', update);
  ta.addEventListener('scroll', () => {
    pre.scrollTop = ta.scrollTop;
    pre.scrollLeft = ta.scrollLeft;
  });
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && onRun) {
      e.preventDefault();
      onRun();
    }
  });
  update();
  return {
    el,
    textarea: ta,
    get value() {
      return ta.value;
    },
    set value(v) {
      ta.value = v;
      update();
    },
  };
}
