// Page-side helpers for tests/browser: run the client and the browser's EventSource, report plain data.
import * as sse from "/sse-client.js";

export { sse };

const TIMEOUT_MS = 20000;

/**
 * @template T
 * @param {Promise<T>} promise
 * @param {string} what
 * @returns {Promise<T>}
 */
function withTimeout(promise, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), TIMEOUT_MS);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * The events the browser's own EventSource reports, until it gives up (the server answers its
 * reconnect with 204, which closes it).
 *
 * @param {string} url
 * @returns {Promise<{event: string, data: string, id: string}[]>}
 */
export function collectEventSource(url) {
  return withTimeout(
    new Promise((resolve) => {
      const source = new EventSource(url);
      /** @type {{event: string, data: string, id: string}[]} */
      const events = [];
      /** @param {Event} raw */
      const listener = (raw) => {
        if (raw instanceof MessageEvent) {
          events.push({ event: raw.type, data: raw.data, id: raw.lastEventId });
        } else if (source.readyState === EventSource.CLOSED) {
          resolve(events);
        }
      };
      for (const type of new Set(["message", "error", ...window.EVENT_NAMES])) {
        source.addEventListener(type, listener);
      }
    }),
    `EventSource ${url}`,
  );
}

/**
 * The events `streamEvents` reports for a URL, with no done/error handling (raw parser output).
 *
 * @param {string} url
 * @param {import("/sse-client.js").StreamOptions} [options]
 */
export async function collectStream(url, options = {}) {
  const events = [];
  const run = async () => {
    for await (const event of sse.streamEvents(url, { doneEvent: null, errorEvent: null, ...options })) {
      events.push(event);
    }
    return events;
  };
  return withTimeout(run(), `streamEvents ${url}`);
}

/**
 * Parse a body with SSEParser in several ways and check that every way gives the same events.
 *
 * @param {Uint8Array} bytes
 */
function parseWays(bytes) {
  /** @param {(Uint8Array | string)[]} pieces */
  const parse = (pieces) => {
    const parser = new sse.SSEParser();
    const events = pieces.flatMap((piece) => parser.feed(piece));
    events.push(...parser.end());
    return { events, lastEventId: parser.lastEventId, reconnectionTime: parser.reconnectionTime ?? null };
  };
  const whole = parse([bytes]);
  const expected = JSON.stringify(whole);
  /** @type {string[]} */
  const mismatches = [];
  /**
   * @param {string} label
   * @param {(Uint8Array | string)[]} pieces
   */
  const check = (label, pieces) => {
    if (mismatches.length < 5 && JSON.stringify(parse(pieces)) !== expected) mismatches.push(label);
  };
  const byteByByte = [];
  for (let i = 0; i < bytes.length; i += 1) byteByByte.push(bytes.subarray(i, i + 1));
  check("byte by byte", byteByByte);
  const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
  check("text, whole", [text]);
  check("text, char by char", Array.from(text));
  for (const size of [2, 3, 7, 64, 1000]) {
    const pieces = [];
    for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
    check(`chunks of ${size}`, pieces);
  }
  let splits = 0;
  if (bytes.length <= 4096) {
    for (let i = 1; i < bytes.length; i += 1) {
      check(`split at ${i}`, [bytes.subarray(0, i), bytes.subarray(i)]);
      for (const j of [i + 1, i + 2]) {
        if (j < bytes.length) check(`split at ${i}, ${j}`, [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]);
      }
      splits += 1;
    }
  }
  return { ...whole, mismatches, splits };
}

/**
 * For every named tricky stream, in parallel: the EventSource events, the streamEvents events, and the
 * in-page parser results.
 *
 * @param {string[]} names
 */
export async function runTricky(names) {
  const results = await Promise.all(
    names.map(async (name) => {
      const bytes = new Uint8Array(await (await fetch(`/body/${encodeURIComponent(name)}`)).arrayBuffer());
      const [eventSource, stream] = await Promise.all([
        collectEventSource(`/tricky/${encodeURIComponent(name)}?run=es`),
        collectStream(`/tricky/${encodeURIComponent(name)}?run=fetch`),
      ]);
      return [name, { eventSource, stream, parser: parseWays(bytes) }];
    }),
  );
  return Object.fromEntries(results);
}

/**
 * Read a tricky stream with a raw fetch reader and report the chunks the page received.
 *
 * @param {string} url
 */
export async function rawChunks(url) {
  const response = await fetch(url);
  const reader = response.body.getReader();
  const chunks = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    chunks.push(Array.from(value));
  }
}

/**
 * Describe an error as plain data.
 *
 * @param {unknown} error
 */
export function describe(error) {
  if (!(error instanceof Error) && !(error instanceof DOMException)) return { name: typeof error, message: String(error) };
  const out = {
    name: error.name,
    message: error.message,
    isSSEError: error instanceof sse.SSEError,
    classes: ["HttpError", "ServerError", "ConnectionError", "EventTooLongError"].filter(
      (cls) => error instanceof sse[cls],
    ),
  };
  const keys = ["reason", "status", "statusText", "body", "contentType", "data", "event", "id"];
  for (const key of [...keys, "lastEventId", "maxEventLength"]) {
    if (key in error) out[key] = error[key];
  }
  if (error instanceof sse.HttpError) out.json = error.json ?? null;
  if (error.cause instanceof Error) out.cause = error.cause.name;
  return out;
}

/**
 * Run streamEvents to completion and report the events and how it ended.
 *
 * @param {string} url
 * @param {import("/sse-client.js").StreamOptions} [options]
 */
export async function outcome(url, options = {}) {
  const events = [];
  try {
    for await (const event of sse.streamEvents(url, options)) events.push(event);
    return { events, error: null };
  } catch (error) {
    return { events, error: describe(error) };
  }
}

