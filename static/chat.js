// streamchat page: one ES module, no build step.
//
// It posts the conversation, reads the NDJSON reply as it streams in, and renders it as
// markdown at most once per animation frame. Conversations live in localStorage (the
// server is stateless and gets the whole conversation each turn).
//
// Sections: settings · wire (one adapter per API) · markdown · storage · view · actions.

// --- settings from the server-rendered page ------------------------------------------

const page = document.body.dataset;
const API = page.api === "responses" ? "responses" : "chat"; // missing or empty means chat
const MODELS = parseModels(page.models);
const DEFAULT_MODEL = page.defaultModel || MODELS[0] || "";

function parseModels(raw) {
  try {
    const list = JSON.parse(raw || "[]");
    return Array.isArray(list) ? list.filter((m) => typeof m === "string" && m) : [];
  } catch {
    return [];
  }
}

const $ = (id) => document.getElementById(id);
const els = {
  app: $("app"),
  sidebar: $("sidebar"),
  sidebarToggle: $("sidebar-toggle"),
  newChat: $("new-chat"),
  list: $("conversation-list"),
  picker: $("model-picker"),
  model: $("model"),
  scroller: $("scroller"),
  conversation: $("conversation"),
  empty: $("empty"),
  status: $("status"),
  retry: $("retry"),
  form: $("composer"),
  prompt: $("prompt"),
  send: $("send"),
  stop: $("stop"),
};

// --- wire: NDJSON lines in, page events out --------------------------------------------

/** Yield each parsed NDJSON object from a fetch body, as the lines arrive. */
export async function* readNdjson(body) {
  const reader = body.getReader();
  // stream: true keeps a multi-byte character split across reads intact.
  const decoder = new TextDecoder("utf-8");
  let pending = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) {
        if (line.trim()) yield JSON.parse(line); // blank lines are heartbeats
      }
    }
    pending += decoder.decode();
    if (pending.trim()) yield JSON.parse(pending);
  } finally {
    // Leaving early (an error line, a bad line) must still close the connection.
    reader.cancel().catch(() => {});
  }
}

/**
 * One adapter per API. `events(line)` turns one parsed line into page events:
 *   {type: "text", text} · {type: "usage", usage: {input, output, total}}
 *   {type: "end"} (finished normally) · {type: "incomplete", message} · {type: "error", message}
 * A body that ends without "end", "incomplete" or "error" was cut off.
 */
export const ADAPTERS = {
  chat: {
    endpoint: "/api/chat",
    events(line) {
      // In-band failure after the start: {"choices": [], "error": {...}}.
      if (line.error) return [{ type: "error", message: line.error.message }];
      const out = [];
      for (const choice of line.choices || []) {
        const text = choice.delta && choice.delta.content;
        if (text) out.push({ type: "text", text });
        if (choice.finish_reason === "length") {
          out.push({ type: "incomplete", message: "The reply reached the model's length limit." });
        } else if (choice.finish_reason === "content_filter") {
          out.push({ type: "incomplete", message: "The provider's content filter ended the reply." });
        } else if (choice.finish_reason) {
          out.push({ type: "end" });
        }
      }
      // The usage chunk has "choices": [] and comes after the finish chunk.
      const u = line.usage;
      if (u) out.push(usageEvent(u.prompt_tokens, u.completion_tokens, u.total_tokens));
      return out;
    },
  },
  responses: {
    endpoint: "/api/responses",
    events(line) {
      const response = line.response || {};
      const u = response.usage;
      const usage = u ? [usageEvent(u.input_tokens, u.output_tokens, u.total_tokens)] : [];
      switch (line.type) {
        case "response.output_text.delta":
          return line.delta ? [{ type: "text", text: line.delta }] : [];
        case "response.completed":
          return [...usage, { type: "end" }];
        case "response.incomplete": {
          const reason = response.incomplete_details && response.incomplete_details.reason;
          const message =
            reason === "max_output_tokens"
              ? "The reply reached the model's length limit."
              : `The reply is incomplete${reason ? ` (${reason})` : ""}.`;
          return [...usage, { type: "incomplete", message }];
        }
        case "response.failed":
          return [{ type: "error", message: response.error && response.error.message }];
        case "error":
          return [{ type: "error", message: line.message }];
        default:
          return [];
      }
    },
  },
};

