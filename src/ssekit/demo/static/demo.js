// The demo page's script: streams each answer into the bubble that htmx just added.
//
// The form posts to /turn (htmx); the server answers with the user's bubble and an empty assistant
// bubble carrying the message and the chosen transport in data-* attributes. This script then streams
// the answer from /chat into that bubble, with ssekit's client: POST + JSON through `streamEvents`, or
// GET through the browser's EventSource (`openEventSource`). Text from the server is only ever set
// with textContent / append(string): the model's output cannot inject HTML.
//
// Each bubble's data-state is one of: streaming, done, stopped, server-error (the server sent an
// `error` event), connection-lost (the connection dropped before `done`), refused (the server refused
// the request).
//
// The form says what happened to the message too: a counter of characters against the input's
// maxlength, a notice when pasted or typed text was cut to that limit (the browser cuts it without a
// word), and the server's reason when /turn refuses the message (htmx swaps nothing on a 4xx/5xx).

import { ConnectionError, HttpError, ServerError, openEventSource, streamEvents } from "/static/sse-client.js";

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

/** @param {HTMLElement} bubble */
function streamInto(bubble) {
  const answer = /** @type {HTMLElement} */ (bubble.querySelector(".answer"));
  const status = /** @type {HTMLElement} */ (bubble.querySelector(".status"));
  const message = bubble.dataset.message ?? "";
  let finished = false;

  /** @param {string} state @param {string} text */
  const finish = (state, text) => {
    if (finished) return;
    finished = true;
    stopCurrent = null;
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

  bubble.dataset.state = "streaming";
  bubble.setAttribute("aria-busy", "true");
  setStreaming(true);

  if (bubble.dataset.transport === "get") {
    const source = openEventSource(`/chat?message=${encodeURIComponent(message)}`, {
      onMessage: show,
      onDone: () => finish("done", STATUS.done),
      onError: (error) => finish(...describe(error)),
    });
    stopCurrent = () => {
      source.close();
      finish("stopped", STATUS.stopped);
    };
    return;
  }

  const controller = new AbortController();
  stopCurrent = () => controller.abort();
  (async () => {
    try {
      for await (const { event, data } of streamEvents("/chat", {
        json: { messages: [message] },
        signal: controller.signal,
      })) {
        if (event === "message") show(data);
      }
      finish("done", STATUS.done);
    } catch (error) {
      if (controller.signal.aborted) finish("stopped", STATUS.stopped);
      else finish(...describe(error));
    }
  })();
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

stop.addEventListener("click", () => stopCurrent?.());
