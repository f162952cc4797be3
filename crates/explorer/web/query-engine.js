// Runs a query page by page. A query the gateway can answer directly is sent
// as is (with the continuation of the last page). A cross-partition query
// that needs results merged across physical partitions (ORDER BY, aggregates,
// GROUP BY, DISTINCT, TOP, OFFSET/LIMIT) is refused by the gateway with the
// query plan; it is then run as the SDKs do: the plan's rewritten query on
// each partition key range, merged here.

import { CosmosError, parsePairs, decodeIndexUtilization } from './cosmos.js';

const FEATURES =
  'Aggregate, CompositeAggregate, Distinct, MultipleOrderBy, OffsetAndLimit, OrderBy, Top, GroupBy, DCount, NonValueAggregate, MultipleAggregates';

/** Metrics of one or more responses, added up. */
function emptyStats() {
  return { charge: 0, retrieved: 0, output: 0, timeMs: 0, requests: 0, metrics: null, indexUtil: null, hasMetrics: false };
}

function addResponse(stats, res) {
  stats.requests += 1;
  stats.charge += Number(res.headers.get('x-ms-request-charge') || 0);
  const m = parsePairs(res.headers.get('x-ms-documentdb-query-metrics'));
  if (Object.keys(m).length) {
    stats.hasMetrics = true;
    stats.retrieved += Number(m.retrievedDocumentCount || 0);
    stats.output += Number(m.outputDocumentCount || 0);
    stats.timeMs += Number(m.totalExecutionTimeInMs || 0);
    stats.metrics = m;
  }
  const iu = decodeIndexUtilization(res.headers.get('x-ms-cosmos-index-utilization'));
  if (iu && !stats.indexUtil) stats.indexUtil = iu;
}

// ---------------------------------------------------------------- ordering of values

function typeRank(entry) {
  if (!entry || !('item' in entry)) return 0; // undefined
  const v = entry.item;
  if (v === null) return 1;
  if (typeof v === 'boolean') return 2;
  if (typeof v === 'number') return 3;
  if (typeof v === 'string') return 4;
  if (Array.isArray(v)) return 5;
  return 6;
}

/** Compares two {item} entries as Cosmos DB orders values (undefined < null < bool < number < string). */
export function compareItems(a, b) {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  if (ra <= 1) return 0;
  const x = a.item;
  const y = b.item;
  if (ra === 2 || ra === 3) return x === y ? 0 : x < y ? -1 : 1;
  if (ra === 4) return x === y ? 0 : x < y ? -1 : 1;
  const sx = JSON.stringify(x);
  const sy = JSON.stringify(y);
  return sx === sy ? 0 : sx < sy ? -1 : 1;
}

// ---------------------------------------------------------------- aggregates

/** Combines the partial results of one aggregate from each range. */
function combine(kind, partials) {
  const defined = partials.filter((p) => p && typeof p === 'object');
  switch (kind) {
    case 'Count':
    case 'Sum': {
      let total;
      for (const p of defined) {
        if (!('item' in p)) continue;
        if (typeof p.item !== 'number') return undefined;
        total = (total || 0) + p.item;
      }
      if (kind === 'Count' && total === undefined) return 0;
      return total;
    }
    case 'Average': {
      let sum = 0;
      let count = 0;
      for (const p of defined) {
        const it = p.item;
        if (!it || typeof it !== 'object') continue;
        if (it.sum === undefined && it.count) return undefined;
        sum += it.sum || 0;
        count += it.count || 0;
      }
      return count ? sum / count : undefined;
    }
    case 'Min':
    case 'Max': {
      const field = kind === 'Min' ? 'min' : 'max';
      let best;
      for (const p of defined) {
        let entry;
        if (p.item2) {
          if (!p.item2.count || !(field in p.item2)) continue;
          entry = { item: p.item2[field] };
        } else if ('item' in p) {
          entry = { item: p.item };
        } else continue;
        if (!best) best = entry;
        else {
          const c = compareItems(entry, best);
          if ((kind === 'Min' && c < 0) || (kind === 'Max' && c > 0)) best = entry;
        }
      }
      return best ? best.item : undefined;
    }
    default:
      throw new Error(`The aggregate ${kind} cannot be merged across partitions here.`);
  }
}

// ---------------------------------------------------------------- the query

/**
 * spec: {query, parameters, partitionKey (array or null), pageSize}
 * Returns {next(): Promise<{docs, stats, merged}>, hasMore}.
 */
