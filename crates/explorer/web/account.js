// The account page: endpoint, connection strings and keys the credential may
// see, the server's storage and backup state, and its readiness.

import { h, clear, facts, copyButton, notice, errorText, formatBytes, formatMs } from './ui.js';

const KIND_LABEL = {
  primary: 'Primary key',
  secondary: 'Secondary key',
  'primary-readonly': 'Primary read-only key',
  'secondary-readonly': 'Secondary read-only key',
};

function secret(value, testid) {
  const code = h('code', { class: 'secret', 'data-testid': testid }, '•'.repeat(24));
  let shown = false;
  const toggle = h('button', { type: 'button', class: 'small', 'aria-pressed': 'false' }, 'Show');
  toggle.addEventListener('click', () => {
    shown = !shown;
    code.textContent = shown ? value : '•'.repeat(24);
    toggle.textContent = shown ? 'Hide' : 'Show';
    toggle.setAttribute('aria-pressed', String(shown));
  });
  return h('span', { class: 'secret-row' }, code, toggle, copyButton(value));
}

function when(ms) {
  if (!ms) return null;
  const d = new Date(ms);
  return `${d.toLocaleString()} (${formatMs(Date.now() - ms)} ago)`;
}

export async function renderAccount(ctx, el) {
  const endpoint = `${location.origin}/`;
  const readiness = h('div', null, h('p', { class: 'muted' }, 'Checking…'));
  let acc = ctx.account;
  try {
    acc = (await ctx.client.account()).body;
    ctx.account = acc;
  } catch (e) {
    el.append(notice('error', errorText(e)));
  }
  const server = acc.server || {};
  const storage = server.storage || {};
  const backup = server.backup;
  const access = { 'read-write': 'Read-write key', 'read-only': 'Read-only key', 'entra-id': 'Entra ID' }[acc.access] || acc.access;

  const keyRows = (acc.keys || []).map((k) => [KIND_LABEL[k.kind] || k.kind, secret(k.key, `key-${k.kind}`)]);
  const connRows = (acc.keys || []).map((k) => {
    const cs = `AccountEndpoint=${endpoint};AccountKey=${k.key};`;
    return [`${(KIND_LABEL[k.kind] || k.kind).replace(' key', '')} connection string`, secret(cs, `conn-${k.kind}`)];
  });

  const storagePane = h(
    'section',
    { class: 'pane' },
    h('h2', null, 'Storage'),
    facts([
      ['Data file', formatBytes(storage.dataFileBytes)],
      ['Write-ahead log', formatBytes(storage.logBytes)],
      ['Memtable', formatBytes(storage.memtableBytes)],
      ['Flushes', storage.flushes],
      ['Failed flushes', storage.flushFailures],
      ['State', storage.degraded ? h('span', { class: 'bad' }, `Degraded: ${storage.degraded}`) : h('span', { class: 'good' }, 'Healthy')],
    ]),
  );
  const backupPane = h(
    'section',
    { class: 'pane', 'data-testid': 'account-backup' },
    h('h2', null, 'Backup'),
    backup
      ? facts([
          ['Location', h('code', null, backup.location)],
          ['Lease holder', backup.leaseHolder],
          ['Lease', backup.leaseLost ? h('span', { class: 'bad' }, `Lost (epoch ${backup.leaseEpoch})`) : `Held (epoch ${backup.leaseEpoch})`],
          ['Lag', formatMs(backup.lagMs)],
          ['Pending commits', backup.pendingCommits],
          ['Last shipped commit', backup.lastShippedCommit],
          ['Segments uploaded', backup.segmentsUploaded],
          ['Snapshots taken', backup.snapshotsTaken],
          ['Last snapshot', when(backup.lastSnapshotMs)],
          ['Last success', when(backup.lastSuccessMs)],
          ['Failures', backup.failures],
          ['Segments lost', backup.segmentsLost],
          ['Last error', backup.lastError ? h('span', { class: 'bad' }, backup.lastError) : 'None'],
        ])
      : h('p', { class: 'muted' }, 'Continuous backup is off (start the server with --backup to turn it on).'),
  );
  const connectionPane = h(
    'section',
    { class: 'pane' },
    h('h2', null, 'Connection'),
    facts([
      ['Endpoint', h('span', { class: 'secret-row' }, h('code', null, endpoint), copyButton(endpoint))],
      ['Signed in with', h('span', { 'data-testid': 'account-access' }, access)],
      ['Region', server.region],
      ['Server version', server.version],
      ['Partitions per new container', server.partitionsPerContainer],
    ]),
  );
  const keysPane = h(
    'section',
    { class: 'pane', 'data-testid': 'account-keys' },
    h('h2', null, 'Keys'),
    keyRows.length
      ? facts([...keyRows, ...connRows], 'facts keys')
      : h('p', { class: 'muted' }, acc.access === 'entra-id' ? 'Keys are shown to key holders only.' : 'No keys to show.'),
  );
  const readinessPane = h(
    'section',
    { class: 'pane' },
    h('h2', null, 'Readiness'),
    readiness,
    h('p', { class: 'muted small-text' }, h('a', { href: '/health/ready', target: '_blank', rel: 'noopener' }, '/health/ready'), ' · ', h('a', { href: '/metrics', target: '_blank', rel: 'noopener' }, '/metrics')),
  );

  el.append(
    h('div', { class: 'screen-head' }, h('h1', null, 'Account')),
    h('div', { class: 'account-grid' }, h('div', { class: 'col' }, connectionPane, storagePane, readinessPane), h('div', { class: 'col' }, keysPane, backupPane)),
  );

  try {
    const res = await fetch('/health/ready', { cache: 'no-store' });
    const text = await res.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    const ok = res.ok;
    const rows = [['Status', h('span', { class: ok ? 'good' : 'bad', 'data-testid': 'readiness' }, typeof body === 'object' && body.status ? body.status : `${res.status}`)]];
    if (body && typeof body === 'object') {
      for (const [k, v] of Object.entries(body)) if (k !== 'status') rows.push([k, typeof v === 'string' ? v : JSON.stringify(v)]);
    }
    clear(readiness, facts(rows));
  } catch (e) {
    clear(readiness, notice('error', `The readiness check could not be read (${e.message}).`));
  }
}
