// streamchat page: posts the conversation, reads the NDJSON reply as it streams in,
// and renders each content delta the moment it arrives.

const conversationEl = document.getElementById("conversation");
const form = document.getElementById("composer");
const prompt = document.getElementById("prompt");
const sendButton = document.getElementById("send");
const statusEl = document.getElementById("status");

// The conversation lives in the browser and is re-sent every turn (the server is stateless).
const history = [];

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
    reader.releaseLock();
  }
}

function setStatus(text) {
  statusEl.textContent = text;
}

function addMessage(role, text) {
  const item = document.createElement("li");
  item.className = `message ${role}`;
  const content = document.createElement("span");
  content.className = "content";
  content.textContent = text;
  item.append(content);
  conversationEl.append(item);
  item.scrollIntoView({ block: "end" });
  return { item, content };
}

function addNote(message, text, isError) {
  const note = document.createElement("span");
  note.className = isError ? "note error" : "note";
  note.textContent = text;
  message.item.append(note);
}

async function errorText(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch {
    // not JSON: fall through to the status line
  }
  return `The server answered ${response.status} ${response.statusText}.`;
}

async function streamReply(reply) {
  const response = await fetch("/api/chat", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/x-ndjson" },
    body: JSON.stringify({ messages: history, model: document.body.dataset.defaultModel }),
  });
  if (!response.ok) {
    addNote(reply, await errorText(response), true);
    return { outcome: "error", text: "" };
  }
  setStatus("Streaming…");
  let text = "";
  let finished = false;
  for await (const chunk of readNdjson(response.body)) {
    if (chunk.error) {
      addNote(reply, chunk.error.message || "The reply failed.", true);
      return { outcome: "error", text };
    }
    for (const choice of chunk.choices || []) {
      const delta = choice.delta && choice.delta.content;
      if (delta) {
        text += delta;
        reply.content.textContent = text;
      }
      if (choice.finish_reason) finished = true;
    }
  }
  if (!finished) {
    addNote(reply, "The reply was cut off before it finished.", true);
    return { outcome: "cut off", text };
  }
  return { outcome: "done", text };
}

async function send(text) {
  history.push({ role: "user", content: text });
  addMessage("user", text);
  const reply = addMessage("assistant", "");
  sendButton.disabled = true;
  setStatus("Sending…");
  let result;
  try {
    result = await streamReply(reply);
  } catch (error) {
    addNote(reply, `The connection failed: ${error.message}`, true);
    result = { outcome: "error", text: "" };
  } finally {
    sendButton.disabled = false;
  }
  // A partial reply stays in the history too: it is what the user saw.
  if (result.text) history.push({ role: "assistant", content: result.text });
  setStatus({ done: "Done", error: "Error", "cut off": "Cut off" }[result.outcome]);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = prompt.value.trim();
  if (!text || sendButton.disabled) return;
  prompt.value = "";
  send(text);
});

prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});
