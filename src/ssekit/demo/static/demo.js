// The demo page's script: streams each answer into the bubble that htmx just added.
//
// The form posts to /turn (htmx); the server answers with the user's bubble and an empty assistant
// bubble carrying the message and the chosen transport in data-* attributes. This script then streams
// the answer from /chat into that bubble, with ssekit's client: POST + JSON through `resumableStream`
// (`streamEvents` when the server does not resume), or GET through the browser's EventSource
// (`openEventSource`). Text from the server is only ever set with textContent / append(string): the
// model's output cannot inject HTML.
//
// When the server serves resumable streams (`ssekit serve --store ...`), an answer survives a
// dropped connection (the client resumes it) and a reload: the text shown and the ID of the last
// event shown are saved together in sessionStorage, and the reloaded page resumes after that event.
// Stop then sends DELETE, which stops the model on the server.
//
// Each bubble's data-state is one of: streaming, done, stopped, server-error (the server sent an
// `error` event), connection-lost (the connection dropped before `done`), refused (the server refused
// the request).
//
// The form says what happened to the message too: a counter of characters against the input's
// maxlength, a notice when pasted or typed text was cut to that limit (the browser cuts it without a
// word), and the server's reason when /turn refuses the message (htmx swaps nothing on a 4xx/5xx).

import {
  ConnectionError,
  HttpError,
  ResumeError,
  ServerError,
  openEventSource,
  resumableStream,
  resumeStream,
} from "/static/sse-client.js";

/** @typedef {import("/static/sse-client.js").ResumableStream} ResumableStream */

const form = /** @type {HTMLFormElement} */ (document.getElementById("ask"));
const input = /** @type {HTMLInputElement} */ (document.getElementById("message"));
const send = /** @type {HTMLButtonElement} */ (document.getElementById("send"));
const stop = /** @type {HTMLButtonElement} */ (document.getElementById("stop"));
const count = /** @type {HTMLElement} */ (document.getElementById("message-count"));
const notice = /** @type {HTMLElement} */ (document.getElementById("message-notice"));
const formError = /** @type {HTMLElement} */ (document.getElementById("form-error"));

/** Stops the stream in flight, if any. @type {(() => void) | null} */
let stopCurrent = null;

const STATUS = {
  done: "Done.",
  stopped: "Stopped.",
};

/**
 * What to tell the user about a failed stream, and the bubble's state.
 *
 * @param {unknown} error
 * @returns {[string, string]}
 */
function describe(error) {
  if (error instanceof ServerError) return ["server-error", `The server reported an error: ${error.data}`];
  if (error instanceof ResumeError && error.reason === "not-found") {
    return ["connection-lost", "The answer is no longer on the server: ask again."];
  }
  if (error instanceof ResumeError) {
    return ["connection-lost", "Connection lost, and the server could not be reached again."];
  }
  if (error instanceof HttpError) {
    const message = /** @type {any} */ (error.json)?.error?.message ?? error.body;
    return ["refused", `The server refused the request (HTTP ${error.status}): ${message}`];
  }
  if (error instanceof ConnectionError && error.reason === "refused") {
    return ["refused", "The server refused the stream."];
  }
  if (error instanceof ConnectionError) {
    return ["connection-lost", "Connection lost before the answer was complete."];
  }
  return ["connection-lost", `Unexpected failure: ${String(error)}`];
}

/** @param {boolean} streaming */
function setStreaming(streaming) {
  send.disabled = streaming;
  stop.disabled = !streaming;
  if (!streaming) input.focus();
}

/** Where the answer in flight is kept for a reload (resumable servers only). */
const SAVED = "ssekit-demo-answer";
/**
 * The page is being left (reload, navigation): keep the saved answer, whatever fails now. Chromium
 * fails an open EventSource as soon as a reload starts, before `pagehide`: `beforeunload` comes first.
 */
let leaving = false;
for (const type of ["beforeunload", "pagehide"]) {
  window.addEventListener(type, () => {
    leaving = true;
  });
}

/**
 * Whether an event ID is a resumable stream's (`<sid>:<seq>`), which a reload can resume.
 *
 * @param {string} id
 */
const resumable = (id) => /^[^:]+:[0-9]+$/.test(id);

/**
 * @param {HTMLElement} bubble
 * @param {ResumableStream | null} [resumed] A stream resumed after a reload, to follow instead of
 *   asking again.
 */
