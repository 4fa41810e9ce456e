// ssekit's browser client for Server-Sent Events: an ES module with no dependencies and no build step.
//
// - `SSEParser`: an incremental, spec-exact `text/event-stream` parser (WHATWG HTML, "Server-sent
//   events", parsing and interpreting an event stream), with a bound on the size of one event.
// - `streamEvents(url, options)`: a fetch-based async iterator of events, for POST bodies (which
//   `EventSource` cannot send). It never reconnects.
// - `openEventSource(url, handlers)`: the browser's own `EventSource`, closed on the final event so
//   that the browser does not reconnect (and re-run an LLM call) when the stream ends.
// - `resumableStream(url, options)`: `streamEvents` for a server with resumable streams (ssekit's
//   `chat_app(bot, resume=streams)`): it resumes by itself after a dropped connection, can keep its
//   place in `sessionStorage` for `restoreStream` after a reload, and `stop()` stops the model.
//   `resumeStream` resumes a stream known by an event ID.
//
// Errors are distinct classes, all extending `SSEError`:
// - `HttpError`: the server answered with a non-2xx status or not with `text/event-stream`.
// - `ServerError`: the server sent an event named `error` (by default) — the stream itself failed.
// - `ConnectionError`: the connection failed or dropped, or the stream ended before its `done` event.
// - `EventTooLongError`: the server sent an event longer than `maxEventLength` characters; the client
//   stops there rather than buffer without bound.
// - `ResumeError`: a resumable stream is gone (404) or could not be resumed in `maxRetries` tries.
// Aborting through an `AbortSignal` rejects with the signal's reason (an `AbortError` `DOMException`
// unless you gave another reason), never with one of the classes above.
/**
 * One dispatched event.
 *
 * @typedef {object} SSEEvent
 * @property {string} event The event type: the last `event` field of the block, or "message".
 * @property {string} data The data lines joined with "\n" (no trailing newline).
 * @property {string} id The last event ID: it persists from earlier events until another `id` field
 *   ("" when none was ever set, or after an empty `id` field).
 * @property {number} [retry] Present only when a valid `retry` field (ASCII digits) arrived since the
 *   previous dispatched event: the reconnection delay the server asks for, in milliseconds.
 */

/** Base class of the errors this module throws or reports. */
export class SSEError extends Error {
  /**
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  constructor(message, options) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The server did not answer with an event stream: a status outside 200-299 (`reason: "status"`), or a
 * 2xx response whose `Content-Type` is not `text/event-stream` (`reason: "content-type"`).
 */
export class HttpError extends SSEError {
  /**
   * @param {object} init
   * @param {"status" | "content-type"} init.reason
   * @param {number} init.status
   * @param {string} init.statusText
   * @param {Headers} init.headers
   * @param {string} init.body The start of the response body as text (see `body`).
   * @param {string} init.url
   */
  constructor({ reason, status, statusText, headers, body, url }) {
    const contentType = headers.get("content-type") ?? "";
    super(
      reason === "status"
        ? `HTTP ${status}${statusText ? ` ${statusText}` : ""} from ${url}`
        : `expected text/event-stream from ${url}, got ${contentType || "no Content-Type"}`,
    );
    /** @type {"status" | "content-type"} */
    this.reason = reason;
    /** @type {number} */
    this.status = status;
    /** @type {string} */
    this.statusText = statusText;
    /** @type {Headers} */
    this.headers = headers;
    /** @type {string} */
    this.contentType = contentType;
    /**
     * The first 64 KiB (65,536 bytes) of the body, decoded as UTF-8: at most 65,536 characters. A
     * character cut by the limit is dropped; the rest of the body is not read.
     *
     * @type {string}
     */
    this.body = body;
    /** @type {string} */
    this.url = url;
  }

  /**
   * The body parsed as JSON, or `undefined` if it is not JSON (e.g. a FastAPI `{"detail": ...}`).
   *
   * @returns {unknown}
   */
  get json() {
    try {
      return JSON.parse(this.body);
    } catch {
      return undefined;
    }
  }
}

/**
 * The server reported a failure in the stream itself: it sent an event whose type is the error event
 * name (`"error"` by default). `data` is what the server sent (ssekit sends one short, redacted line).
 */
export class ServerError extends SSEError {
  /** @param {SSEEvent} event */
  constructor(event) {
    super(event.data || "the server reported an error");
    /** @type {string} */
    this.event = event.event;
    /** @type {string} */
    this.data = event.data;
    /** @type {string} */
    this.id = event.id;
  }
}

/**
 * The stream did not complete: the request or the connection failed (`reason: "network"`), the stream
 * ended cleanly but before its done event (`reason: "incomplete"`, `streamEvents` only), or the
 * browser's `EventSource` failed the connection without retrying — a non-200 status, a wrong
 * `Content-Type` or a 204 (`reason: "refused"`, `openEventSource` only; `EventSource` does not expose
 * the status). `lastEventId` is the last event ID seen, for a manual resume.
 */
export class ConnectionError extends SSEError {
  /**
   * @param {"network" | "incomplete" | "refused"} reason
   * @param {string} message
   * @param {string} lastEventId
   * @param {unknown} [cause]
   */
  constructor(reason, message, lastEventId, cause) {
    super(message, cause === undefined ? undefined : { cause });
    /** @type {"network" | "incomplete" | "refused"} */
    this.reason = reason;
    /** @type {string} */
    this.lastEventId = lastEventId;
  }
}


/**
 * The stream sent an event longer than `maxEventLength` characters: its data lines so far plus the
 * line being read (any line counts, even one the parser would ignore). The parser stops there instead
 * of buffering without bound: the events before it were delivered, the oversized one is dropped, and
 * `streamEvents` closes the connection. Asking again usually meets the same event: raise the limit or
 * fix the server. `lastEventId` is the last event ID of the delivered events.
 */
export class EventTooLongError extends SSEError {
  /**
   * @param {number} maxEventLength
   * @param {string} lastEventId
   * @param {string} [url]
   */
  constructor(maxEventLength, lastEventId, url) {
    const from = url === undefined ? "" : ` from ${url}`;
    super(`an event${from} is longer than maxEventLength (${maxEventLength} characters)`);
    /** @type {number} The limit it broke, in characters. */
    this.maxEventLength = maxEventLength;
    /** @type {string} */
    this.lastEventId = lastEventId;
  }
}

const LF = 10;
const CR = 13;
const DIGITS = /^[0-9]+$/;

/**
 * The default `maxEventLength`: 4 MiB of characters. An LLM token event is a few bytes, a whole
 * answer or a tool call's JSON rarely 100 KB, and a base64 image of 3 MB still fits. Yet what a
 * hostile server can make the tab hold stays in the tens of MB (the event's data and unfinished line
 * together, the event type and the last event ID each, at most this many UTF-16 code units), far
 * below V8's string limit (2^29 - 24 characters), where an unbounded line ends in a `RangeError`.
 */
const DEFAULT_MAX_EVENT_LENGTH = 4 * 1024 * 1024;
/** Bytes decoded at a time: a huge chunk is parsed in slices, so it stops at the limit. */
const DECODE_SLICE = 64 * 1024;
/** Pieces of a `Pieces` buffer merged into one string once this many have piled up. */
const MERGE_PIECES = 64;

/**
 * Strings that arrive one by one and are read once, joined by `separator`: the pieces of a line split
 * over chunks (""), or the data lines of one event ("\n"). Joining once keeps the cost linear (no
 * string rebuilt per piece), and merging every `MERGE_PIECES` pieces keeps the memory close to that
 * of the text itself, even for a line sent a byte at a time or a million one-character data lines.
 */
class Pieces {
  /** @type {string} */
  #separator;
  /** @type {string[]} Runs of `MERGE_PIECES` pieces, each joined already. */
  #merged = [];
  /** @type {string[]} Pieces pushed since the last merge. */
  #pieces = [];
  #count = 0;
  #length = 0;

