// streamchat server api: the conversations API (docs/api.md, "Conversations") for the page,
// and the shapes it answers turned into the page's.
//
// A signed-in person's conversations live on the server (<body data-conversations=
// "server">). ServerApi makes each call and throws an ApiFailure when it fails; a failure
// whose `unavailable` is true means the database (or the server) could not be reached:
// the page keeps the conversation in this browser until it can save it. No DOM here:
// Node tests it (tests/node/server.test.mjs). Used by server_store.js, sync.js and
// import_offer.js.

import { declaredType } from "./images.js";

/** How many conversations one page of the list holds. */
export const PAGE_SIZE = 50;
const NOTES = {
  stopped: "Stopped.",
  "cut off": "The reply was cut off before it finished.",
  incomplete: "The reply is incomplete.",
  error: "The reply failed.",
};

/** A call that failed: its status (0: no answer at all), error code and words. */
export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
    // No answer, or the database could not be reached: worth trying again later.
    this.unavailable = status === 0 || status === 503 || code === "database_unavailable";
  }
}

export class ServerApi {
  /** @param {typeof fetch} [send] the fetch to use (tests pass a fake one) */
  constructor(send = (...args) => fetch(...args)) {
    this.send = send;
  }

  /** One page of the list, newest first: {conversations, next}. */
  list(before = null) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (before) query.set("before", before);
    return this.call("GET", `/api/conversations?${query}`);
  }

  /** A new conversation: its summary (id, title, model, created_at, updated_at). */
  create(title, model) {
    const body = { title: title.slice(0, 200) };
    if (model) body.model = model;
    return this.call("POST", "/api/conversations", body);
  }

  /** The conversation with its messages and run_id. */
  get(id) {
    return this.call("GET", conversationPath(id));
  }

  rename(id, title) {
    return this.call("PATCH", conversationPath(id), { title: title.slice(0, 200) });
  }

  remove(id) {
    return this.call("DELETE", conversationPath(id));
  }

  /** Store `messages` ({role, content, state?}) as the conversation's (an import). */
  storeMessages(id, messages) {
    return this.call("POST", `${conversationPath(id)}/messages`, { messages });
  }

  async call(method, path, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await this.send(path, init);
    } catch (error) {
      throw new ApiFailure(0, "unreachable", `The server could not be reached: ${error.message}`);
    }
    if (response.status === 204) return null;
    let answer = null;
    try {
      answer = await response.json();
    } catch {
      // Not JSON (a proxy's page): the status says enough.
    }
    if (response.ok && answer) return answer;
    const error = (answer && answer.error) || {};
    throw new ApiFailure(response.status, error.code || "", error.message || "The call failed.");
  }
}

function conversationPath(id) {
  return `/api/conversations/${encodeURIComponent(id)}`;
}

/** A time the API gives (ISO 8601) in ms; 0 if unreadable. */
export function timeOf(iso) {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : 0;
}

/** A listed conversation as the page keeps one; its messages are not loaded yet. */
export function fromSummary(summary) {
  return {
    id: summary.id,
    title: summary.title || "",
    model: summary.model || "",
    updated: timeOf(summary.updated_at),
    savedTitle: summary.title || "",
    messages: [],
    loaded: false,
  };
}

/** The text of a stored message's content (a string, or a list of parts). */
function textOf(content) {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((part) => part && typeof part.text === "string")
    .map((part) => part.text)
    .join(" ");
}

/** A stored reply's usage (the upstream's names, either API) in the page's names. */
export function usageOf(raw) {
  if (!raw || typeof raw !== "object") return undefined;
  const details = raw.completion_tokens_details || raw.output_tokens_details || {};
  const usage = {
    input: raw.prompt_tokens ?? raw.input_tokens,
    output: raw.completion_tokens ?? raw.output_tokens,
    total: raw.total_tokens,
  };
  if (details.reasoning_tokens > 0) usage.reasoning = details.reasoning_tokens;
  return usage;
}

/** The images of a stored message's content parts (either API's shape), as the page
 * keeps them (images.js): sent again with the message, drawn as thumbnails. */
function imagesOf(content) {
  if (!Array.isArray(content)) return [];
  const urlOf = (part) => {
    if (!part) return null;
    if (part.type === "image_url") return part.image_url && part.image_url.url;
    return part.type === "input_image" ? part.image_url : null;
  };
  return content
    .map(urlOf)
    .filter((url) => typeof url === "string" && url.startsWith("data:image/"))
    .map((url, i) => ({ type: declaredType(url), name: `image ${i + 1}`, url, thumb: url }));
}

/** A stored message as the page draws it. */
export function fromStoredMessage(stored) {
  const message = { role: stored.role, content: textOf(stored.content) };
  const images = imagesOf(stored.content);
  if (images.length) message.images = images;
  if (stored.role !== "assistant") return message;
  message.state = stored.state || "done";
  if (stored.reasoning) message.reasoning = stored.reasoning;
  const usage = usageOf(stored.usage);
  if (usage) message.usage = usage;
  const note = stored.state === "error" ? stored.error || NOTES.error : NOTES[message.state];
  if (note) message.note = note;
  return message;
}

/**
 * A conversation's messages as the server has them; while a run streams into it, an
 * empty streaming reply that reads the run from its first line (live.js).
 * @param {{messages: object[], run_id: string|null}} detail GET /api/conversations/<id>
 * @param {Set<string>} [gone] runs found gone (404): their turn shows unanswered until
 *   the conversation's next change, rather than be read again and again
 */
export function messagesOf(detail, gone = new Set()) {
  const messages = (detail.messages || []).map(fromStoredMessage);
  if (detail.run_id && !gone.has(detail.run_id)) {
    messages.push({
      role: "assistant",
      content: "",
      state: "streaming",
      run: { id: detail.run_id, lines: 0 },
    });
  }
  return messages;
}

/** What a message shows: two lists with the same are drawn the same. */
export function sameMessages(a, b) {
  const key = (m) =>
    [m.role, m.content, m.state || "", m.note || "", (m.images || []).length].join("\u0000");
  return a.length === b.length && a.every((m, i) => key(m) === key(b[i]));
}

/** A conversation kept in this browser as the import stores it: its replies that said
 * something, a reply cut short when the page closed as cut off. */
export function importable(messages) {
  return messages
    .filter((m) => m.role === "user" || m.content)
    .map((m) => {
      const stored = { role: m.role, content: m.content };
      if (m.role === "assistant") {
        stored.state = ["done", "incomplete", "stopped", "error"].includes(m.state)
          ? m.state
          : m.state === undefined
            ? "done"
            : "cut off";
      }
      return stored;
    });
}
