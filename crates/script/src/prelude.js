// The server-side API a script sees (getContext(), its collection, request
// and response), written over a queue the host drains. A collection call
// only records the request and returns true ("accepted"); once the script's
// synchronous code is done, the host runs the queued requests in order
// against the transaction and hands each result to its callback, which may
// queue more. That is the service's model too: callbacks run after the
// call that queued them has returned.
var __cosmonaut = (function () {
  var LOGGING_REQUEST_HEADER = "x-ms-documentdb-script-enable-logging";
  var LOG_RESPONSE_HEADER = "x-ms-documentdb-script-log-results";
  var pending = [];
  var waiting = [];
  var selfLink = "";
  var logging = false;
  // The request's and response's properties by name ("Body", headers, ...):
  // `{ value, writable, written }` each.
  var requestProperties = Object.create(null);
  var responseProperties = Object.create(null);
  var request;
  var response;

  function text(value) {
    if (typeof value === "string") return value;
    try {
      var printed = JSON.stringify(value);
      return printed === undefined ? String(value) : printed;
    } catch (e) {
      return String(value);
    }
  }

  // An error carrying a status, as the service's scripts throw them
  // (`new Error(ErrorCodes.BadRequest, message)` in its engine).
  function statusError(number, message) {
    var e = new Error(message);
    e.number = number;
    return e;
  }

  // The service's sprintf: only %s (the next argument, as a string) and %%.
  function substitute(format, args) {
    var next = 1;
    return format.replace(/%((%)|s)/g, function (match, either, percent) {
      return percent || args[next++];
    });
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

  // A request or response as the service exposes it: each property has
  // get<Name>, and if writable set<Name> and append<Name>; getValue,
  // setValue and appendValue take the name. Values keep their JavaScript
  // types; appending concatenates onto a string and adds otherwise.
  function PropertyMap(properties) {
    function get(name) {
      if (name === undefined) return undefined;
      // An unknown name fails as it does in the service: a TypeError.
      return properties[name].value;
    }
    function writable(name) {
      var property = properties[name];
      if (property === undefined) {
        throw statusError(ErrorCodes.BadRequest, "Cannot set new values: " + name);
      }
      if (!property.writable) {
        throw statusError(ErrorCodes.Forbidden, "Not a writable property: " + name);
      }
      return property;
    }
    function set(name, value) {
      if (name === undefined) return;
      var property = writable(name);
      property.value = value;
      property.written = true;
    }
    function append(name, value) {
      if (name === undefined) return;
      var property = writable(name);
      var current = property.value;
      property.value = current === null || current === undefined ? value : current + value;
      property.written = true;
    }
    var map = this;
    var anyWritable = false;
    Object.keys(properties).forEach(function (name) {
      map["get" + name] = function () { return get(name); };
      if (properties[name].writable) {
        anyWritable = true;
        map["set" + name] = function (value) { set(name, value); };
        map["append" + name] = function (value) { append(name, value); };
      }
    });
    map.getValue = get;
    if (anyWritable) {
      map.setValue = set;
      map.appendValue = append;
    }
  }

  function property(value, writable) {
    return { value: value, writable: writable, written: false };
  }

  var collection = {
    getSelfLink: function () { return selfLink; },
    getAltLink: function () { return selfLink; },
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

  var context = {
    getCollection: function () { return collection; },
    getRequest: function () { return request; },
  };

  function failure(error) {
    var e = new Error(error.message);
    e.number = error.number;
    e.body = error.message;
    return e;
  }

  return {
    context: context,
    // The service's console.log: a no-op unless the request asked for
    // logging; one argument is appended as it is, several are a format
    // string and its substitutions. Entries run together with nothing
    // between them.
    log: function (first) {
      if (!logging) return;
      var entry;
      if (arguments.length < 1) {
        throw statusError(
          ErrorCodes.BadRequest,
          'The function "log" requires at least 1 argument(s) but was called with 0 argument(s).'
        );
      } else if (arguments.length === 1) {
        entry = first;
      } else if (typeof first === "string") {
        entry = substitute(first, arguments);
      } else {
        throw statusError(
          ErrorCodes.BadRequest,
          "First argument to console.log should be a string containing zero or more substitution strings."
        );
      }
      if (response !== undefined) response.appendValue(LOG_RESPONSE_HEADER, entry);
    },
    // Called by the host. A pre-trigger has no response (its settings carry
    // a null response body), and then no getResponse() either.
    begin: function (settings) {
      var s = JSON.parse(settings);
      selfLink = s.selfLink;
      logging = s.logging === true;
      requestProperties = Object.create(null);
      var headers = s.headers || {};
      Object.keys(headers).forEach(function (name) {
        requestProperties[name] = property(headers[name], true);
      });
      if (logging) requestProperties[LOGGING_REQUEST_HEADER] = property("true", false);
      requestProperties.Body = property(s.requestBody === null ? undefined : s.requestBody, true);
      if (s.operation) requestProperties.OperationType = property(s.operation, false);
      request = new PropertyMap(requestProperties);
      responseProperties = Object.create(null);
      if (s.responseBody === null) {
        response = undefined;
        delete context.getResponse;
      } else {
        responseProperties.Body = property(s.responseBody, true);
        if (logging) responseProperties[LOG_RESPONSE_HEADER] = property("", true);
        response = new PropertyMap(responseProperties);
        context.getResponse = function () { return response; };
      }
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
    // What the run left: the request body (a pre-trigger's change), the
    // response body if the script wrote one, and the log.
    finish: function () {
      var requestBody = requestProperties.Body ? requestProperties.Body.value : undefined;
      var body = responseProperties.Body;
      var written = body !== undefined && body.written && body.value !== undefined;
      var log = responseProperties[LOG_RESPONSE_HEADER];
      return JSON.stringify({
        requestBody: requestBody === undefined ? null : requestBody,
        responseBody: written ? body.value : null,
        responseSet: written,
        log: log === undefined || log.value === undefined ? "" : String(log.value),
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

// As in the service, log is console's only method.
var console = { log: __cosmonaut.log };

function getContext() {
  return __cosmonaut.context;
}

// Entry point of UDF calls: a function and its arguments as JSON text.
function __cosmonautCall(fn, args) {
  var result = fn.apply(null, JSON.parse(args));
  return result === undefined ? undefined : JSON.stringify(result);
}