function usageEvent(input, output, total) {
  return { type: "usage", usage: { input, output, total } };
}

/** The message shown for an HTTP error answered before streaming started. */
async function errorText(response) {
  try {
    const body = await response.json();
    // Ours and the upstream's messages already say when to try again.
    if (body && body.error && body.error.message) return body.error.message;
  } catch {
    // not JSON: the status line, and Retry-After if there is one
  }
  let message = `The server answered ${response.status} ${response.statusText}.`.trim();
  const wait = response.headers.get("Retry-After");
  if (response.status === 429 && wait) message += ` Try again in ${wait} s.`;
  return message;
}

/**
 * Stream one reply. Calls onText(delta) and onUsage(usage) as lines arrive; resolves to
 * {outcome, message} with outcome one of done, incomplete, cut off, error, stopped.
 */
async function streamReply({ messages, model, signal, onOpen, onText, onUsage }) {
  const adapter = ADAPTERS[API];
  const body = { messages };
  if (model) body.model = model;
  let ended = false;
  try {
    const response = await fetch(adapter.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/x-ndjson" },
      body: JSON.stringify(body),
      signal,
    });
    if (!response.ok) return { outcome: "error", message: await errorText(response) };
    onOpen();
    for await (const line of readNdjson(response.body)) {
      for (const event of adapter.events(line)) {
        if (event.type === "text") onText(event.text);
        else if (event.type === "usage") onUsage(event.usage);
        else if (event.type === "error") {
          return { outcome: "error", message: event.message || "The reply failed." };
        } else if (event.type === "incomplete") {
          return { outcome: "incomplete", message: event.message };
        } else if (event.type === "end") {
          ended = true; // keep reading: the usage line comes after the finish line
        }
      }
    }
    if (ended) return { outcome: "done" };
    return { outcome: "cut off", message: "The reply was cut off before it finished." };
  } catch (error) {
    if (signal.aborted) return { outcome: "stopped" };
    const message =
      error instanceof SyntaxError
        ? "The server sent a reply this page cannot read."
        : `The connection failed: ${error.message}`;
    return { outcome: "error", message };
  }
}

// --- markdown: marked + DOMPurify + highlight.js from static/vendor/ ------------------

// Filled by loadVendor(). Without marked and DOMPurify the page shows plain text.
const vendor = { marked: null, purify: null, hljs: null };

// Only what our markdown renderer produces; everything else is dropped.
const PURIFY_CONFIG = {
  ALLOWED_TAGS: [
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "li", "ol", "p", "pre", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
  ],
  ALLOWED_ATTR: ["href", "title", "class", "start", "align"],
  ALLOW_DATA_ATTR: false,
  RETURN_DOM_FRAGMENT: true,
};

async function loadVendor() {
  const url = (path) => new URL(`./vendor/${path}`, import.meta.url).href;
  const [markedModule, purifyModule, hljsModule] = await Promise.allSettled([
    import(url("marked.esm.js")),
    import(url("purify.es.js")),
    import(url("highlight/highlight.js")),
  ]);
  if (hljsModule.status === "fulfilled") vendor.hljs = hljsModule.value.default;
  // Markdown only with its sanitiser: HTML from a model is untrusted input.
  if (markedModule.status === "fulfilled" && purifyModule.status === "fulfilled") {
    vendor.purify = purifyModule.value.default;
    vendor.marked = new markedModule.value.Marked({ gfm: true, renderer: markdownRenderer() });
  }
}