  /** @param {string} separator */
  constructor(separator) {
    this.#separator = separator;
  }

  /** How many pieces are held. */
  get count() {
    return this.#count;
  }

  /** The characters (UTF-16 code units) of the pieces held, separators not included. */
  get length() {
    return this.#length;
  }

  /** @param {string} piece */
  push(piece) {
    this.#pieces.push(piece);
    this.#count += 1;
    this.#length += piece.length;
    if (this.#pieces.length === MERGE_PIECES) {
      this.#merged.push(this.#pieces.join(this.#separator));
      this.#pieces = [];
    }
  }

  /** All the pieces joined; the buffer is left empty. */
  take() {
    const pieces = this.#pieces;
    let text;
    if (this.#merged.length === 0) {
      text = pieces.length === 1 ? pieces[0] : pieces.join(this.#separator);
    } else {
      if (pieces.length > 0) this.#merged.push(pieces.join(this.#separator));
      text = this.#merged.join(this.#separator);
    }
    this.clear();
    return text;
  }

  clear() {
    if (this.#merged.length > 0) this.#merged = [];
    if (this.#pieces.length > 0) this.#pieces = [];
    this.#count = 0;
    this.#length = 0;
  }
}

/**
 * The bytes of any other `BufferSource` (an `ArrayBuffer`, a `DataView`, another typed array).
 *
 * @param {ArrayBuffer | ArrayBufferView} source
 */
function asBytes(source) {
  if (!ArrayBuffer.isView(source)) return new Uint8Array(source);
  return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
}

/**
 * The index of `search` in `text` from `from` on, or `text.length` when it does not occur.
 *
 * @param {string} text
 * @param {string} search
 * @param {number} from
 */
function indexOrLength(text, search, from) {
  const index = text.indexOf(search, from);
  return index === -1 ? text.length : index;
}

/**
 * An incremental `text/event-stream` parser, written from the WHATWG algorithm.
 *
 * Feed it the body in chunks of any size — bytes (decoded as UTF-8, whatever any charset says) or
 * already-decoded text — and it returns the events each chunk completes. It handles CRLF, LF and lone
 * CR line ends (also a CR at the end of one chunk and its LF at the start of the next), chunks that
 * split a UTF-8 sequence, one leading BOM (only at the very start of the stream; a later one is data),
 * comments, fields without a colon, exactly one leading space removed from values, `retry` only when
 * it is all ASCII digits, `id` ignored when it contains NUL, unknown fields ignored, blocks without
 * data not dispatched, and an unterminated last event discarded by `end()`.
 *
 * One bound, which the spec leaves to implementations: an event longer than `maxEventLength`
 * characters (its data lines so far plus the line being read) fails the parser with an
 * `EventTooLongError`. The call that meets it still returns the events completed before; that call,
 * or else the next `feed()` or `end()`, throws it, and so does every call after. Whatever the chunking,
 * the same stream fails after the same events. Each chunk costs time in proportion to its own size,
 * never to what is buffered.
 */
export class SSEParser {
  /** @type {TextDecoder} */
  #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  /** Nothing decoded yet: a BOM now is the stream's leading BOM. */
  #atStart = true;
  /** The previous chunk ended with CR: a LF starting this one belongs to that line end. */
  #skipLF = false;
  /** The start of a line whose end has not arrived yet. */
  #partial = new Pieces("");
  /** The values of the data lines of the event being assembled. */
  #data = new Pieces("\n");
  #type = "";
  /** The last event ID buffer (set by `id` fields). */
  #idBuffer = "";
  /** The last event ID string (set from the buffer when a block ends, dispatched or not). */
  #lastEventId = "";
  /** @type {number | undefined} */
  #reconnectionTime = undefined;
  /** @type {number | undefined} */
  #pendingRetry = undefined;
  /** @type {((text: string) => void) | undefined} */
  #onComment;
  /** @type {number} */
  #maxEventLength;
  /** @type {SSEEvent[]} */
  #out = [];
  #ended = false;
  /** @type {EventTooLongError | undefined} */
  #error = undefined;

  /**
   * @param {object} [options]
   * @param {(text: string) => void} [options.onComment] Called with each comment line's text after
   *   the ":" (a leading space is kept), e.g. to observe keep-alives.
   * @param {number} [options.maxEventLength] The longest event accepted, in characters (UTF-16 code
   *   units): its data lines (each with its "\n") plus the line being read, field name included.
   *   Default 4 MiB (4,194,304).
   */
  constructor({ onComment, maxEventLength = DEFAULT_MAX_EVENT_LENGTH } = {}) {
    if (!Number.isSafeInteger(maxEventLength) || maxEventLength < 1) {
      throw new TypeError(
        `maxEventLength must be a positive integer (a number of characters), got ${String(maxEventLength)}`,
      );
    }
    this.#onComment = onComment;
    this.#maxEventLength = maxEventLength;
  }

  /**
   * The last event ID as of the last blank line (an `id` in an unterminated block does not count):
   * what a browser would send back in `Last-Event-ID` on a reconnect.
   */
  get lastEventId() {
    return this.#lastEventId;
  }

  /** The reconnection delay (ms) set by the last valid `retry` field, or `undefined`. */
  get reconnectionTime() {
    return this.#reconnectionTime;
  }

  /** The `EventTooLongError` that stopped the parser, or `undefined` while it has not failed. */
  get error() {
    return this.#error;
  }

  /**
   * Parse the next piece of the stream.
   *
   * @param {Uint8Array | ArrayBuffer | string} chunk
   * @returns {SSEEvent[]} The events this chunk completed, in order.
   */
  feed(chunk) {
    if (this.#error !== undefined) throw this.#error;
    if (this.#ended) throw new Error("SSEParser: feed() after end()");
    if (typeof chunk === "string") {
      // Flush a dangling partial UTF-8 sequence first (as U+FFFD), as a decoder would.
      this.#text(this.#decoder.decode() + chunk);
    } else {
      this.#bytes(chunk instanceof Uint8Array ? chunk : asBytes(chunk));
    }
    return this.#take();
  }

  /**
   * Finish the stream: an event not ended by a blank line (and any unfinished line) is discarded,
   * as the spec requires. Returns nothing but an empty array, for symmetry with `feed()`.
   *
   * @returns {SSEEvent[]}
   */
  end() {
    if (!this.#ended && this.#error === undefined) this.#text(this.#decoder.decode());
    this.#ended = true;
    this.#clear();
    return this.#take();
  }

  /**
   * The events completed so far; once none is left and the parser has failed, its error.
   *
   * @returns {SSEEvent[]}
   */
  #take() {
    const out = this.#out;
    this.#out = [];
    if (out.length === 0 && this.#error !== undefined) throw this.#error;
    return out;
  }

  /** @param {Uint8Array} bytes */
  #bytes(bytes) {
    if (bytes.length <= DECODE_SLICE) {
      this.#text(this.#decoder.decode(bytes, { stream: true }));
      return;
    }
    for (let at = 0; at < bytes.length && this.#error === undefined; at += DECODE_SLICE) {
      this.#text(this.#decoder.decode(bytes.subarray(at, at + DECODE_SLICE), { stream: true }));
    }
  }

  /** @param {string} text */
  #text(text) {
    const length = text.length;
    let start = this.#firstLineStart(text);
    // The next LF and CR at or after `start` (`length` when there is none). Each native search resumes
    // past the previous hit, so a text is scanned once however many lines it holds.
    let lf = -1;
    let cr = -1;
    while (start < length) {
      if (lf < start) lf = indexOrLength(text, "\n", start);
      if (cr < start) cr = indexOrLength(text, "\r", start);
      const end = Math.min(lf, cr);
      // The event so far: its data values, a "\n" after each, and this line.
      const held = this.#data.length + this.#data.count + this.#partial.length;
      if (end - start > this.#maxEventLength - held) {
        this.#fail(); // one character more than the event may hold, whatever comes next
        return;
      }
      if (end === length) {
        this.#partial.push(text.slice(start));
        return;
      }
      let line = text.slice(start, end);
      if (this.#partial.count > 0) {
        this.#partial.push(line);
        line = this.#partial.take();
      }
      this.#line(line);
      start = end + 1;
      if (end === cr) {
        if (start === length) {
          this.#skipLF = true; // the LF of this CRLF may be the next chunk's first character
        } else if (lf === start) {
          start += 1; // CRLF is one line end
        }
      }
    }
  }

  /**
   * Where the first line of `text` starts: after the stream's leading BOM, or after the LF of a CRLF
   * whose CR ended the previous chunk.
   *
   * @param {string} text
   */
  #firstLineStart(text) {
    if (text === "") return 0;
    let start = 0;
    if (this.#atStart) {
      this.#atStart = false;
      if (text.charCodeAt(0) === 0xfeff) start = 1;
    }
    if (this.#skipLF) {
      this.#skipLF = false;
      if (start < text.length && text.charCodeAt(start) === LF) start += 1;
    }
    return start;
  }

  /** @param {string} line */
  #line(line) {
    if (line === "") {
      this.#dispatch();
      return;
    }
    const colon = line.indexOf(":");
    if (colon === 0) {
      this.#onComment?.(line.slice(1));
      return;
    }
    let field = line;
    let value = "";
    if (colon > 0) {
      field = line.slice(0, colon);
      value = line.charCodeAt(colon + 1) === 0x20 ? line.slice(colon + 2) : line.slice(colon + 1);
    }
    switch (field) {
      case "data":
        this.#data.push(value);
        break;
      case "event":
        this.#type = value;
        break;
      case "id":
        if (!value.includes("\0")) this.#idBuffer = value;
        break;
      case "retry":
        if (DIGITS.test(value)) {
          this.#reconnectionTime = Number.parseInt(value, 10);
          this.#pendingRetry = this.#reconnectionTime;
        }
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  #dispatch() {
    this.#lastEventId = this.#idBuffer; // the buffer is not reset: the id persists
    const type = this.#type;
    this.#type = "";
    if (this.#data.count === 0) return; // a block without data is not dispatched
    /** @type {SSEEvent} */
    const event = { event: type || "message", data: this.#data.take(), id: this.#lastEventId };
    if (this.#pendingRetry !== undefined) {
      event.retry = this.#pendingRetry;
      this.#pendingRetry = undefined;
    }
    this.#out.push(event);
  }

  /** Stop at an event that is too long: drop it, keep the error for every later call. */
  #fail() {
    this.#error = new EventTooLongError(this.#maxEventLength, this.#lastEventId);
    this.#clear();
  }

  #clear() {
    this.#partial.clear();
    this.#data.clear();
    this.#type = "";
  }
}

/**
 * Options of `streamEvents`. Any other property is passed to `fetch` as is (`credentials`, `mode`,
 * `cache`, `keepalive`, ...).
 *
 * @typedef {object} StreamOptions
 * @property {string} [method] The HTTP method; "POST" by default.
 * @property {BodyInit} [body] The request body, sent as is.
 * @property {unknown} [json] A value sent as JSON (sets `Content-Type: application/json` unless
 *   `headers` has one). Do not give both `body` and `json`.
 * @property {HeadersInit} [headers] Request headers; `Accept: text/event-stream` is added unless set.
 * @property {AbortSignal} [signal] Aborts the request and the stream; the iterator then rejects with
 *   the signal's reason (an `AbortError` `DOMException` by default).
 * @property {string} [lastEventId] Sent as `Last-Event-ID`, to resume a stream by hand.
 * @property {string | null} [doneEvent] The event type that ends the stream: it is yielded, then the
 *   iterator finishes and closes the connection. If the body ends before it, the iterator throws a
 *   `ConnectionError` with `reason: "incomplete"`. `null` disables this: the iterator then simply
 *   finishes at the end of the body. Default "done".
 * @property {string | null} [errorEvent] The event type the server uses to report a failure: it is
 *   thrown as a `ServerError` (not yielded). `null` yields such events like any other. Default "error".
 * @property {(text: string) => void} [onComment] Called for each comment line (e.g. keep-alives).
 * @property {number} [maxEventLength] The longest event accepted, in characters: its data lines plus
 *   the line being read. A longer one throws an `EventTooLongError` and closes the connection.
 *   Default 4 MiB (4,194,304).
 * @property {typeof fetch} [fetch] The `fetch` to use (default: the global one).
 */

/** The most of an error response's body that is read, in bytes. */
const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * Stream the events of an SSE response obtained with `fetch` (POST by default).
 *
 * ```js
 * for await (const { event, data } of streamEvents("/chat", { json: { messages } })) {
 *   if (event === "message") output.append(data);
 * }
 * ```
 *
 * Error model (each a distinct class; test with `instanceof`):
 * - `HttpError` — non-2xx status or a `Content-Type` other than `text/event-stream`; has `status`,
 *   `body` (the first 64 KiB, as text) and `json` (parsed body, or `undefined`). Thrown before any
 *   event.
 * - `ServerError` — the server sent an `errorEvent` ("error"): the generation failed on the server.
 * - `ConnectionError` — `reason: "network"` when `fetch` or reading the body failed (connection
 *   refused or dropped), `reason: "incomplete"` when the body ended before `doneEvent`.
 * - `EventTooLongError` — an event grew past `maxEventLength`; the connection is closed.
 * - Abort (`signal`): rejects with `signal.reason` (`AbortError`), whether aborted before the
 *   response, while waiting for data, or while the consumer holds buffered events.
 *
 * Breaking out of the `for await` loop closes the connection. It never reconnects by itself: to
 * resume, call it again with `lastEventId` (the `lastEventId` of the `ConnectionError`).
 *
 * @param {string | URL} url
 * @param {StreamOptions} [options]
 * @returns {AsyncGenerator<SSEEvent, void, undefined>}
 */
export async function* streamEvents(url, options = {}) {
  const {
    doneEvent = "done",
    errorEvent = "error",
    onComment,
    maxEventLength,
    fetch: fetchImpl = globalThis.fetch,
    ...requestOptions
  } = options;
  const parser = new SSEParser({ onComment, maxEventLength });
  const request = buildRequest(url, requestOptions);
  const where = String(url);
  const { signal } = requestOptions;
  const response = await openStream(fetchImpl, request, { where, signal, parser });
  yield* readEvents(response.body, parser, { where, signal, doneEvent, errorEvent });
}

/**
 * The request `streamEvents` sends. Built before anything is sent, so that invalid options (a GET
 * with a body, a bad URL) throw a plain `TypeError` instead of passing for a network failure.
 *
 * @param {string | URL} url
 * @param {StreamOptions} options The request part of the options.
 */
function buildRequest(url, { method = "POST", body, json, headers, signal, lastEventId, ...init }) {
  if (body !== undefined && json !== undefined) {
    throw new TypeError("streamEvents: give `body` or `json`, not both");
  }
  const requestHeaders = new Headers(headers);
  if (!requestHeaders.has("accept")) requestHeaders.set("accept", "text/event-stream");
  if (lastEventId !== undefined) requestHeaders.set("last-event-id", lastEventId);
  let requestBody = body;
  if (json !== undefined) {
    requestBody = JSON.stringify(json);
    if (!requestHeaders.has("content-type")) requestHeaders.set("content-type", "application/json");
  }
  return new Request(url, {
    cache: "no-store",
    ...init,
    method,
    headers: requestHeaders,
    body: requestBody,
    signal,
  });
}

/**
 * Send the request and return its event-stream response, whose body is not `null`. Anything else
 * throws: an `HttpError` (with the start of the body), a `ConnectionError`, or the abort reason.
 *
 * @param {typeof fetch} fetchImpl
 * @param {Request} request
 * @param {{ where: string, signal: AbortSignal | undefined, parser: SSEParser }} context
 * @returns {Promise<Response & { body: ReadableStream<Uint8Array> }>}
 */
async function openStream(fetchImpl, request, { where, signal, parser }) {
  /** @type {Response} */
  let response;
  try {
    response = await fetchImpl(request);
  } catch (error) {
    throw signal?.aborted ? signal.reason : networkError(error, where, parser);
  }
  if (!response.ok || !isEventStream(response.headers.get("content-type"))) {
    const text = await readText(response, signal);
    throw new HttpError({
      reason: response.ok ? "content-type" : "status",
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
      body: text,
      url: where,
    });
  }
  if (response.body === null) {
    throw new ConnectionError("incomplete", `no body from ${where}`, parser.lastEventId);
  }
  return /** @type {Response & { body: ReadableStream<Uint8Array> }} */ (response);
}

/**
 * Yield the events of an event-stream body until its done event, its end or a failure, and close
 * the connection on any early exit. Kept apart from the request, so that the transport can change
 * (another request, a resume) while the reading and the error model stay the same.
 *
 * @param {ReadableStream<Uint8Array>} body
 * @param {SSEParser} parser
 * @param {{ where: string, signal: AbortSignal | undefined, doneEvent: string | null,
 *   errorEvent: string | null }} context
 * @returns {AsyncGenerator<SSEEvent, void, undefined>}
 */
async function* readEvents(body, parser, { where, signal, doneEvent, errorEvent }) {
  const reader = body.getReader();
  let finished = false;
  try {
    for (;;) {
      /** @type {ReadableStreamReadResult<Uint8Array>} */
      let result;
      try {
        result = await reader.read();
      } catch (error) {
        finished = true; // the stream has errored: nothing left to cancel
        throw signal?.aborted ? signal.reason : networkError(error, where, parser);
      }
      for (const event of parseRead(parser, result, where)) {
        signal?.throwIfAborted();
        if (errorEvent !== null && event.event === errorEvent) throw new ServerError(event);
        yield event;
        if (doneEvent !== null && event.event === doneEvent) return;
      }
      // The read also met an event too long: stop now, not after waiting for another read.
      if (parser.error !== undefined) throw tooLong(parser.error, where);
      if (result.done) {
        finished = true;
        if (doneEvent !== null) {
          throw new ConnectionError(
            "incomplete",
            `the stream from ${where} ended without a "${doneEvent}" event`,
            parser.lastEventId,
          );
        }
        return;
      }
    }
  } finally {
    // Early exit (break, return, throw, done event): close the connection so the server stops.
    if (!finished) reader.cancel().catch(() => {});
  }
}

/**
 * The events one read completes; the parser's `EventTooLongError` is thrown again naming the URL.
 *
 * @param {SSEParser} parser
 * @param {ReadableStreamReadResult<Uint8Array>} result
 * @param {string} where
 */
function parseRead(parser, result, where) {
  try {
    return result.done ? parser.end() : parser.feed(result.value);
  } catch (error) {
    if (error instanceof EventTooLongError) throw tooLong(error, where);
    throw error;
  }
}

/**
 * @param {EventTooLongError} error
 * @param {string} where
 */
function tooLong(error, where) {
  return new EventTooLongError(error.maxEventLength, error.lastEventId, where);
}

/**
 * Whether a `Content-Type` value is the `text/event-stream` MIME type (parameters ignored).
 *
 * @param {string | null} contentType
 */
function isEventStream(contentType) {
  if (contentType === null) return false;
  return contentType.split(";", 1)[0].trim().toLowerCase() === "text/event-stream";
}

/**
 * @param {unknown} error
 * @param {string} where
 * @param {SSEParser} parser
 */
function networkError(error, where, parser) {
  const detail = error instanceof Error ? error.message : String(error);
  return new ConnectionError("network", `connection to ${where} failed: ${detail}`, parser.lastEventId, error);
}

/**
 * The first `ERROR_BODY_LIMIT` bytes of an error response, as text; the rest is never read: the body
 * is cancelled, which closes the connection. A UTF-8 sequence cut by the limit is dropped.
 *
 * @param {Response} response
 * @param {AbortSignal | undefined} signal
 */
async function readText(response, signal) {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text + decoder.decode();
      const room = ERROR_BODY_LIMIT - size;
      if (value.byteLength >= room) {
        reader.cancel().catch(() => {});
        return text + decoder.decode(value.subarray(0, room), { stream: true });
      }
      size += value.byteLength;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    if (signal?.aborted) throw signal.reason;
    return text; // the error response itself broke off: report what arrived
  }
}

/**
 * Handlers and options of `openEventSource`.
 *
 * @typedef {object} EventSourceHandlers
 * @property {(data: string, event: MessageEvent) => void} [onMessage] Each event of type "message".
 * @property {(event: SSEEvent, raw: MessageEvent) => void} [onEvent] Every event listened to (type
 *   "message", the `events` and the `doneEvents`), before the specific handler.
 * @property {(event: SSEEvent) => void} [onDone] A done event arrived; the source is already closed.
 * @property {(error: ServerError | ConnectionError) => void} [onError] A `ServerError` when the server
 *   sent an `errorEvent`; a `ConnectionError` when the connection failed (`reason: "network"`, or
 *   `"refused"` when the browser gave up at once: non-200 status, wrong type, 204).
 * @property {string[]} [events] Other event types to listen for (`EventSource` has no wildcard).
 * @property {string[]} [doneEvents] Types that end the stream: the source is closed on them.
 *   Default `["done", "error"]`.
 * @property {string | null} [errorEvent] The type reported as a `ServerError` (the source is closed
 *   on it too). Default "error"; `null` treats it like any other type.
 * @property {boolean} [reconnect] Let the browser reconnect when the connection drops. Default
 *   `false`: the source is closed and `onError` gets a `ConnectionError`, since a reconnect would
 *   re-run the request (and the LLM call) from the start.
 * @property {boolean} [withCredentials] Passed to `EventSource`.
 */

/**
 * Open the browser's own `EventSource` (GET only) and close it on the final event, so that the browser
 * does not reconnect — re-running the LLM call — when the stream ends.
 *
 * A server event named "error" and `EventSource`'s own connection-error event both fire "error"
 * listeners: the server's one is a `MessageEvent` (reported as `ServerError`), the connection's a
 * plain `Event` (reported as `ConnectionError`).
 *
 * @param {string | URL} url
 * @param {EventSourceHandlers} [handlers]
 * @returns {EventSource} The source (call `close()` to stop early).
 */
export function openEventSource(url, handlers = {}) {
  const {
    onMessage,
    onEvent,
    onDone,
    onError,
    events = [],
    doneEvents = ["done", "error"],
    errorEvent = "error",
    reconnect = false,
    withCredentials = false,
  } = handlers;
  const source = new EventSource(url, { withCredentials });
  let lastEventId = "";

  /** @param {MessageEvent} raw */
  const toEvent = (raw) => {
    lastEventId = raw.lastEventId;
    return { event: raw.type, data: String(raw.data), id: raw.lastEventId };
  };

  /** @param {Event} raw */
  const listener = (raw) => {
    if (!(raw instanceof MessageEvent)) {
      connectionError();
      return;
    }
    const event = toEvent(raw);
    const isError = errorEvent !== null && event.event === errorEvent;
    const final = isError || doneEvents.includes(event.event);
    if (final) source.close();
    onEvent?.(event, raw);
    if (event.event === "message") onMessage?.(event.data, raw);
    if (isError) {
      onError?.(new ServerError(event));
    } else if (final) {
      onDone?.(event);
    }
  };

  const connectionError = () => {
    if (source.readyState === EventSource.CLOSED) {
      onError?.(
        new ConnectionError("refused", `the browser failed the connection to ${String(url)}`, lastEventId),
      );
    } else if (!reconnect) {
      source.close();
      onError?.(
        new ConnectionError("network", `the connection to ${String(url)} was lost`, lastEventId),
      );
    }
  };

  const types = new Set(["message", "error", ...events, ...doneEvents]);
  if (errorEvent !== null) types.add(errorEvent);
  for (const type of types) source.addEventListener(type, listener);
  return source;
}

// ---------------------------------------------------------------------------------------------
// Resumable streams: a POST answer that survives a dropped connection and a page reload.
// ---------------------------------------------------------------------------------------------

/**
 * A resumable stream could not be resumed. `reason: "not-found"`: the server answered `404`, the
 * stream is unknown or expired (its answer is lost; asking again runs the model again).
 * `reason: "exhausted"`: `maxRetries` resumes in a row failed (network errors, `5xx`, `429`); the
 * stream may still be running, and its saved point (`storageKey`) is kept for a later
 * `restoreStream`. `cause` is the last failure.
 */
export class ResumeError extends SSEError {
  /**
   * @param {"not-found" | "exhausted"} reason
   * @param {string} message
   * @param {{ streamId: string, lastEventId: string, attempts: number, cause?: unknown }} details
   */
  constructor(reason, message, { streamId, lastEventId, attempts, cause }) {
    super(message, cause === undefined ? undefined : { cause });
    /** @type {"not-found" | "exhausted"} */
    this.reason = reason;
    /** @type {string} The stream's id (the `sid`). */
    this.streamId = streamId;
    /** @type {string} The last event ID received (`<sid>:<seq>`), or "". */
    this.lastEventId = lastEventId;
    /** @type {number} Connections that failed in a row without an event: the one that dropped,
     * then each resume. */
    this.attempts = attempts;
  }
}

/**
 * Options of `resumableStream`, `resumeStream` and `restoreStream`: those of `streamEvents`, plus:
 *
 * @typedef {StreamOptions & ResumeOptions} ResumableOptions
 * @typedef {object} ResumeOptions
 * @property {number} [maxRetries] Resume requests tried in a row before giving up with a
 *   `ResumeError` (`"exhausted"`); an event received resets the count. Default 6.
 * @property {number} [retryDelay] The wait before the first resume, in ms; it doubles at each
 *   failed try, up to `maxRetryDelay`, and each wait is drawn between half and all of it (jitter).
 *   Default 250.
 * @property {number} [maxRetryDelay] The longest wait between two tries, in ms. Default 8000.
 * @property {string} [storageKey] Keep the stream's resume URL and last event ID in
 *   `sessionStorage` under this key while it runs, so that a reloaded page can `restoreStream` it.
 *   Removed when the stream ends (but not when the tries are exhausted).
 * @property {(retry: { attempt: number, delay: number, error: unknown }) => void} [onRetry] Called
 *   before each wait for a resume, with what ended the previous connection.
 */

const RESUME_DEFAULTS = { maxRetries: 6, retryDelay: 250, maxRetryDelay: 8000 };
/** The response header that carries a resumable stream's id. */
const STREAM_ID_HEADER = "ssekit-stream-id";
/** The error event a server sends when it could not read its store: the stream may go on. */
const STORE_UNAVAILABLE = "store_unavailable";

/**
 * Start a resumable stream (POST by default, like `streamEvents`) on a server that serves resumable
 * streams (`chat_app(bot, resume=streams)`). When the connection drops, it resumes by itself:
 * `GET {url}/streams/<sid>` with `Last-Event-ID`, after a backoff, at most `maxRetries` times in a
 * row. The events arrive exactly once and in order, whatever the cuts. On a server without resume
 * (no `ssekit-stream-id` header), it behaves as `streamEvents`.
 *
 * ```js
 * const stream = resumableStream("/chat", { json: { messages }, storageKey: "chat" });
 * stopButton.onclick = () => stream.stop();            // DELETE: the model stops
 * for await (const { event, data } of stream) if (event === "message") output.append(data);
 * ```
 *
 * @param {string | URL} url The chat endpoint; its resume URLs are `{url}/streams/<sid>`.
 * @param {ResumableOptions} [options]
 */
export function resumableStream(url, options = {}) {
  return new ResumableStream(url, options, "");
}

/**
 * Resume a stream known by one of its event IDs (`<sid>:<seq>`: the events after it arrive) or by
 * its id alone (`streamId`: all its events, from the first). `url` is the chat endpoint the stream
 * was started on. It then goes on as `resumableStream` does.
 *
 * @param {string | URL} url
 * @param {ResumableOptions & { streamId?: string }} options `lastEventId` or `streamId`.
 */
export function resumeStream(url, options) {
  const { streamId, lastEventId = "", ...rest } = options;
  const sid = streamId ?? streamIdOf(lastEventId);
  if (!sid) throw new TypeError("resumeStream: give `lastEventId` (<sid>:<seq>) or `streamId`");
  return new ResumableStream(url, rest, sid, lastEventId);
}

/**
 * After a reload: the stream that was running under `storageKey` in this tab (`sessionStorage`),
 * resumed after the last event the page received; `null` when none was saved.
 *
 * @param {string} storageKey
 * @param {ResumableOptions} [options]
 * @returns {ResumableStream | null}
 */
export function restoreStream(storageKey, options = {}) {
  const saved = loadPoint(storageKey);
  if (saved === null) return null;
  return new ResumableStream(saved.url, { ...options, storageKey }, saved.streamId, saved.lastEventId);
}

/**
 * The stream id in an event ID `<sid>:<seq>` ("" when it is not one).
 *
 * @param {string} eventId
 */
function streamIdOf(eventId) {
  const colon = eventId.lastIndexOf(":");
  return colon > 0 && DIGITS.test(eventId.slice(colon + 1)) ? eventId.slice(0, colon) : "";
}

/**
 * The chat URL of a stream's resume URL: the chat URL without query, fragment or trailing slash.
 *
 * @param {string | URL} url
 */
function mountOf(url) {
  const base = globalThis.location?.href;
  const mount = new URL(url, base);
  mount.search = "";
  mount.hash = "";
  mount.pathname = mount.pathname.replace(/\/+$/, "");
  return mount.href;
}

/**
 * @param {string} storageKey
 * @returns {{ url: string, streamId: string, lastEventId: string } | null}
 */
function loadPoint(storageKey) {
  try {
    const saved = JSON.parse(globalThis.sessionStorage?.getItem(storageKey) ?? "null");
    if (typeof saved?.url === "string" && typeof saved.streamId === "string" && saved.streamId) {
      return { url: saved.url, streamId: saved.streamId, lastEventId: String(saved.lastEventId ?? "") };
    }
  } catch {
    // unreadable or unavailable storage: nothing to restore
  }
  return null;
}

/**
 * Wait `delay` ms, or reject with the signal's reason once it is aborted.
 *
 * @param {number} delay
 * @param {AbortSignal} signal
 */
function pause(delay, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(undefined);
    }, delay);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Whether a failure of a resumable stream's connection is worth a resume: the network, a body that
 * ended before its done event, a server busy or briefly away (`5xx`, `429`), a store it could not
 * read. Anything else (a `4xx`, an event too long, the server's own error event) is final.
 *
 * @param {unknown} error
 */
function isTransient(error) {
  if (error instanceof ConnectionError) return true;
  if (error instanceof HttpError) return error.status >= 500 || error.status === 429;
  return error instanceof ServerError && error.data === STORE_UNAVAILABLE;
}

/**
 * One resumable stream: iterate it (once) with `for await`; `stop()` stops it on the server.
 * Made by `resumableStream`, `resumeStream` and `restoreStream`.
 *
 * Leaving the loop early (`break`) or aborting its `signal` closes the connection only: the answer
 * goes on on the server (until its `orphan_timeout`), and a saved point is kept, so the stream can
 * still be resumed. `stop()` ends it for good.
 */
export class ResumableStream {
  /** @type {string | URL} The URL of the first request. */
  #url;
  /** @type {string} The chat URL: the first request's, without query nor trailing slash. */
  #mount;
  /** @type {StreamOptions} The options of the first request (what `fetch` and the body take). */
  #requestOptions;
  /** @type {{ doneEvent: string | null, errorEvent: string | null, onComment?: (text: string) => void,
   *   maxEventLength?: number, fetch: typeof fetch }} How every connection is read. */
  #reading;
  /** @type {{ maxRetries: number, retryDelay: number, maxRetryDelay: number }} */
  #retry;
  /** @type {ResumeOptions["onRetry"]} */
  #onRetry;
  /** @type {string | undefined} */
  #storageKey;
  #streamId = "";
  #lastEventId = "";
  /** The stream's id is known: every request from now on is a resume, never the first again. */
  #resuming;
  #controller = new AbortController();
  #iterated = false;
  /** @type {Promise<string>} Settles with the stream id once the first response is in. */
  #started;
  /** @type {(streamId: string) => void} */
  #onStarted = () => {};

  /**
   * @param {string | URL} url
   * @param {ResumableOptions} options
   * @param {string} streamId "" to start a new stream.
   * @param {string} [lastEventId]
   */
  constructor(url, options, streamId, lastEventId = "") {
    const { maxRetries, retryDelay, maxRetryDelay, storageKey, onRetry, ...streamOptions } = {
      ...RESUME_DEFAULTS,
      ...options,
    };
    const { doneEvent = "done", errorEvent = "error", onComment, maxEventLength } = streamOptions;
    const { fetch: fetchImpl = globalThis.fetch, ...requestOptions } = streamOptions;
    for (const name of ["doneEvent", "errorEvent", "onComment", "maxEventLength"]) {
      delete (/** @type {Record<string, unknown>} */ (requestOptions))[name];
    }
    for (const [name, value] of Object.entries({ maxRetries, retryDelay, maxRetryDelay })) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new TypeError(`${name} must be an integer >= 0, got ${String(value)}`);
      }
    }
    this.#url = url;
    this.#mount = mountOf(url);
    this.#requestOptions = requestOptions;
    this.#reading = { doneEvent, errorEvent, onComment, maxEventLength, fetch: fetchImpl };
    this.#retry = { maxRetries, retryDelay, maxRetryDelay };
    this.#onRetry = onRetry;
    this.#storageKey = storageKey;
    this.#streamId = streamId;
    this.#lastEventId = lastEventId;
    this.#resuming = streamId !== "";
    this.#started = new Promise((resolve) => {
      this.#onStarted = resolve;
    });
    if (this.#resuming) this.#onStarted(streamId);
    const { signal } = streamOptions;
    signal?.addEventListener("abort", () => this.#controller.abort(signal.reason), { once: true });
    if (signal?.aborted) this.#controller.abort(signal.reason);
  }

  /** The stream's id (`sid`), once the server has sent it ("" before, or without resume). */
  get streamId() {
    return this.#streamId;
  }

  /** The ID of the last event received (`<sid>:<seq>`), or "". */
  get lastEventId() {
    return this.#lastEventId;
  }

  /** Where the stream is resumed and stopped: `{url}/streams/<sid>` ("" before the id is known). */
  get resumeUrl() {
    return this.#streamId ? `${this.#mount}/streams/${encodeURIComponent(this.#streamId)}` : "";
  }

  /**
   * Stop the stream on the server (`DELETE` its resume URL: the model call is closed), and end the
   * iteration here: it rejects with an `AbortError` `DOMException`. Waits for the stream's id if
   * the first response has not arrived yet. Resolves with the `DELETE`'s status (`202` stopped,
   * `204` it had already ended, `404` unknown), or `undefined` when there was nothing to stop.
   *
   * @returns {Promise<number | undefined>}
   */
  async stop() {
    const streamId = this.#streamId || (this.#iterated ? await this.#started : "");
    this.#controller.abort(new DOMException("the stream was stopped", "AbortError"));
    this.#forget();
    if (!streamId) return undefined;
    const { headers, credentials } = this.#requestOptions;
    const fetchImpl = this.#reading.fetch; // called unbound, as fetch must be
    const response = await fetchImpl(this.resumeUrl, { method: "DELETE", headers, credentials });
    await response.body?.cancel();
    return response.status;
  }

  /** @returns {AsyncGenerator<SSEEvent, void, undefined>} */
  [Symbol.asyncIterator]() {
    if (this.#iterated) throw new TypeError("a ResumableStream can be iterated once");
    this.#iterated = true;
    return this.#events();
  }

  /** @returns {AsyncGenerator<SSEEvent, void, undefined>} */
  async *#events() {
    let attempts = 0;
    try {
      for (;;) {
        try {
          for await (const event of this.#connect()) {
            attempts = 0;
            yield event;
          }
          this.#forget();
          return; // the done event, a 204, or the end of a stream without resume
        } catch (error) {
          if (this.#controller.signal.aborted) throw this.#controller.signal.reason;
          attempts += 1;
          await this.#beforeResume(error, attempts);
        }
      }
    } finally {
      this.#onStarted("");
    }
  }

  /**
   * One connection's events: the first request, or a resume after the last event received. The
   * saved point is updated before each event is handed over.
   *
   * @returns {AsyncGenerator<SSEEvent, void, undefined>}
   */
  async *#connect() {
    const { doneEvent, errorEvent, onComment, maxEventLength, fetch: fetchImpl } = this.#reading;
    const signal = this.#controller.signal;
    const parser = new SSEParser({ onComment, maxEventLength });
    const request = this.#request(signal);
    const where = request.url;
    let response;
    try {
      response = await openStream(fetchImpl, request, { where, signal, parser });
    } catch (error) {
      if (error instanceof HttpError && error.status === 204 && this.#streamId) return;
      throw error;
    }
    this.#learn(response.headers.get(STREAM_ID_HEADER) ?? "");
    for await (const event of readEvents(response.body, parser, { where, signal, doneEvent, errorEvent })) {
      this.#received(event.id);
      yield event;
    }
  }

  /**
   * The first request as given, or a resume (`GET` the resume URL) after the last event received.
   *
   * @param {AbortSignal} signal
   */
  #request(signal) {
    if (!this.#resuming) return buildRequest(this.#url, { ...this.#requestOptions, signal });
    const { method, body, json, lastEventId: _given, signal: _signal, ...init } = this.#requestOptions;
    const lastEventId = this.#lastEventId || undefined; // none: the whole stream, from its start
    return buildRequest(this.resumeUrl, { ...init, method: "GET", lastEventId, signal });
  }

  /**
   * The stream's id, from the response header, else from the first event ID `<sid>:<seq>`; once
   * known, every later request is a resume.
   *
   * @param {string} streamId
   */
  #learn(streamId) {
    if (!this.#streamId && streamId) {
      this.#streamId = streamId;
      this.#resuming = true;
      this.#save();
    }
    this.#onStarted(this.#streamId);
  }

  /** @param {string} eventId */
  #received(eventId) {
    this.#lastEventId = eventId;
    this.#learn(streamIdOf(eventId));
    this.#save();
  }

