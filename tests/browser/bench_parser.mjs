// How SSEParser's cost grows with the input, against other parsers measured in the same run.
//
//   node tests/browser/bench_parser.mjs [label=path/to/sse-client.js ...]
//
// With no argument it measures the shipped module. Give another version to compare, e.g. the one
// before a change: `git show HEAD~1:src/ssekit/static/sse-client.js > /tmp/before.js` then
// `... bench_parser.mjs now=src/ssekit/static/sse-client.js before=/tmp/before.js`. eventsource-parser
// (tests/js, installed by `tests.support.parsers.ensure_node_modules`) is measured too, fed decoded text.
//
// Each shape is run at three sizes, each twice the previous: the "x2" columns are the time ratios
// between consecutive sizes, about 2 when the cost is linear and about 4 when it is quadratic. Node
// runs the same V8 engine as Chromium. Times are the best of a few runs, in ms; nothing is judged.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const KiB = 1024;
const ROUNDS = 15;

/** @type {[string, (size: number) => Uint8Array[]][]} */
const SHAPES = [
  ["token events, 64 KiB reads", (size) => chunked(tokens(size), 64 * KiB)],
  ["token events, 1-byte reads", (size) => chunked(tokens(size / 16), 1)],
  ["one long line, 64 KiB reads", (size) => chunked(longLine(size), 64 * KiB)],
  ["one long line, 1-byte reads", (size) => chunked(longLine(size / 16), 1)],
  ["data lines, no blank line, 64 KiB", (size) => chunked(dataLines(size), 64 * KiB)],
];
const SIZES = [512 * KiB, 1024 * KiB, 2048 * KiB];

/** @param {number} size */
function tokens(size) {
  const parts = [];
  for (let i = 0, length = 0; length < size; i += 1) {
    const frame = `data: token ${i} and some text\n\n`;
    parts.push(frame);
    length += frame.length;
  }
  return new TextEncoder().encode(parts.join(""));
}

/** @param {number} size */
function longLine(size) {
  return new TextEncoder().encode(`data: ${"x".repeat(size)}\n\n`);
}

/** @param {number} size */
function dataLines(size) {
  return new TextEncoder().encode(`${"data: 0123456789\n".repeat(Math.ceil(size / 17))}\n`);
}

/**
 * @param {Uint8Array} bytes
 * @param {number} size
 */
function chunked(bytes, size) {
  const chunks = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

/** A parser as `(chunks) => events` for a version of sse-client.js. @param {string} path */
async function ssekitParser(path) {
  const { SSEParser } = await import(pathToFileURL(path).href);
  return (/** @type {Uint8Array[]} */ chunks) => {
    const parser = new SSEParser();
    let count = 0;
    for (const chunk of chunks) count += parser.feed(chunk).length;
    return count + parser.end().length;
  };
}

async function eventsourceParser() {
  const require = createRequire(new URL("../js/package.json", import.meta.url));
  const { createParser } = await import(pathToFileURL(require.resolve("eventsource-parser")).href);
  return (/** @type {Uint8Array[]} */ chunks) => {
    let count = 0;
    const parser = createParser({ onEvent: () => (count += 1) });
    const decoder = new TextDecoder();
    for (const chunk of chunks) parser.feed(decoder.decode(chunk, { stream: true }));
    parser.feed(decoder.decode());
    return count;
  };
}

/**
 * The best time (ms) of each parser on `chunks`, and the events the last one counted. The rounds
 * take turns between parsers, so a busy spell on the machine hits them all alike.
 *
 * @param {[string, (chunks: Uint8Array[]) => number][]} parsers
 * @param {Uint8Array[]} chunks
 */
function best(parsers, chunks) {
  const fastest = parsers.map(() => Number.POSITIVE_INFINITY);
  const events = parsers.map(() => 0);
  for (let round = 0; round < ROUNDS; round += 1) {
    parsers.forEach(([, parse], index) => {
      const started = performance.now();
      events[index] = parse(chunks);
      fastest[index] = Math.min(fastest[index], performance.now() - started);
    });
  }
  return parsers.map((_, index) => ({ ms: fastest[index], events: events[index] }));
}

async function main() {
  const here = new URL("../../src/ssekit/static/sse-client.js", import.meta.url).pathname;
  const versions = process.argv.slice(2).map((arg) => arg.split("=", 2));
  /** @type {[string, (chunks: Uint8Array[]) => number][]} */
  const parsers = [];
  for (const [label, path] of versions.length > 0 ? versions : [["ssekit", here]]) {
    parsers.push([label, await ssekitParser(path)]);
  }
  parsers.push(["eventsource-parser", await eventsourceParser()]);
  const header = ["shape", "parser", ...SIZES.map((s) => `${s / KiB} KiB`), "x2", "x2", "events"];
  console.log(`| ${header.join(" | ")} |`);
  console.log(`|${header.map(() => "---").join("|")}|`);
  for (const [shape, make] of SHAPES) {
    const bySize = SIZES.map((size) => best(parsers, make(size)));
    for (const [index, [label]] of parsers.entries()) {
      const runs = bySize.map((results) => results[index]);
      const ms = runs.map((run) => run.ms);
      const ratios = [ms[1] / ms[0], ms[2] / ms[1]].map((r) => r.toFixed(1));
      const cells = [shape, label, ...ms.map((m) => m.toFixed(1)), ...ratios, runs[2].events];
      console.log(`| ${cells.join(" | ")} |`);
    }
  }
}

await main();