function escapeHtml(text) {
  return String(text)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/** Overrides of marked's renderer: raw HTML is shown as text, code is highlighted. */
function markdownRenderer() {
  return {
    // A model writing <img onerror=...> or <script> gets it shown, never parsed.
    html: ({ text }) => escapeHtml(text),
    // Images would load from anywhere; show them as links instead.
    image: ({ href, text }) => `<a href="${escapeHtml(href)}">${escapeHtml(text || href)}</a>`,
    checkbox: ({ checked }) => (checked ? "☑ " : "☐ "),
    code: ({ text, lang }) => {
      const language = ((lang || "").match(/^[\w+#.-]+/) || [""])[0].toLowerCase();
      const known = vendor.hljs && language && vendor.hljs.getLanguage(language);
      const body = known
        ? vendor.hljs.highlight(text, { language, ignoreIllegals: true }).value
        : escapeHtml(text);
      const cls = language ? ` language-${language}` : "";
      return `<pre><code class="hljs${cls}">${body}</code></pre>\n`;
    },
  };
}

/**
 * Render `text` into `el`: sanitised markdown, or plain text without the vendor files.
 * An open code fence needs nothing special: marked runs it to the end as code.
 */
export function renderContent(el, text) {
  if (!vendor.marked) {
    el.classList.add("plain");
    el.textContent = text;
    return;
  }
  const fragment = vendor.purify.sanitize(vendor.marked.parse(text), PURIFY_CONFIG);
  decorate(fragment);
  el.classList.remove("plain");
  el.replaceChildren(fragment);
}

/**
 * Render a reply that is still streaming. Re-rendering all of it every frame costs ~40 ms
 * at 30 kB (measured), so only the last top-level block is redrawn: a block the lexer has
 * seen the end of (it is not last) and whose source is unchanged is kept as it is.
 * When the reply ends it is rendered once more, whole, by renderContent().
 */
export function renderStreaming(view) {
  if (!vendor.marked) {
    renderContent(view.content, view.message.content);
    return;
  }
  const tokens = vendor.marked.lexer(view.message.content);
  const blocks = view.blocks;
  if (!blocks.length) {
    // What is there was drawn another way (as plain text, before the libraries had
    // loaded): the blocks replace it rather than follow it.
    view.content.replaceChildren();
    view.content.classList.remove("plain");
  }
  let keep = 0;
  while (
    keep < blocks.length &&
    keep < tokens.length - 1 &&
    blocks[keep].raw === tokens[keep].raw
  ) {
    keep += 1;
  }
  for (const stale of blocks.splice(keep)) stale.el.remove();
  for (const token of tokens.slice(keep)) {
    const el = document.createElement("div");
    el.className = "md-block"; // display: contents, so the layout is the final one
    const fragment = vendor.purify.sanitize(vendor.marked.parser([token]), PURIFY_CONFIG);
    decorate(fragment);
    el.append(fragment);
    view.content.append(el);
    blocks.push({ raw: token.raw, el });
  }
}

/** Links open in a new tab without opener; each code block gets a Copy button. */
function decorate(root) {
  for (const link of root.querySelectorAll("a[href]")) {
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  }
  for (const pre of root.querySelectorAll("pre")) {
    const code = pre.querySelector("code");
    const language = code ? (code.className.match(/language-(\S+)/) || [])[1] : "";
    const block = document.createElement("div");
    block.className = "code-block";
    const bar = document.createElement("div");
    bar.className = "code-bar";
    const label = document.createElement("span");
    label.textContent = language || "code";
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "copy-code";
    copy.dataset.action = "copy-code";
    copy.textContent = "Copy";
    copy.setAttribute("aria-label", `Copy ${language || ""} code`.replace("  ", " "));
    bar.append(label, copy);
    pre.replaceWith(block);
    block.append(bar, pre);
  }
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain http on another host has no clipboard API: the old way still works there.
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

// --- storage: conversations in localStorage ---------------------------------------------

const STORE_KEY = "streamchat:conversations:v1";
const MODEL_KEY = "streamchat:model";

/** {conversations: [{id, title, model, updated, messages: [{role, content, ...}]}], activeId} */
let store = loadStore();

function loadStore() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
    if (saved && Array.isArray(saved.conversations)) {
      const conversations = saved.conversations.filter(validConversation);
      for (const conversation of conversations) {
        for (const message of conversation.messages) {
          // The page was closed mid-reply: what arrived was kept, the rest never will.
          if (message.state === "streaming") {
            message.state = "cut off";
            message.note = "The page was closed before this reply finished.";
          }
        }
      }
      const activeId = conversations.some((c) => c.id === saved.activeId) ? saved.activeId : null;
      return { conversations, activeId };
    }
  } catch {
    // Unreadable storage: start afresh rather than fail to load the page.
  }
  return { conversations: [], activeId: null };
}

function validConversation(c) {
  return (
    c &&
    typeof c.id === "string" &&
    Array.isArray(c.messages) &&
    c.messages.every(
      (m) => m && (m.role === "user" || m.role === "assistant") && typeof m.content === "string",
    )
  );
}

let saveFailed = false;

function saveStore() {
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify(store));
    saveFailed = false;
  } catch {
    // Full or disabled storage: the chat still works, it just won't survive a reload.
    if (!saveFailed) showStatus(currentState, "Could not save conversations in this browser.");
    saveFailed = true;
  }
}

function activeConversation() {
  return store.conversations.find((c) => c.id === store.activeId) || null;
}

function newId() {
  // crypto.randomUUID needs a secure context; this is unique enough for one browser.
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

function titleFrom(text) {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 48 ? `${line.slice(0, 47)}…` : line || "New chat";
}

// --- view -------------------------------------------------------------------------------

const STATUS_TEXT = {
  ready: "Ready",
  sending: "Sending…",
  streaming: "Streaming…",
  done: "Done",
  stopped: "Stopped",
  error: "Error",
  "cut off": "Cut off",
  incomplete: "Cut off",
};

let currentState = "ready";

function showStatus(state, detail) {
  currentState = state;
  els.status.dataset.state = state;
  els.status.textContent = detail ? `${STATUS_TEXT[state]}: ${detail}` : STATUS_TEXT[state];
  // Retry only where a retry makes sense: the last reply failed or stopped short.
  els.retry.hidden = !["error", "cut off", "incomplete"].includes(state);
}

function renderSidebar() {
  const items = [...store.conversations].sort((a, b) => b.updated - a.updated);
  els.list.replaceChildren(
    ...items.map((conversation) => {
      const item = document.createElement("li");
      item.className = "conversation-item";
      const open = document.createElement("button");
      open.type = "button";
      open.className = "open-conversation";
      open.dataset.id = conversation.id;
      open.textContent = conversation.title || "New chat";
      if (conversation.id === store.activeId) open.setAttribute("aria-current", "page");
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "delete-conversation";
      remove.dataset.deleteId = conversation.id;
      remove.textContent = "×";
      remove.setAttribute("aria-label", `Delete conversation: ${open.textContent}`);
      remove.title = "Delete";
      item.append(open, remove);
      return item;
    }),
  );
}

function actionButton(action, text, label) {
  const button = document.createElement("button");
  button.type = "button";
  button.dataset.action = action;
  button.textContent = text;
  button.setAttribute("aria-label", label);
  return button;
}

/** One message as a list item. */
function messageElement(message, index, isLast) {
  const item = document.createElement("li");
  item.className = `message ${message.role}`;
  item.dataset.index = String(index);
  const who = document.createElement("span");
  who.className = "visually-hidden";
  who.textContent = message.role === "user" ? "You said:" : "Assistant:";
  const content = document.createElement("div");
  content.className = "content";
  if (message.role === "user") {
    content.classList.add("plain");
    content.textContent = message.content;
  } else {
    renderContent(content, message.content);
  }
  item.append(who, content);
  if (message.note) {
    const note = document.createElement("p");
    note.className = message.state === "stopped" ? "note" : "note error";
    note.textContent = message.note;
    item.append(note);
  }
  if (message.usage) item.append(usageElement(message.usage));
  // A reply still streaming gets its actions when it ends (the item is redrawn then).
  if (message.state === "streaming") return item;
  const actions = document.createElement("div");
  actions.className = "actions";
  if (message.role === "user") {
    actions.append(actionButton("edit", "Edit", "Edit message"));
  } else {
    if (message.content) actions.append(actionButton("copy", "Copy", "Copy reply"));
    if (isLast) actions.append(actionButton("regenerate", "Regenerate", "Regenerate reply"));
  }
  item.append(actions);
  return item;
}

function usageElement(usage) {
  const meta = document.createElement("p");
  meta.className = "usage";
  const part = (n, what) => (Number.isFinite(n) ? `${n} ${what}` : null);
  meta.textContent = `Tokens: ${[
    part(usage.input, "in"),
    part(usage.output, "out"),
    part(usage.total, "total"),
  ]
    .filter(Boolean)
    .join(" · ")}`;
  return meta;
}

// The list mirrors the active conversation's messages; each item knows its message, so
// a change re-renders only what changed. That matters for the aria-live region: a
// rebuilt list would be read out again in full after every reply.
const itemMessage = new WeakMap();

/** Bring the list in line with the active conversation, touching only what changed. */
function syncConversation() {
  const conversation = activeConversation();
  const messages = conversation ? conversation.messages : [];
  const items = [...els.conversation.children];
  let same = 0;
  while (same < items.length && itemMessage.get(items[same]) === messages[same]) same += 1;
  for (const stale of items.slice(same)) stale.remove();
  for (let i = same; i < messages.length; i += 1) {
    const item = messageElement(messages[i], i, i === messages.length - 1);
    itemMessage.set(item, messages[i]);
    els.conversation.append(item);
  }
  // Regenerate belongs to the last reply only.
  for (const button of els.conversation.querySelectorAll("[data-action=regenerate]")) {
    if (button.closest("li") !== els.conversation.lastElementChild) button.remove();
  }
  els.empty.hidden = messages.length > 0;
  document.title = conversation ? `${conversation.title} · streamchat` : "streamchat";
  setBusy(Boolean(live));
}

/** Redraw one message (a reply that just ended) in place. */
function refreshMessage(index) {
  const old = els.conversation.querySelector(`li[data-index="${index}"]`);
  const conversation = activeConversation();
  if (!old || !conversation) return;
  const messages = conversation.messages;
  const item = messageElement(messages[index], index, index === messages.length - 1);
  itemMessage.set(item, messages[index]);
  old.replaceWith(item);
  setBusy(Boolean(live));
}

/** Rebuild the list from scratch: another conversation, or markdown became available. */
function renderConversation() {
  els.conversation.replaceChildren();
  syncConversation();
  syncModelPicker();
  scrollToEnd(true);
}

function renderAll() {
  renderSidebar();
  renderConversation();
}

function nearEnd() {
  const s = els.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < 48;
}

function scrollToEnd(force) {
  if (force || nearEnd()) els.scroller.scrollTop = els.scroller.scrollHeight;
}

function syncModelPicker() {
  if (MODELS.length < 2) return;
  const conversation = activeConversation();
  els.model.value = chosenModel(conversation);
}

function chosenModel(conversation) {
  const wanted = (conversation && conversation.model) || localStorage.getItem(MODEL_KEY);
  return MODELS.includes(wanted) ? wanted : DEFAULT_MODEL;
}

function setupModelPicker() {
  if (MODELS.length < 2) return;
  els.model.replaceChildren(
    ...MODELS.map((name) => {
      const option = document.createElement("option");
      option.value = option.textContent = name;
      return option;
    }),
  );
  els.picker.hidden = false;
}

/** While a reply streams: Stop instead of Send, and no edits of the history. */
function setBusy(busy) {
  const focused = document.activeElement;
  els.app.classList.toggle("busy", busy);
  els.send.hidden = busy;
  els.stop.hidden = !busy;
  // A hidden button drops the keyboard focus; hand it to the control that replaced it.
  if (busy && focused === els.send) els.stop.focus();
  if (!busy && focused === els.stop) els.prompt.focus();
  for (const button of els.conversation.querySelectorAll(
    "[data-action=edit], [data-action=regenerate]",
  )) {
    button.disabled = busy;
  }
}

// --- actions: send, stop, regenerate, edit, switch conversations ----------------------

/** The reply being streamed: {conversation, message, content, controller, frame}. */
let live = null;

function ensureConversation() {
  let conversation = activeConversation();
  if (!conversation) {
    conversation = {
      id: newId(),
      title: "",
      model: MODELS.length > 1 ? els.model.value : DEFAULT_MODEL,
      updated: Date.now(),
      messages: [],
    };
    store.conversations.push(conversation);
    store.activeId = conversation.id;
  }
  return conversation;
}

function send(text) {
  const conversation = ensureConversation();
  conversation.messages.push({ role: "user", content: text });
  if (!conversation.title) conversation.title = titleFrom(text);
  return runReply(conversation);
}

/** What the server gets: role and content only; failed empty replies are left out. */
function wireMessages(messages) {
  return messages
    .filter((m) => m.role === "user" || m.content)
    .map(({ role, content }) => ({ role, content }));
}

/** Stream a reply to the conversation's last user message and keep it up to date. */
async function runReply(conversation) {
  const sent = wireMessages(conversation.messages);
  const message = { role: "assistant", content: "", state: "streaming" };
  conversation.messages.push(message);
  conversation.updated = Date.now();
  const controller = new AbortController();
  live = { conversation, message, controller, frame: 0, saved: 0, blocks: [] };
  saveStore();
  renderSidebar();
  syncConversation();
  scrollToEnd(true);
  live.content = els.conversation.lastElementChild.querySelector(".content");
  live.content.setAttribute("aria-busy", "true"); // announce the reply once, when complete
  showStatus("sending");

  const result = await streamReply({
    messages: sent,
    model: MODELS.length > 1 ? chosenModel(conversation) : DEFAULT_MODEL,
    signal: controller.signal,
    onOpen: () => showStatus("streaming"),
    onText: (text) => {
      message.content += text;
      scheduleRender();
      saveSoon();
    },
    onUsage: (usage) => {
      message.usage = usage;
    },
  });

  if (live.frame) cancelAnimationFrame(live.frame);
  message.state = result.outcome;
  if (result.outcome === "stopped") message.note = "Stopped.";
  else if (result.message) message.note = result.message;
  live = null;
  saveStore();
  // Only redraw if the user is still looking at this conversation.
  if (store.activeId === conversation.id) {
    const follow = nearEnd();
    refreshMessage(conversation.messages.indexOf(message));
    scrollToEnd(follow);
    showStatus(result.outcome);
  } else {
    setBusy(false);
  }
}

/** Re-render the streaming reply at most once per frame, however fast deltas come. */
function scheduleRender() {
  if (!live || live.frame) return;
  live.frame = requestAnimationFrame(() => {
    if (!live) return;
    live.frame = 0;
    const follow = nearEnd();
    renderStreaming(live);
    if (follow) scrollToEnd(true);
  });
}

/** Keep a partial reply in storage about once a second, so a reload loses little. */
function saveSoon() {
  const now = Date.now();
  if (now - live.saved > 1000) {
    live.saved = now;
    saveStore();
  }
}

function stop() {
  if (live) live.controller.abort();
}

function lastIndexOfRole(messages, role) {
  for (let i = messages.length - 1; i >= 0; i -= 1) if (messages[i].role === role) return i;
  return -1;
}

/** Drop the last reply (failed or not) and ask again. */
function regenerate() {
  const conversation = activeConversation();
  if (live || !conversation) return;
  const lastUser = lastIndexOfRole(conversation.messages, "user");
  if (lastUser < 0) return;
  conversation.messages.splice(lastUser + 1);
  runReply(conversation);
}

function startEdit(index) {
  const conversation = activeConversation();
  if (live || !conversation) return;
  const item = els.conversation.querySelector(`li[data-index="${index}"]`);
  const original = conversation.messages[index].content;
  const form = document.createElement("form");
  form.className = "edit-form";
  const area = document.createElement("textarea");
  area.value = original;
  area.rows = Math.min(12, original.split("\n").length + 1);
  area.setAttribute("aria-label", "Edited message");
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Send";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = "Cancel";
  form.append(area, save, cancel);
  item.replaceChildren(form);

  const finish = () => {
    refreshMessage(index);
    const edit = els.conversation.querySelector(`li[data-index="${index}"] [data-action=edit]`);
    if (edit) edit.focus();
  };
  cancel.addEventListener("click", finish);
  area.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      finish();
    } else if (isSendKey(event)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = area.value.trim();
    if (!text || live) return;
    // Everything after the edited message answered the old text: it goes.
    conversation.messages.splice(index);
    conversation.messages.push({ role: "user", content: text });
    if (index === 0) conversation.title = titleFrom(text);
    els.prompt.focus();
    runReply(conversation);
  });
  area.focus();
}