  /**
   * After a failed connection: wait before the next resume, or throw what ends the stream.
   *
   * @param {unknown} error
   * @param {number} attempts Failed connections in a row.
   */
  async #beforeResume(error, attempts) {
    const details = { streamId: this.#streamId, lastEventId: this.#lastEventId, attempts, cause: error };
    if (this.#resuming && error instanceof HttpError && error.status === 404) {
      this.#forget();
      throw new ResumeError("not-found", `stream ${this.#streamId} is unknown or expired`, details);
    }
    if (!this.#resuming || !isTransient(error)) {
      this.#forget();
      throw error;
    }
    if (attempts > this.#retry.maxRetries) {
      throw new ResumeError(
        "exhausted",
        `stream ${this.#streamId}: ${attempts - 1} resumes failed in a row`,
        details,
      );
    }
    const { retryDelay, maxRetryDelay } = this.#retry;
    const ceiling = Math.min(maxRetryDelay, retryDelay * 2 ** (attempts - 1));
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.#onRetry?.({ attempt: attempts, delay, error });
    await pause(delay, this.#controller.signal);
  }

  #save() {
    if (this.#storageKey === undefined || !this.#streamId) return;
    const point = { url: this.#mount, streamId: this.#streamId, lastEventId: this.#lastEventId };
    try {
      globalThis.sessionStorage?.setItem(this.#storageKey, JSON.stringify(point));
    } catch {
      // storage full or disabled: the stream still resumes within this page
    }
  }

  #forget() {
    if (this.#storageKey === undefined) return;
    try {
      globalThis.sessionStorage?.removeItem(this.#storageKey);
    } catch {
      // storage disabled: nothing was saved
    }
  }
}