export function openQuery(client, db, coll, spec) {
  const docsPath = ['dbs', db, 'colls', coll, 'docs'];
  const pageSize = spec.pageSize || 100;
  const baseHeaders = {
    'content-type': 'application/query+json',
    'x-ms-documentdb-isquery': 'true',
    'x-ms-documentdb-populatequerymetrics': 'true',
    'x-ms-cosmos-populateindexmetrics': 'true',
  };
  if (spec.partitionKey) baseHeaders['x-ms-documentdb-partitionkey'] = JSON.stringify(spec.partitionKey);
  else baseHeaders['x-ms-documentdb-query-enablecrosspartition'] = 'true';

  const body = { query: spec.query, parameters: spec.parameters || [] };
  let mode = 'direct';
  let continuation = null;
  let started = false;
  let finished = false;
  let merger = null;

  async function post(query, headers, stats) {
    const res = await client.request('POST', docsPath, { body: { query, parameters: body.parameters }, headers: { ...baseHeaders, ...headers } });
    addResponse(stats, res);
    return res;
  }

  // A cross-partition page may hold the results of one partition only: the
  // next ones are asked for until the page is full (or a few requests went by).
  async function directPage(stats) {
    const docs = [];
    for (let i = 0; i < 16 && docs.length < pageSize; i++) {
      const headers = { 'x-ms-max-item-count': String(pageSize - docs.length) };
      if (continuation) headers['x-ms-continuation'] = continuation;
      const res = await post(body.query, headers, stats);
      docs.push(...(res.body.Documents || []));
      continuation = res.headers.get('x-ms-continuation');
      finished = !continuation;
      if (finished) break;
    }
    return docs;
  }

  async function planOf(err, stats) {
    let plan = null;
    try {
      plan = JSON.parse(err.body && err.body.additionalErrorInfo);
    } catch {
      plan = null;
    }
    if (!plan || !plan.queryInfo) {
      const res = await client.request('POST', docsPath, {
        body,
        headers: {
          ...baseHeaders,
          'x-ms-cosmos-is-query-plan-request': 'true',
          'x-ms-cosmos-supported-query-features': FEATURES,
        },
      });
      addResponse(stats, res);
      plan = res.body;
    }
    return plan;
  }

  async function next() {
    const stats = emptyStats();
    let docs;
    if (!started) {
      started = true;
      try {
        docs = await directPage(stats);
      } catch (e) {
        const needsMerge = e instanceof CosmosError && e.status === 400 && String(e.substatus) === '1004' && !spec.partitionKey;
        if (!needsMerge) throw e;
        const plan = await planOf(e, stats);
        const ranges = await client.readAll(['dbs', db, 'colls', coll, 'pkranges'], 'PartitionKeyRanges');
        merger = makeMerger(plan.queryInfo, ranges, post, pageSize, body.query);
        mode = 'merged';
        docs = await merger.page(stats);
        finished = merger.done();
      }
    } else if (mode === 'direct') {
      docs = await directPage(stats);
    } else {
      docs = await merger.page(stats);
      finished = merger.done();
    }
    if (mode === 'merged') stats.output = docs.length;
    return { docs, stats, merged: mode === 'merged' };
  }

  return {
    next,
    get hasMore() {
      return !finished;
    },
  };
}