/** Show the conversation with this id, or none (null) for a new chat. */
function openConversation(id) {
  stop(); // one reply streams at a time; the partial reply is kept
  store.activeId = id;
  saveStore();
  renderAll();
  showStatus("ready");
  closeSidebar();
  els.prompt.focus();
}

function deleteConversation(id) {
  const conversation = store.conversations.find((c) => c.id === id);
  if (!conversation) return;
  if (!window.confirm(`Delete “${conversation.title || "New chat"}”?`)) return;
  if (live && live.conversation === conversation) stop();
  store.conversations = store.conversations.filter((c) => c !== conversation);
  if (store.activeId === id) store.activeId = null;
  saveStore();
  renderAll();
}

function newChat() {
  openConversation(null); // no active conversation: the next message starts one
}

function isSendKey(event) {
  return event.key === "Enter" && !event.shiftKey && !event.isComposing;
}

function openSidebar() {
  els.app.classList.add("sidebar-open");
  els.sidebarToggle.setAttribute("aria-expanded", "true");
  els.newChat.focus();
}

function closeSidebar() {
  if (!els.app.classList.contains("sidebar-open")) return false;
  els.app.classList.remove("sidebar-open");
  els.sidebarToggle.setAttribute("aria-expanded", "false");
  return true;
}

