// Runs `@ag-ui/client`'s HttpAgent (not ssekit's code) against a real server and prints what it
// made of the run: every event it verified and applied, the messages it assembled, the error
// it raised.
//
// One JSON request on stdin, one JSON answer on stdout:
//   {"url": URL, "messages": [Message...], "threadId": ID, "abortAfterEvents": N}
//     -> {"events": [event...], "messages": [Message...], "thrown": {...}|null,
//         "failed": text|null, "runError": RUN_ERROR event|null}
// "failed" is the agent failing the run (an HTTP error, a broken sequence); "runError" the
// RUN_ERROR event the agent applied (the server's own failure, in the protocol).
import { HttpAgent } from "@ag-ui/client";

let input = "";
for await (const piece of process.stdin) input += piece;
const request = JSON.parse(input);

const agent = new HttpAgent({
  url: request.url,
  threadId: request.threadId,
  initialMessages: request.messages ?? [],
});
const answer = { events: [], messages: [], thrown: null, failed: null, runError: null };
const subscriber = {
  onEvent({ event }) {
    answer.events.push(event);
    if (request.abortAfterEvents && answer.events.length === request.abortAfterEvents) {
      agent.abortRun();
    }
  },
  onRunErrorEvent({ event }) {
    answer.runError = event;
  },
  onRunFailed({ error }) {
    answer.failed = error?.message ?? String(error);
  },
};
try {
  await agent.runAgent({ forwardedProps: request.forwardedProps ?? {} }, subscriber);
} catch (error) {
  answer.thrown = { name: error?.name ?? null, message: error?.message ?? String(error) };
}
answer.messages = agent.messages;
process.stdout.write(JSON.stringify(answer) + "\n");
