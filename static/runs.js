// streamchat runs: one reply read as a run of the server's (docs/architecture.md, "Runs"):
// X-Run-ID names it, GET /api/runs/<id>?after=n gives its lines after the first n, live,
// and POST /api/runs/<id>/stop ends it for every reader. A run generates on for
// RUN_GRACE_SECONDS after its last reader left, so a reply outlives a dropped connection
// (read on from the count of lines read) and a reload (the page keeps the id and the count
// with the text). No DOM here: Node tests it (tests/node/runs.test.mjs). Used by live.js.

import { ADAPTERS, FORMATS, errorText, readState } from "./wire.js";

const RUN_ID_HEADER = "X-Run-ID";
// Waits between attempts to reach a run again; the last one repeats.
const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 5000];
// A refusal that may pass: a timeout, too many readers, a server restarting or busy.
const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
const CUT_OFF = "The reply was cut off before it finished.";
const LOST = "The connection was lost and the reply could not be resumed in time.";
const GONE = "The reply could not be resumed: the server no longer has it.";
const UNREADABLE = "The server sent a reply this page cannot read.";

const ignore = () => {};

/** Where a run's lines after the first `after` are read. */
export function runUrl(id, after) {
  return `/api/runs/${encodeURIComponent(id)}?after=${after}`;
}

/**
 * Wait `ms`, or less: until `signal` aborts, or `network` (the window) says the browser
 * is online again.
 * @param {{signal?: AbortSignal, network?: EventTarget}} [options]
 */
export function pause(ms, { signal, network } = {}) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      if (signal) signal.removeEventListener("abort", done);
      if (network) network.removeEventListener("online", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (signal) signal.addEventListener("abort", done);
    if (network) network.addEventListener("online", done);
  });
}

