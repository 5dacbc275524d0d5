// streamchat page: the entry module the template loads. Native ES modules, no build step.
//
// It reads the server's settings from <body data-*>, creates the one store, view and
// controller of the page around a shared `state` object, attaches the listeners and
// draws the saved conversations once the markdown libraries are in. The modules:
//   wire.js        NDJSON body → page events, per API; lines counted (no DOM: Node tests it)
//   sse.js         the same from an SSE body, when STREAM_FORMAT=sse (wire.js imports it)
//   reasoning.js   a reasoning model's thinking told apart from its answer (no DOM either)
//   markdown.js    marked + DOMPurify + highlight.js from static/vendor/
//   storage.js     conversations in localStorage, merged with other tabs' on save
//   server_api.js  the conversations API and its shapes, when signed in (no DOM)
//   server_store.js  those conversations in memory, as storage.js's store looks (no DOM)
//   sync.js        the page kept in step with the server: list, open, refresh, save
//   importer.js    this browser's conversations moved to the server (no DOM)
//   import_offer.js  "Import 12 conversations kept in this browser", once signed in
//   view.js        drawing the sidebar, the conversation, the status line
//   message.js     one message as a list item (view.js draws the list with it)
//   thinking.js    a reply's thinking in a <details> above it, live while it streams
//   budget.js      token budget figures and refusal notes in words (no DOM: Node tests it)
//   budgetview.js  the budget line near the header, fetched from /api/budget
//   runs.js        a reply read as a run: resumed after a drop or a reload, stopped (no DOM)
//   live.js        the reply this tab reads now, into the store and the view
//   controller.js  send, read on, stop, regenerate, switch, delete
//   edit.js        the inline editor of a sent message
//   controls.js    event listeners → controller
//   images.js      images kept with a message, as sent and stored (no DOM: Node tests it)
//   attachments.js the images attached to the next message: chooser, paste, drop
// Nothing imports this module.

import { Attachments } from "./attachments.js";
import { BudgetView } from "./budgetview.js";
import { Controller } from "./controller.js";
import { wireControls } from "./controls.js";
import { offerImport } from "./import_offer.js";
import { loadVendor, markdownReady } from "./markdown.js";
import { ServerApi } from "./server_api.js";
import { ServerConversations } from "./server_store.js";
import { ConversationStore } from "./storage.js";
import { ServerSync } from "./sync.js";
import { View } from "./view.js";

function parseModels(raw) {
  try {
    const list = JSON.parse(raw || "[]");
    return Array.isArray(list) ? list.filter((m) => typeof m === "string" && m) : [];
  } catch {
    return [];
  }
}

function readConfig(data) {
  const models = parseModels(data.models);
  return {
    api: data.api === "responses" ? "responses" : "chat", // missing or empty means chat
    streamFormat: data.streamFormat === "sse" ? "sse" : "ndjson",
    models,
    defaultModel: data.defaultModel || models[0] || "",
    budget: data.budget === "on", // a token budget is set: show what is left
    // How long a reply's run outlives its readers (RUN_GRACE_SECONDS): how long a dropped
    // connection is tried again.
    runGrace: Math.max(0, Number(data.runGrace) || 0),
    // MAX_IMAGES_PER_MESSAGE and MAX_IMAGE_BYTES: 0 images means none can be attached.
    maxImages: Math.max(0, Number(data.maxImages) || 0),
    maxImageBytes: Math.max(0, Number(data.maxImageBytes) || 0),
    // "server": signed in, the conversations live on the server; else in this browser.
    onServer: data.conversations === "server",
    user: data.user || "",
  };
}

function browserStorage() {
  try {
    return window.localStorage; // throws where the browser blocks storage for this page
  } catch {
    return null;
  }
}

const config = readConfig(document.body.dataset);
// What more than one module reads and the controller changes: the reply read now.
const state = { live: null };
const local = new ConversationStore(browserStorage(), {
  onSaveError: () => view.noteStatus("Could not save conversations in this browser."),
  // Images left out of storage: their messages say so (message.js).
  onImagesLost: () => view.refreshImages(),
});
function tabStorage() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

const store = config.onServer ? new ServerConversations(local, tabStorage()) : local;
const view = new View({ config, store, state });
const budget = new BudgetView({ enabled: config.budget });
const controller = new Controller({ config, store, view, state, budget });
const attachments = new Attachments({ config, view });
const api = config.onServer ? new ServerApi() : null;
const sync = api && new ServerSync({ api, store, view, controller });
controller.remote = sync;

async function start() {
  store.load();
  wireControls({ store, view, controller, state, attachments });
  attachments.wire(view.els.form);
  view.setupModelPicker();
  budget.refresh();
  // Wait briefly for the libraries (same origin, normally milliseconds) so saved replies
  // are drawn once, as markdown, rather than drawn as text and redrawn in the live region.
  const loaded = loadVendor();
  await Promise.race([loaded, new Promise((resolve) => setTimeout(resolve, 3000))]);
  view.renderAll();
  controller.resumeReply(); // a reply was streaming when the page was left: read on
  if (sync) {
    await sync.start(); // the first page of the list
    offerImport({ storage: browserStorage(), user: config.user, local, api, sync });
  }
  document.body.dataset.ready = markdownReady() ? "markdown" : "plain";
  if (!markdownReady()) {
    // Slower than that: draw the conversation again as markdown once they arrive (a
    // streaming reply switches over at its next frame, in renderStreaming).
    await loaded;
    if (!markdownReady()) return;
    document.body.dataset.ready = "markdown";
    if (!state.live) view.renderConversation();
  }
}

start();