function streamInto(bubble, resumed = null) {
  const answer = /** @type {HTMLElement} */ (bubble.querySelector(".answer"));
  const status = /** @type {HTMLElement} */ (bubble.querySelector(".status"));
  const message = bubble.dataset.message ?? "";
  const transport = bubble.dataset.transport ?? "post";
  let finished = false;
  let stopped = false;

  /** @param {string} state @param {string} text */
  const finish = (state, text) => {
    if (finished) return;
    finished = true;
    stopCurrent = null;
    if (!leaving) sessionStorage.removeItem(SAVED);
    bubble.dataset.state = state;
    bubble.setAttribute("aria-busy", "false");
    status.textContent = text;
    setStreaming(false);
  };
  /** @param {string} token */
  const show = (token) => {
    answer.append(token);
    bubble.scrollIntoView({ block: "end" });
  };
  /**
   * Save the text shown and the ID of the event that ends it, together: a reload shows that text
   * and resumes after that event, so no word is repeated or missing.
   *
   * @param {string} lastEventId
   */
  const remember = (lastEventId) => {
    if (!resumable(lastEventId) || finished) return;
    const saved = { message, transport, text: answer.textContent, lastEventId };
    sessionStorage.setItem(SAVED, JSON.stringify(saved));
  };

  /** @param {ResumableStream} stream */
  const follow = (stream) => {
    stopCurrent = () => {
      stopped = true;
      stream.stop().catch(() => {});
    };
    (async () => {
      try {
        for await (const { event, data, id } of stream) {
          if (event === "message") show(data);
          remember(id);
        }
        finish("done", STATUS.done);
      } catch (error) {
        if (stopped) finish("stopped", STATUS.stopped);
        else finish(...describe(error));
      }
    })();
  };

  bubble.dataset.state = "streaming";
  bubble.setAttribute("aria-busy", "true");
  setStreaming(true);

  if (resumed !== null) {
    follow(resumed);
  } else if (transport === "get") {
    let lastId = "";
    const source = openEventSource(`/chat?message=${encodeURIComponent(message)}`, {
      events: ["stream"], // a resumable stream's first event: its id, before the first token
      onEvent: ({ event, data, id }) => {
        if (event === "message") show(data);
        lastId = id;
        remember(id);
      },
      onDone: () => finish("done", STATUS.done),
      onError: (error) => {
        // A resumable stream goes on without this connection: resume it where it was cut.
        const lost = error instanceof ConnectionError && error.reason === "network";
        if (lost && resumable(lastId)) follow(resumeStream("/chat", { lastEventId: lastId }));
        else finish(...describe(error));
      },
    });
    stopCurrent = () => {
      source.close();
      if (resumable(lastId)) resumeStream("/chat", { lastEventId: lastId }).stop().catch(() => {});
      finish("stopped", STATUS.stopped);
    };
  } else {
    follow(resumableStream("/chat", { json: { messages: [message] } }));
  }
}

/**
 * After a reload: the answer that was streaming, shown as far as it had come, and resumed after
 * its last event (on a server with resumable streams; nothing is saved otherwise).
 */
function restoreAnswer() {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(SAVED) ?? "null");
  } catch {
    sessionStorage.removeItem(SAVED);
  }
  if (typeof saved?.lastEventId !== "string" || !resumable(saved.lastEventId)) return;
  const turn = document.createElement("article");
  turn.className = "turn";
  const question = document.createElement("p");
  question.className = "bubble user";
  question.textContent = String(saved.message);
  const bubble = document.createElement("div");
  bubble.className = "bubble assistant";
  bubble.dataset.message = String(saved.message);
  bubble.dataset.transport = saved.transport === "get" ? "get" : "post";
  bubble.dataset.restored = "true";
  for (const name of ["answer", "status"]) {
    const line = document.createElement("p");
    line.className = name;
    bubble.append(line);
  }
  /** @type {HTMLElement} */ (bubble.querySelector(".status")).setAttribute("role", "status");
  /** @type {HTMLElement} */ (bubble.querySelector(".answer")).textContent = String(saved.text ?? "");
  turn.append(question, bubble);
  /** @type {HTMLElement} */ (document.getElementById("log")).append(turn);
  streamInto(bubble, resumeStream("/chat", { lastEventId: saved.lastEventId }));
}

// htmx fires htmx:load on every element it adds: start streaming into each new assistant bubble.
document.body.addEventListener("htmx:load", (event) => {
  const element = /** @type {CustomEvent} */ (event).detail.elt;
  if (!(element instanceof HTMLElement)) return;
  for (const bubble of element.querySelectorAll(".assistant[data-message]:not([data-state])")) {
    streamInto(/** @type {HTMLElement} */ (bubble));
  }
});

/** @param {number} n */
const formatted = (n) => n.toLocaleString("en-US");

function showCount() {
  count.textContent = `${formatted(input.value.length)} / ${formatted(input.maxLength)} characters`;
}

// The browser cuts text inserted past maxlength silently: say so. `beforeinput` sees the whole
// text (pasted, dropped or typed) before the cut; the notice is shown once the input is full.
/** The length of the text being inserted, if it does not fit. @type {number | null} */
let cutFrom = null;
input.addEventListener("beforeinput", (event) => {
  const inserted = event.data ?? event.dataTransfer?.getData("text/plain") ?? "";
  const selected = (input.selectionEnd ?? 0) - (input.selectionStart ?? 0);
  const room = input.maxLength - (input.value.length - selected);
  cutFrom = inserted.length > room ? inserted.length : null;
});
input.addEventListener("input", () => {
  showCount();
  if (cutFrom !== null && input.value.length >= input.maxLength) {
    notice.textContent =
      `Your text (${formatted(cutFrom)} characters) was cut to the ` +
      `${formatted(input.maxLength)}-character limit.`;
  }
  cutFrom = null;
});

/** @param {string} text */
function showFormError(text) {
  formError.textContent = text;
}

form.addEventListener("htmx:beforeRequest", () => showFormError(""));

// Clear the input once the turn is accepted (keep the chosen transport); otherwise say why not.
form.addEventListener("htmx:afterRequest", (event) => {
  const { successful, xhr } = /** @type {CustomEvent} */ (event).detail;
  if (successful) {
    input.value = "";
    notice.textContent = "";
    showCount();
  } else if (xhr.status) {
    const reason = String(xhr.responseText || xhr.statusText).trim().slice(0, 300);
    showFormError(`Not sent: the server refused the message (HTTP ${xhr.status}): ${reason}`);
  }
});

form.addEventListener("htmx:sendError", () => {
  showFormError("Not sent: the server could not be reached.");
});

showCount();
restoreAnswer();

stop.addEventListener("click", () => stopCurrent?.());