/** `promise`'s value, or undefined as soon as `signal` aborts (at once if it has). */
function untilAborted(promise, signal) {
  if (!signal) return promise;
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Stop a run for every reader: the server closes its upstream, and each reader's body
 * ends after the lines produced so far. `keepalive`: it is sent even if the page goes.
 * @returns {Promise<boolean>} whether the server took it (202); never rejects
 */
export async function stopRun(id, send = (...args) => fetch(...args)) {
  try {
    const path = `/api/runs/${encodeURIComponent(id)}/stop`;
    const response = await send(path, { method: "POST", keepalive: true });
    return response.status === 202;
  } catch {
    return false;
  }
}

/**
 * Stream one reply: a new one (POST `messages`), or the rest of a run (`resume`). Calls
 * onText(delta), onReasoning(delta) and onUsage(usage) as lines arrive, and onLine after
 * each line's events; resolves to {outcome, message} with outcome one of done, incomplete,
 * cut off, error, stopped, and `runEnded: true` when the server said the run is over
 * without a finish (stopped from elsewhere, or gone).
 * A connection that fails, or ends without the reply's end, is followed by resumes of the
 * run from the lines read: at once, then with backoff while the run's grace lasts.
 * It never rejects: every failure is an outcome the page can show.
 * @param {object} options
 * @param {"chat"|"responses"} options.api which adapter (and endpoint) to use
 * @param {"ndjson"|"sse"} [options.format] the framing to ask for (STREAM_FORMAT)
 * @param {{role: string, content: string}[]} [options.messages] the conversation to send
 * @param {string} [options.model] left out of the request when empty
 * @param {string} [options.conversationId] the server's conversation the turn belongs to
 * @param {{id: string, after: number, read?: object}} [options.resume] read this run from
 *   line `after` on instead of sending, with the read state savedReadState() gave then
 * @param {number} [options.graceSeconds] how long the run outlives its readers
 *   (RUN_GRACE_SECONDS): how long to try to reach it again
 * @param {AbortSignal} options.signal aborting it makes the outcome "stopped"
 * @param {(response: Response) => void} [options.onOpen] the server accepted the request
 *   (its headers: X-Token-Budget-Remaining)
 * @param {(id: string) => void} [options.onRun] the run's id, once known
 * @param {(lines: number, state: object) => void} [options.onLine] a line was read and
 *   handed on: `lines` of the run are read, `state` is the read state (savedReadState)
 * @param {() => void} [options.onReconnecting] the connection was lost; trying again
 * @param {() => void} [options.onResumed] reading again after onReconnecting
 * @param {(text: string) => void} [options.onText] the answer
 * @param {(text: string) => void} [options.onReasoning] the model's thinking, apart
 * @param {(usage: {input: number, output: number, total: number}) => void} [options.onUsage]
 * @param {EventTarget} [options.network] the window: "offline" drops the body being read
 *   (its connection may be dead, unsaid, for minutes), "online" cuts a wait short
 * @param {(ms: number) => Promise<void>} [options.sleep] how to wait (tests pass their own)
 * @param {() => number} [options.now] the clock, in ms
 * @param {typeof fetch} [options.fetch] the fetch to use (tests pass a fake one)
 * @returns {Promise<{outcome: string, message?: string, runEnded?: boolean}>}
 */
export function streamReply(options) {
  return new Reply(options).run();
}

class Reply {
  constructor(options) {
    const { api, format, resume, signal, network } = options;
    this.options = options;
    this.adapter = ADAPTERS[api] || ADAPTERS.chat;
    this.framing = FORMATS[format] || FORMATS.ndjson;
    this.signal = signal;
    this.network = network;
    this.graceMs = Math.max(0, Number(options.graceSeconds) || 0) * 1000;
    this.send = options.fetch || ((...args) => fetch(...args));
    this.sleep = options.sleep || ((ms) => pause(ms, { signal, network }));
    this.now = options.now || Date.now;
    for (const name of ["onOpen", "onRun", "onLine", "onReconnecting", "onResumed"]) {
      this[name] = options[name] || ignore;
    }
    const { onText = ignore, onReasoning = ignore, onUsage = ignore } = options;
    this.handlers = { text: onText, reasoning: onReasoning, usage: onUsage };
    this.runId = resume ? resume.id : null;
    this.count = { lines: resume ? resume.after : 0 };
    this.state = readState(resume && resume.read);
    this.lostAt = null; // when the run was last lost, while no line has come since
    this.attempts = 0; // failed attempts to reach it since then
  }

  async run() {
    let step = this.runId ? await this.reconnect() : await this.start();
    while (step.response) step = await this.follow(step);
    const { result } = step;
    if (result.outcome === "done" || result.outcome === "cut off") {
      // A few held characters that might have been a tag are still what came.
      for (const event of this.state.think.flush()) this.handlers[event.type](event.text);
    }
    return result;
  }

  aborted() {
    return Boolean(this.signal && this.signal.aborted);
  }

  /** Send the conversation: a new run. */
  async start() {
    const { messages, model } = this.options;
    const body = { messages };
    if (model) body.model = model;
    if (this.options.conversationId) body.conversation_id = this.options.conversationId;
    // Aborted by the page's signal only once answered: a Stop before that must still learn
    // the run's id to stop it, or the run would generate on for nobody through its grace.
    const request = new AbortController();
    const sent = this.send(this.adapter.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: this.framing.accept },
      body: JSON.stringify(body),
      signal: request.signal,
    });
    let response;
    try {
      response = await untilAborted(sent, this.signal);
    } catch (error) {
      return { result: this.failure(error) }; // no run yet: nothing to resume
    }
    if (!response) {
      sent.then((late) => {
        const id = late.headers.get(RUN_ID_HEADER);
        if (id) stopRun(id, this.send);
        request.abort();
      }, ignore);
      return { result: { outcome: "stopped" } };
    }
    this.forwardAbort(request);
    if (!response.ok) return { result: { outcome: "error", message: await errorText(response) } };
    this.onOpen(response);
    this.runId = response.headers.get(RUN_ID_HEADER);
    if (this.runId) this.onRun(this.runId);
    return { response, request, resumed: false };
  }

  /** The page's signal aborts `request` (and so the body being read) from now on. */
  forwardAbort(request) {
    if (!this.signal) return;
    if (this.signal.aborted) request.abort();
    else this.signal.addEventListener("abort", () => request.abort(), { once: true });
  }

  /** Read one body of the run; what comes next: its result, or another body. */
  async follow({ response, request, resumed }) {
    const before = this.count.lines;
    const drop = () => request.abort();
    if (this.network) this.network.addEventListener("offline", drop);
    let failed = null;
    try {
      for await (const line of this.framing.read(response.body, this.count)) {
        this.lostAt = null;
        this.attempts = 0;
        const result = this.handle(line);
        this.onLine(this.count.lines, this.state);
        if (result) return { result };
      }
    } catch (error) {
      failed = error;
    } finally {
      if (this.network) this.network.removeEventListener("offline", drop);
    }
    if (failed) {
      if (this.aborted() || failed instanceof SyntaxError || !this.runId) {
        return { result: this.failure(failed) };
      }
      if (this.state.ended) return { result: { outcome: "done" } }; // only usage was missed
      this.onReconnecting();
      return this.reconnect(true);
    }
    if (this.state.ended) return { result: { outcome: "done" } };
    if (!this.runId) return { result: { outcome: "cut off", message: CUT_OFF } };
    // Ended without the reply's end. A stopped run does that (as does a proxy cutting a
    // body cleanly): ask the run for more; a resume that brings none says it is over.
    if (resumed && this.count.lines === before) {
      return { result: { outcome: "cut off", message: CUT_OFF, runEnded: true } };
    }
    return this.reconnect(false);
  }

  /** One line's events handed on; the reply's result if the line ends it. */
  handle(line) {
    for (const event of this.adapter.events(line, this.state)) {
      if (event.type in this.handlers) {
        this.handlers[event.type](event.type === "usage" ? event.usage : event.text);
      } else if (event.type === "error") {
        return { outcome: "error", message: event.message || "The reply failed." };
      } else if (event.type === "incomplete") {
        return { outcome: "incomplete", message: event.message };
      } else if (event.type === "end") {
        this.state.ended = true; // keep reading: the usage line comes after the finish line
      }
    }
    return null;
  }

  /** Reach the run again from the lines read, while its grace lasts. */
  async reconnect(announced = false) {
    if (this.lostAt === null) this.lostAt = this.now();
    for (;;) {
      const step = await this.resume();
      if (!step.retry) {
        if (step.response && announced) this.onResumed();
        return step;
      }
      if (!announced) this.onReconnecting();
      announced = true;
      if (this.now() - this.lostAt >= this.graceMs) {
        return { result: { outcome: "cut off", message: LOST } };
      }
      await this.sleep(BACKOFF_MS[Math.min(this.attempts, BACKOFF_MS.length - 1)]);
      this.attempts += 1;
      if (this.aborted()) return { result: { outcome: "stopped" } };
    }
  }

  /** One attempt: a body to read, a result, or {retry: true}. */
  async resume() {
    const request = new AbortController();
    this.forwardAbort(request);
    let response;
    try {
      response = await this.send(runUrl(this.runId, this.count.lines), {
        headers: { Accept: this.framing.accept },
        signal: request.signal,
      });
    } catch (error) {
      return this.aborted() ? { result: { outcome: "stopped" } } : { retry: true };
    }
    if (response.ok) return { response, request, resumed: true };
    if (response.status === 404) {
      return { result: { outcome: "cut off", message: GONE, runEnded: true } };
    }
    if (RETRY_STATUSES.has(response.status)) {
      if (response.body) response.body.cancel().catch(ignore);
      return { retry: true };
    }
    return { result: { outcome: "error", message: await errorText(response) } };
  }

  failure(error) {
    if (this.aborted()) return { outcome: "stopped" };
    const message =
      error instanceof SyntaxError ? UNREADABLE : `The connection failed: ${error.message}`;
    return { outcome: "error", message };
  }
}
