// Runs the npm `ai` package's own client code against a real server and prints what it made of
// the answer. ssekit wrote none of what this calls: AbstractChat is what `useChat` runs (the
// React hook only wraps it), DefaultChatTransport is its default transport, readUIMessageStream
// assembles a message from a UI message stream.
//
// One JSON request on stdin, one JSON answer on stdout:
//   {"mode": "read", "api": URL, "chatId": ID, "messages": [UIMessage...], "body": {...}}
//     -> {"message": UIMessage|null, "chunks": [chunk...], "errors": [text...], "thrown": ...}
//   {"mode": "chat", "api": URL, "chatId": ID, "text": "...", "stopAfterChars": N}
//     -> {"status", "error", "messages", "finish": {isAbort, isError, finishReason}}
//   {"mode": "resume", "api": URL, "chatId": ID}
//     -> the same as "chat", after chat.resumeStream()
//   {"mode": "drop-resume", "api": URL, "chatId": ID, "text": "..."}
//     -> the same as "chat" (its connection is expected to drop mid-answer), with "dropped":
//        what the chat held when the request failed; then the same chat's resumeStream()
import { AbstractChat, DefaultChatTransport, readUIMessageStream } from "ai";

class State {
  constructor() {
    this.status = "ready";
    this.error = undefined;
    this.messages = [];
  }
  pushMessage = (message) => this.messages.push(message);
  popMessage = () => this.messages.pop();
  replaceMessage = (index, message) => (this.messages[index] = message);
  snapshot = (thing) => structuredClone(thing);
}

class Chat extends AbstractChat {
  constructor(options) {
    const state = new State();
    super({ ...options, state });
    this.plainState = state;
  }
}

function described(error) {
  if (error == null) return null;
  return { name: error.name, message: error.message, statusCode: error.statusCode ?? null };
}

async function read(request) {
  const transport = new DefaultChatTransport({ api: request.api });
  const answer = { message: null, chunks: [], errors: [], thrown: null };
  try {
    const stream = await transport.sendMessages({
      chatId: request.chatId,
      messages: request.messages,
      trigger: "submit-message",
      messageId: undefined,
      abortSignal: undefined,
      body: request.body ?? {},
    });
    const recorded = stream.pipeThrough(
      new TransformStream({
        transform(chunk, controller) {
          answer.chunks.push(chunk);
          controller.enqueue(chunk);
        },
      }),
    );
    const onError = (error) => answer.errors.push(error.message);
    for await (const message of readUIMessageStream({ stream: recorded, onError })) {
      answer.message = message;
    }
  } catch (error) {
    answer.thrown = described(error);
  }
  return answer;
}

async function chat(request) {
  let finish = null;
  const chat = new Chat({
    id: request.chatId,
    transport: new DefaultChatTransport({ api: request.api }),
    onFinish: ({ isAbort, isError, isDisconnect, finishReason }) => {
      finish = { isAbort, isError, isDisconnect, finishReason: finishReason ?? null };
    },
  });
  let dropped = null;
  if (request.mode === "resume") {
    await chat.resumeStream();
  } else if (request.mode === "drop-resume") {
    await chat.sendMessage({ text: request.text });
    const state = chat.plainState;
    dropped = { status: state.status, error: described(state.error), finish, messages: structuredClone(state.messages) };
    await chat.resumeStream();
  } else {
    const sent = chat.sendMessage({ text: request.text });
    if (request.stopAfterChars) await stopAfter(chat, request.stopAfterChars);
    await sent;
  }
  const state = chat.plainState;
  const answer = { status: state.status, error: described(state.error), messages: state.messages, finish };
  return dropped == null ? answer : { ...answer, dropped };
}

async function stopAfter(chat, chars) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const last = chat.plainState.messages.at(-1);
    const text = last?.role === "assistant" ? textOf(last) : "";
    if (text.length >= chars) return chat.stop();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`no ${chars} characters of answer in 20 s`);
}

function textOf(message) {
  return message.parts.filter((part) => part.type === "text").map((part) => part.text).join("");
}

let input = "";
for await (const piece of process.stdin) input += piece;
const request = JSON.parse(input);
const answer = request.mode === "read" ? await read(request) : await chat(request);
process.stdout.write(JSON.stringify(answer) + "\n");
