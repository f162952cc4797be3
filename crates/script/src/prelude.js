// The server-side API a script sees (getContext(), its collection, request
// and response), written over a queue the host drains. A collection call
// only records the request and returns true ("accepted"); once the script's
// synchronous code is done, the host runs the queued requests in order
// against the transaction and hands each result to its callback, which may
// queue more. That is the service's model too: callbacks run after the
// call that queued them has returned.
var __cosmonaut = (function () {
  var pending = [];
  var waiting = [];
  var log = [];
  var state = {
    selfLink: "",
    operation: "",
    requestBody: undefined,
    responseBody: undefined,
    headers: {},
  };

  function text(value) {
    if (typeof value === "string") return value;
    try {
      var printed = JSON.stringify(value);
      return printed === undefined ? String(value) : printed;
    } catch (e) {
      return String(value);
    }
  }

  function queue(op, args, options, callback) {
    if (typeof options === "function" && callback === undefined) {
      callback = options;
      options = undefined;
    }
    if (callback !== undefined && typeof callback !== "function") {
      throw new Error("The callback of " + op + " must be a function.");
    }
    pending.push({ op: op, args: args, options: options || {} });
    waiting.push(callback);
    return true;
  }

  var collection = {
    getSelfLink: function () { return state.selfLink; },
    getAltLink: function () { return state.selfLink; },
    createDocument: function (link, document, options, callback) {
      return queue("create", { document: document }, options, callback);
    },
    upsertDocument: function (link, document, options, callback) {
      return queue("upsert", { document: document }, options, callback);
    },
    replaceDocument: function (link, document, options, callback) {
      return queue("replace", { link: String(link), document: document }, options, callback);
    },
    deleteDocument: function (link, options, callback) {
      return queue("delete", { link: String(link) }, options, callback);
    },
    readDocument: function (link, options, callback) {
      return queue("read", { link: String(link) }, options, callback);
    },
    readDocuments: function (link, options, callback) {
      return queue("query", { query: "SELECT * FROM root", parameters: [] }, options, callback);
    },
    queryDocuments: function (link, query, options, callback) {
      var spec = typeof query === "string" ? { query: query, parameters: [] } : query || {};
      return queue(
        "query",
        { query: String(spec.query), parameters: spec.parameters || [] },
        options,
        callback
      );
    },
  };

  var request = {
    getBody: function () { return state.requestBody; },
    setBody: function (body) { state.requestBody = body; },
    getValue: function () { return state.requestBody; },
    setValue: function (body) { state.requestBody = body; },
    getOperationType: function () { return state.operation; },
    getRequestHeader: function (name) { return state.headers[String(name).toLowerCase()]; },
  };

  var response = {
    getBody: function () { return state.responseBody; },
    setBody: function (body) { state.responseBody = body; },
    getValue: function () { return state.responseBody; },
    setValue: function (body) { state.responseBody = body; },
    appendBody: function (more) {
      state.responseBody = (state.responseBody === undefined ? "" : String(state.responseBody)) + more;
    },
    appendValue: function (more) { response.appendBody(more); },
    getMaxResponseBodySize: function () { return 2 * 1024 * 1024; },
    getCurrentResponseBodySize: function () { return text(state.responseBody).length; },
  };

  var context = {
    getCollection: function () { return collection; },
    getRequest: function () { return request; },
    getResponse: function () { return response; },
  };

  function failure(error) {
    var e = new Error(error.message);
    e.number = error.number;
    e.body = error.message;
    return e;
  }

  return {
    context: context,
    log: function () {
      log.push(Array.prototype.map.call(arguments, text).join(" "));
    },
    // Called by the host.
    begin: function (settings) {
      var s = JSON.parse(settings);
      state.selfLink = s.selfLink;
      state.operation = s.operation;
      state.headers = s.headers;
      state.requestBody = s.requestBody === null ? undefined : s.requestBody;
      state.responseBody = s.responseBody === null ? undefined : s.responseBody;
    },
    take: function () {
      var taken = JSON.stringify(pending);
      pending = [];
      return taken;
    },
    deliver: function (results) {
      var list = JSON.parse(results);
      var callbacks = waiting.splice(0, list.length);
      for (var i = 0; i < list.length; i++) {
        var result = list[i];
        var callback = callbacks[i];
        var error = result.error ? failure(result.error) : undefined;
        if (callback) {
          callback(error, result.value, { continuation: undefined });
        } else if (error) {
          throw error;
        }
      }
    },
    finish: function () {
      return JSON.stringify({
        requestBody: state.requestBody === undefined ? null : state.requestBody,
        responseBody: state.responseBody === undefined ? null : state.responseBody,
        responseSet: state.responseBody !== undefined,
        log: log.join("\n"),
      });
    },
    describe: function (thrown) {
      var number = thrown && typeof thrown.number === "number" ? thrown.number : 0;
      var message = thrown instanceof Error ? thrown.name + ": " + thrown.message : text(thrown);
      return JSON.stringify({ number: number, message: message });
    },
  };
})();

var ErrorCodes = {
  BadRequest: 400,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  PreconditionFailed: 412,
  RequestEntityTooLarge: 413,
  Throttled: 429,
  InternalServerError: 500,
};

var console = { log: __cosmonaut.log, info: __cosmonaut.log, warn: __cosmonaut.log, error: __cosmonaut.log };

function getContext() {
  return __cosmonaut.context;
}

// Entry point of UDF calls: a function and its arguments as JSON text.
function __cosmonautCall(fn, args) {
  var result = fn.apply(null, JSON.parse(args));
  return result === undefined ? undefined : JSON.stringify(result);
}