async function onConversationClick(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const item = button.closest("li.message");
  const conversation = activeConversation();
  const index = item ? Number(item.dataset.index) : -1;
  switch (button.dataset.action) {
    case "edit":
      startEdit(index);
      break;
    case "regenerate":
      regenerate();
      break;
    case "copy":
      await copyWithFeedback(button, conversation.messages[index].content);
      break;
    case "copy-code":
      await copyWithFeedback(button, button.closest(".code-block").querySelector("pre").innerText);
      break;
    default:
  }
}

async function copyWithFeedback(button, text) {
  const label = button.textContent;
  try {
    await copyText(text);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Copy failed";
  }
  setTimeout(() => {
    button.textContent = label;
  }, 1500);
}

function wireEvents() {
  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = els.prompt.value.trim();
    if (!text || live) return;
    els.prompt.value = "";
    send(text);
  });
  els.prompt.addEventListener("keydown", (event) => {
    if (isSendKey(event)) {
      event.preventDefault();
      els.form.requestSubmit();
    }
  });
  els.stop.addEventListener("click", stop);
  els.retry.addEventListener("click", () => {
    els.prompt.focus();
    regenerate();
  });
  els.newChat.addEventListener("click", newChat);
  els.sidebarToggle.addEventListener("click", () => {
    if (!closeSidebar()) openSidebar();
  });
  // The open drawer covers the page; a click beside it closes it, as on phones.
  document.addEventListener("click", (event) => {
    if (!els.sidebar.contains(event.target) && !els.sidebarToggle.contains(event.target)) {
      closeSidebar();
    }
  });
  els.list.addEventListener("click", (event) => {
    const open = event.target.closest("button[data-id]");
    if (open) openConversation(open.dataset.id);
    const remove = event.target.closest("button[data-delete-id]");
    if (remove) deleteConversation(remove.dataset.deleteId);
  });
  els.model.addEventListener("change", () => {
    localStorage.setItem(MODEL_KEY, els.model.value);
    const conversation = activeConversation();
    if (conversation) {
      conversation.model = els.model.value;
      saveStore();
    }
  });
  els.conversation.addEventListener("click", onConversationClick);
  // Escape: close the sidebar overlay first, else stop a streaming reply.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    if (closeSidebar()) {
      els.sidebarToggle.focus();
    } else if (live) {
      event.preventDefault();
      stop();
    }
  });
  // Another tab changed the conversations: show them, unless a reply is streaming here.
  window.addEventListener("storage", (event) => {
    if (event.key !== STORE_KEY || live) return;
    store = loadStore();
    renderAll();
  });
}

async function start() {
  wireEvents();
  setupModelPicker();
  // Wait briefly for the libraries (same origin, normally milliseconds) so saved replies
  // are drawn once, as markdown, rather than drawn as text and redrawn in the live region.
  const loaded = loadVendor();
  await Promise.race([loaded, new Promise((resolve) => setTimeout(resolve, 3000))]);
  renderAll();
  document.body.dataset.ready = vendor.marked ? "markdown" : "plain";
  if (!vendor.marked) {
    // Slower than that: draw the conversation again as markdown once they arrive (a
    // streaming reply switches over at its next frame, in renderStreaming).
    await loaded;
    if (!vendor.marked) return;
    document.body.dataset.ready = "markdown";
    if (!live) renderConversation();
  }
}

start();
