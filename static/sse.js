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
 * @param {ReadableStream<Uint8Array>} body
 * @returns {AsyncGenerator<any>}
 * @throws {SyntaxError} on an event whose data is not JSON
 */
export async function* readSse(body) {
  const reader = body.getReader();
  // stream: true keeps a multi-byte character split across reads intact.
  const decoder = new TextDecoder("utf-8");
  let pending = "";
  let data = null; // the current event's data lines so far; null before any
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
          if (data !== null) yield JSON.parse(data);
          data = null;
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const name = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (name === "data") data = data === null ? text : `${data}\n${text}`;
        }
      }
      if (done) return;
    }
  } finally {
    // Leaving early ([DONE], an error event, a bad event) must still close the connection.
    reader.cancel().catch(() => {});
  }
}