/**
 * `outcome`, while a timer chain counts how often the page ran other tasks: a client that blocked the
 * page for the whole stream would leave `ticks` at 0.
 *
 * @param {string} url
 * @param {import("/sse-client.js").StreamOptions} [options]
 */
export async function outcomeWhileTicking(url, options = {}) {
  let ticks = 0;
  let ticking = true;
  const tick = () => {
    if (!ticking) return;
    ticks += 1;
    setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  try {
    return { ...(await withTimeout(outcome(url, options), `streamEvents ${url}`)), ticks };
  } finally {
    ticking = false;
  }
}

/**
 * Whether `new SSEParser(options)` and `streamEvents(url, options)` both reject the options with a
 * `TypeError`, and the messages they give.
 *
 * @param {string} url
 * @param {object} options
 */
export async function rejectsOptions(url, options) {
  const messages = [];
  try {
    new sse.SSEParser(options);
  } catch (error) {
    if (error instanceof TypeError) messages.push(error.message);
  }
  const { error } = await outcome(url, options);
  if (error?.name === "TypeError") messages.push(error.message);
  return messages;
}

/**
 * Parse `text` with `SSEParser({ maxEventLength })` cut in several ways; every way must give the
 * same events and the same failure. After a failure, the next `feed()` and `end()` must throw the
 * very same error, which `parser.error` holds.
 *
 * @param {string} text
 * @param {number} maxEventLength
 */
export function parseWithLimit(text, maxEventLength) {
  /** @param {(Uint8Array | string)[]} pieces */
  const parse = (pieces) => {
    const parser = new sse.SSEParser({ maxEventLength });
    const events = [];
    try {
      for (const piece of pieces) events.push(...parser.feed(piece));
      events.push(...parser.end());
      return { events, error: null, lastEventId: parser.lastEventId };
    } catch (error) {
      const again = [() => parser.feed("data: x\n\n"), () => parser.end()].map((call) => {
        try {
          call();
          return "returned";
        } catch (later) {
          return later === error ? "same error" : describe(later);
        }
      });
      const held = parser.error === error;
      return { events, error: { ...describe(error), again, held }, lastEventId: parser.lastEventId };
    }
  };
  const bytes = new TextEncoder().encode(text);
  /** @type {[string, (Uint8Array | string)[]][]} */
  const ways = [
    ["text, char by char", Array.from(text)],
    ["text, one piece", [text]],
    ["bytes, one by one", Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))],
  ];
  for (const size of [2, 3, 7, 64]) {
    const pieces = [];
    for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
    ways.push([`bytes, ${size} at a time`, pieces]);
  }
  const whole = parse([bytes]);
  const expected = JSON.stringify(whole);
  const mismatches = ways
    .filter(([, pieces]) => JSON.stringify(parse(pieces)) !== expected)
    .map(([label]) => label);
  return { ...whole, mismatches };
}

/**
 * Read `count` events of an endless stream, then abort in the given way; report how it ended.
 *
 * @param {string} url
 * @param {number} count
 * @param {"while-waiting" | "between-events" | "before-response" | "break"} how
 */
export async function abortAfter(url, count, how) {
  const controller = new AbortController();
  const events = [];
  if (how === "before-response") {
    const iterator = sse.streamEvents(url, { signal: controller.signal, method: "GET" });
    const first = iterator.next();
    controller.abort();
    try {
      await first;
      return { events, error: null };
    } catch (error) {
      return { events, error: describe(error) };
    }
  }
  const iterator = sse.streamEvents(url, { signal: controller.signal, method: "GET" });
  try {
    for (;;) {
      const step = await iterator.next();
      if (step.done) return { events, error: null };
      events.push(step.value);
      if (events.length === count) {
        if (how === "break") {
          await iterator.return(undefined);
          return { events, error: null, returned: true };
        }
        if (how === "while-waiting") {
          // Ask for the next event, then abort while the read is pending.
          const pending = iterator.next();
          controller.abort();
          const step2 = await pending;
          if (!step2.done) events.push(step2.value);
        } else {
          controller.abort();
        }
      }
      if (events.length > count + 50) return { events, error: null };
    }
  } catch (error) {
    return { events, error: describe(error) };
  }
}

/**
 * Open `openEventSource` and report the handler calls until onDone/onError, plus the readyState.
 *
 * @param {string} url
 * @param {import("/sse-client.js").EventSourceHandlers} [options]
 */
export function openAndWait(url, options = {}) {
  return withTimeout(
    new Promise((resolve) => {
      const calls = [];
      const source = sse.openEventSource(url, {
        ...options,
        onMessage: (data) => calls.push(["message", data]),
        onEvent: (event) => calls.push(["event", event]),
        onDone: (event) => {
          calls.push(["done", event]);
          resolve({ calls, readyState: source.readyState });
        },
        onError: (error) => {
          calls.push(["error", describe(error)]);
          // Give a (wrong) reconnect a chance to show up in the calls.
          setTimeout(() => resolve({ calls, readyState: source.readyState }), 300);
        },
      });
    }),
    `openEventSource ${url}`,
  );
}

/**
 * A plain EventSource that does not close on the done event: the control case, to show that the
 * browser does reconnect when nobody closes it.
 *
 * @param {string} url
 */
export function plainEventSource(url) {
  return withTimeout(
    new Promise((resolve) => {
      const source = new EventSource(url);
      let reconnects = 0;
      source.addEventListener("error", () => {
        if (source.readyState === EventSource.CLOSED) resolve({ reconnects });
        else reconnects += 1;
      });
    }),
    `EventSource ${url}`,
  );
}
