// A small client of the Cosmos DB for NoSQL REST API. The browser signs each
// request itself (master key HMAC or an Entra ID bearer token); nothing but
// the credential the user typed is involved.

const API_VERSION = '2020-07-15';

/** An error answer of the server, with its message kept verbatim. */
export class CosmosError extends Error {
  constructor(status, code, message, substatus, headers, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.substatus = substatus;
    this.headers = headers;
    this.body = body;
  }
  /** "403 Forbidden: <the server's message>" */
  get display() {
    const sub = this.substatus ? ` (substatus ${this.substatus})` : '';
    return `${this.status} ${this.code || ''}${sub}: ${this.message}`;
  }
}

function base64ToBytes(b64) {
  const bin = atob(b64.trim());
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bytesToBase64(bytes) {
  let bin = '';
  const arr = new Uint8Array(bytes);
  for (let i = 0; i < arr.length; i++) bin += String.fromCharCode(arr[i]);
  return btoa(bin);
}

/** Parses "AccountEndpoint=...;AccountKey=...;" into its parts. */
export function parseConnectionString(text) {
  const out = {};
  for (const part of text.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim().toLowerCase()] = part.slice(i + 1).trim();
  }
  return { endpoint: out.accountendpoint, key: out.accountkey };
}

/**
 * The resource type and link a path is signed with: a feed (odd number of
 * segments) is signed with its last segment and its parent's link; a single
 * resource with the segment before its id and its own link. Ids are not
 * percent-encoded in the link.
 */
export function signingParts(segments) {
  if (segments.length === 0) return { type: '', link: '' };
  if (segments.length % 2 === 1) {
    return { type: segments[segments.length - 1], link: segments.slice(0, -1).join('/') };
  }
  return { type: segments[segments.length - 2], link: segments.join('/') };
}

export function pathOf(segments) {
  return '/' + segments.map(encodeURIComponent).join('/');
}

export class Cosmos {
  /** credential: {kind: 'key', key} or {kind: 'aad', token} */
  constructor(credential, origin = '') {
    this.credential = credential;
    this.origin = origin;
    this.hmacKey = null;
  }

  async authorization(verb, type, link, date) {
    if (this.credential.kind === 'aad') {
      return encodeURIComponent('type=aad&ver=1.0&sig=' + this.credential.token.trim());
    }
    if (!this.hmacKey) {
      if (!globalThis.crypto || !crypto.subtle) {
        throw new Error('This page needs a secure context (https, or http on localhost) to sign requests.');
      }
      let raw;
      try {
        raw = base64ToBytes(this.credential.key);
      } catch {
        throw new Error('The key is not valid base64.');
      }
      this.hmacKey = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    }
    const text = `${verb.toLowerCase()}\n${type.toLowerCase()}\n${link}\n${date.toLowerCase()}\n\n`;
    const sig = await crypto.subtle.sign('HMAC', this.hmacKey, new TextEncoder().encode(text));
    return encodeURIComponent('type=master&ver=1.0&sig=' + bytesToBase64(sig));
  }

  /**
   * Sends one request. segments: the resource path as ids (not encoded).
   * Returns {status, headers, body, charge}; throws CosmosError on 4xx/5xx
   * (304 is returned, as the change feed uses it).
   */
  async request(method, segments, { body, headers = {}, url, sign } = {}) {
    const date = new Date().toUTCString();
    const { type, link } = sign || signingParts(segments);
    const h = {
      authorization: await this.authorization(method, type, link, date),
      'x-ms-date': date,
      'x-ms-version': API_VERSION,
      accept: 'application/json',
      ...headers,
    };
    let payload;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      if (!h['content-type']) h['content-type'] = 'application/json';
    }
    let res;
    try {
      res = await fetch(this.origin + (url || pathOf(segments)), {
        method,
        headers: h,
        body: payload,
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (e) {
      throw new CosmosError(0, 'NetworkError', `The server could not be reached (${e.message}).`);
    }
    const text = res.status === 204 || res.status === 304 ? '' : await res.text();
    let parsed = text;
    if (text && (res.headers.get('content-type') || '').includes('json')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (res.status >= 400) {
      const obj = parsed && typeof parsed === 'object' ? parsed : {};
      throw new CosmosError(
        res.status,
        obj.code || res.statusText,
        obj.message || (typeof parsed === 'string' && parsed) || res.statusText || 'Request failed',
        res.headers.get('x-ms-substatus'),
        res.headers,
        parsed,
      );
    }
    return {
      status: res.status,
      headers: res.headers,
      body: parsed,
      charge: Number(res.headers.get('x-ms-request-charge') || 0),
    };
  }

  /** Reads a whole feed (following continuations). key: the array's name. */
  async readAll(segments, key, headers = {}) {
    const out = [];
    let continuation = null;
    do {
      const h = { ...headers };
      if (continuation) h['x-ms-continuation'] = continuation;
      const res = await this.request('GET', segments, { headers: h });
      out.push(...(res.body[key] || []));
      continuation = res.headers.get('x-ms-continuation');
    } while (continuation);
    return out;
  }

  account() {
    return this.request('GET', [], { url: '/_explorer/api/account', sign: { type: '', link: '' } });
  }
}

/** The partition key of a document as the header wants it: a JSON array. */
export function partitionKeyOf(doc, pkDef) {
  const paths = (pkDef && pkDef.paths) || [];
  if (paths.length === 0) return [];
  return paths.map((p) => {
    let v = doc;
    for (const seg of splitPath(p)) {
      if (v === null || typeof v !== 'object' || !(seg in v)) return {};
      v = v[seg];
    }
    return v === undefined ? {} : v;
  });
}

/** "/a/b" -> ["a", "b"]; quoted segments ('/"a b"') lose their quotes. */
export function splitPath(path) {
  const segs = [];
  const re = /\/(?:"((?:[^"\\]|\\.)*)"|([^/]*))/g;
  let m;
  while ((m = re.exec(path))) {
    segs.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]);
  }
  return segs;
}

/**
 * What a user typed as a partition key value, as the header's array:
 * JSON is taken as JSON (an array as the full hierarchical key), anything
 * else as a string.
 */
export function parsePartitionKeyInput(text) {
  const t = text.trim();
  if (t === '') return null;
  let v;
  try {
    v = JSON.parse(t);
  } catch {
    v = t;
  }
  return Array.isArray(v) ? v : [v];
}

/** "a=1;b=2" -> {a: "1", b: "2"} */
export function parsePairs(text) {
  const out = {};
  if (!text) return out;
  for (const part of text.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

/** Decodes x-ms-cosmos-index-utilization (base64 JSON); null when absent. */
export function decodeIndexUtilization(value) {
  if (!value) return null;
  try {
    const bytes = base64ToBytes(value);
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    try {
      return JSON.parse(decodeURIComponent(value));
    } catch {
      return null;
    }
  }
}