function makeMerger(info, ranges, post, pageSize, originalQuery) {
  if (info.dCountInfo) throw new Error('COUNT(DISTINCT …) across partitions is not supported by the explorer; scope the query to a partition key value.');
  if (info.hasNonStreamingOrderBy) throw new Error('This ORDER BY cannot be merged across partitions by the explorer; scope the query to a partition key value.');
  const rewritten = (info.rewrittenQuery || '').replace(/\{documentdb-formattableorderbyquery-filter\}/g, 'true');
  const sources = ranges.map((r) => ({ id: r.id, buf: [], cont: null, done: false }));

  // Fetching: one page of the rewritten query from a range.
  async function fill(s, stats, size) {
    const headers = {
      'x-ms-documentdb-partitionkeyrangeid': s.id,
      'x-ms-max-item-count': String(size || pageSize),
    };
    if (s.cont) headers['x-ms-continuation'] = s.cont;
    const res = await post(rewritten || originalQuery, headers, stats);
    s.buf.push(...(res.body.Documents || []));
    s.cont = res.headers.get('x-ms-continuation');
    s.done = !s.cont;
  }
  async function drainAll(stats) {
    await Promise.all(
      sources.map(async (s) => {
        while (!s.done) await fill(s, stats, 1000);
      }),
    );
    const all = [];
    for (const s of sources) all.push(...s.buf.splice(0));
    return all;
  }

  // What the merge yields before DISTINCT / OFFSET / LIMIT / TOP.
  let pull; // async (stats) => next doc or a DONE marker
  const DONE = Symbol('done');
  const isGroup = info.groupByExpressions.length > 0 || info.groupByAliases.length > 0;
  const isAggregate = info.aggregates.length > 0 && !isGroup;

  if (isAggregate || isGroup) {
    let results = null;
    pull = async (stats) => {
      if (!results) {
        const partials = await drainAll(stats);
        results = isAggregate ? mergeAggregates(info, partials) : mergeGroups(info, partials);
      }
      return results.length ? results.shift() : DONE;
    };
  } else if (info.orderBy.length > 0) {
    const dirs = info.orderBy.map((d) => (d === 'Descending' ? -1 : 1));
    const cmp = (a, b) => {
      for (let i = 0; i < dirs.length; i++) {
        const c = compareItems(a.orderByItems[i], b.orderByItems[i]);
        if (c !== 0) return c * dirs[i];
      }
      return 0;
    };
    pull = async (stats) => {
      await Promise.all(sources.map(async (s) => { while (!s.buf.length && !s.done) await fill(s, stats); }));
      let best = null;
      for (const s of sources) {
        if (!s.buf.length) continue;
        if (!best || cmp(s.buf[0], best.buf[0]) < 0) best = s;
      }
      if (!best) return DONE;
      const doc = best.buf.shift();
      return doc.payload;
    };
  } else {
    // Streaming: one range after another.
    let i = 0;
    pull = async (stats) => {
      while (i < sources.length) {
        const s = sources[i];
        while (!s.buf.length && !s.done) await fill(s, stats);
        if (s.buf.length) return s.buf.shift();
        i += 1;
      }
      return DONE;
    };
  }

  // DISTINCT, OFFSET, LIMIT and TOP over the merged stream.
  const seen = new Set();
  let last;
  let skip = info.offset || 0;
  let take = info.limit !== null && info.limit !== undefined ? info.limit : info.top !== null && info.top !== undefined ? info.top : Infinity;
  if (info.top !== null && info.top !== undefined && info.limit !== null && info.limit !== undefined) take = Math.min(info.top, info.limit);
  let done = false;

  return {
    done: () => done,
    async page(stats) {
      const out = [];
      while (out.length < pageSize && !done) {
        if (take <= 0) {
          done = true;
          break;
        }
        const doc = await pull(stats);
        if (doc === DONE) {
          done = true;
          break;
        }
        if (info.distinctType && info.distinctType !== 'None') {
          const key = stableKey(doc);
          if (info.distinctType === 'Ordered') {
            if (key === last) continue;
            last = key;
          } else {
            if (seen.has(key)) continue;
            seen.add(key);
          }
        }
        if (skip > 0) {
          skip -= 1;
          continue;
        }
        if (doc === undefined) continue;
        out.push(doc);
        take -= 1;
      }
      if (!done && take <= 0) done = true;
      return out;
    },
  };
}

function stableKey(v) {
  if (v === undefined) return 'u';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stableKey).join(',')}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableKey(v[k])}`).join(',')}}`;
}

function mergeAggregates(info, partials) {
  // Each range answers one array with one entry per aggregate.
  const arrays = partials.filter(Array.isArray);
  const values = info.aggregates.map((kind, i) => combine(kind, arrays.map((a) => a[i])));
  if (info.hasSelectValue) return values[0] === undefined ? [] : [values[0]];
  return [values];
}

function mergeGroups(info, partials) {
  const groups = new Map();
  for (const doc of partials) {
    const key = stableKey(doc.groupByItems || []);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(doc.payload);
  }
  const out = [];
  for (const payloads of groups.values()) {
    if (info.hasSelectValue) {
      if (info.aggregates.length) {
        const v = combine(info.aggregates[0], payloads.map((p) => (Array.isArray(p) ? p[0] : p)));
        if (v !== undefined) out.push(v);
      } else if (payloads[0] !== undefined) out.push(payloads[0]);
      continue;
    }
    const row = {};
    for (const alias of info.groupByAliases) {
      const kind = info.groupByAliasToAggregateType[alias];
      const v = kind ? combine(kind, payloads.map((p) => p && p[alias])) : payloads.find((p) => p && alias in p)?.[alias];
      if (v !== undefined) row[alias] = v;
    }
    out.push(row);
  }
  return out;
}
