// Feeds SSE byte streams to eventsource-parser (a parser ssekit did not write) and prints
// what it reports. Protocol: one JSON request per stdin line,
//   {"bytes": <base64>, "chunk": <bytes per feed, 0 = all at once>}
// and one JSON answer per stdout line: {"events": [...], "comments": [...], "retries": [...]}.
import { createParser } from "eventsource-parser";
import readline from "node:readline";

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });

for await (const line of lines) {
  const { bytes, chunk } = JSON.parse(line);
  const buffer = Buffer.from(bytes, "base64");
  const events = [];
  const comments = [];
  const retries = [];
  const parser = createParser({
    onEvent: (e) => events.push({ event: e.event ?? null, data: e.data, id: e.id ?? null }),
    onComment: (c) => comments.push(c),
    onRetry: (r) => retries.push(r),
  });
  // A streaming decoder, so that a chunk boundary inside a UTF-8 sequence is handled as a browser does.
  const decoder = new TextDecoder("utf-8");
  const step = chunk > 0 ? chunk : Math.max(buffer.length, 1);
  for (let start = 0; start < buffer.length; start += step) {
    parser.feed(decoder.decode(buffer.subarray(start, start + step), { stream: true }));
  }
  parser.feed(decoder.decode());
  process.stdout.write(JSON.stringify({ events, comments, retries }) + "\n");
}
