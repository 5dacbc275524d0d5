// streamchat SSE reader: from a fetch body of text/event-stream to the same parsed
// objects readNdjson yields, for pages served through proxies that only stream SSE
// (STREAM_FORMAT=sse; docs/architecture.md "Wire protocol").
//
// No DOM, like wire.js: Node imports it (tests/node/sse.test.mjs). Imported by wire.js.

/**
 * Yield each event's data, parsed as JSON, as the events arrive.
 * The framing is the EventSource one: lines end in "\n", "\r\n" or "\r"; "data:" lines
 * are joined by "\n" and a blank line ends the event; lines starting with ":" are
 * comments (the server's heartbeats). The "event:" line before a Responses event is not
 * needed: its data carries the same type. `data: [DONE]` ends a chat stream. An event
 * the body ends in the middle of is dropped, as EventSource drops it.
 * `count.lines` is the run's position, as in readNdjson: an event's `id: <n>` (its
 * 1-based position in the run) sets it, an event without one adds one. Set before the
 * event is yielded; comments and [DONE] leave it alone.
 * @param {ReadableStream<Uint8Array>} body
 * @param {{lines: number}} [count] events of the run read before this body, kept up to date
 * @returns {AsyncGenerator<any>}
 * @throws {SyntaxError} on an event whose data is not JSON
 */
export async function* readSse(body, count = { lines: 0 }) {
  const reader = body.getReader();
  // stream: true keeps a multi-byte character split across reads intact.
  const decoder = new TextDecoder("utf-8");
  let pending = "";
  let data = null; // the current event's data lines so far; null before any
  let id = null; // the current event's id, if it has one
  try {
    for (;;) {
      const { value, done } = await reader.read();
      pending += done ? decoder.decode() : decoder.decode(value, { stream: true });
      // A "\r" that ends a read may be half of a "\r\n": leave it for the next read,
      // unless there is none.
      const lines = pending.split(done ? /\r\n|\r|\n/ : /\r\n|\r(?!$)|\n/);
      pending = lines.pop();
      for (const line of lines) {
        if (line === "") {
          if (data === "[DONE]") return;
          if (data !== null) {
            const event = JSON.parse(data);
            count.lines = /^[0-9]{1,15}$/.test(id) ? Number(id) : count.lines + 1;
            yield event;
          }
          data = null;
          id = null;
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const name = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (name === "data") data = data === null ? text : `${data}\n${text}`;
          else if (name === "id") id = text;
        }
      }
      if (done) return;
    }
  } finally {
    // Leaving early ([DONE], an error event, a bad event) must still close the connection.
    reader.cancel().catch(() => {});
  }
}
