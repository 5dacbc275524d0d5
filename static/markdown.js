// streamchat markdown: replies drawn as sanitised markdown, with highlighted code.
//
// marked, DOMPurify and highlight.js come from static/vendor/ (our own origin), loaded by
// loadVendor(); until they arrive, or without them, replies are shown as plain text.
// The libraries live in a private object of this module: other modules ask
// markdownReady() rather than read it. Imported by view.js (renderContent),
// controller.js (renderStreaming), controls.js (copyText) and chat.js (loadVendor,
// markdownReady); the browser tests import renderContent and renderStreaming directly.

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

/**
 * Import the vendor libraries. Resolves once each import has settled, loaded or not;
 * markdownReady() then says whether replies can be drawn as markdown.
 * @returns {Promise<void>}
 */
export async function loadVendor() {
  const url = (path) => new URL(`./vendor/${path}`, import.meta.url).href;
  const [markedModule, purifyModule, hljsModule] = await Promise.allSettled([
    import(url("marked.esm.js")),
    import(url("purify.es.js")),
    import(url("highlight/highlight.min.js")),
  ]);
  if (hljsModule.status === "fulfilled") vendor.hljs = hljsModule.value.default;
  // Markdown only with its sanitiser: HTML from a model is untrusted input.
  if (markedModule.status === "fulfilled" && purifyModule.status === "fulfilled") {
    vendor.purify = purifyModule.value.default;
    vendor.marked = new markedModule.value.Marked({ gfm: true, renderer: markdownRenderer() });
  }
}

/** Whether marked and DOMPurify have loaded (highlight.js is optional). */
export function markdownReady() {
  return Boolean(vendor.marked);
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
 * @param {HTMLElement} el
 * @param {string} text
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
 * Render a reply that is still streaming. Re-rendering all of it every frame grows with
 * the reply until it no longer fits a frame, so only the last top-level block is redrawn: a block the lexer has
 * seen the end of (it is not last) and whose source is unchanged is kept as it is.
 * When the reply ends it is rendered once more, whole, by renderContent().
 * @param {{message: {content: string}, content: HTMLElement, blocks: object[]}} view
 *   the reply's text, the element it is drawn in, and the blocks drawn so far as
 *   {raw, el} (this function keeps that list)
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

/**
 * Links open in a new tab without opener; each code block gets a Copy button.
 * @param {ParentNode} root sanitised markup, before it is put in the page
 */
export function decorate(root) {
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

/**
 * Put `text` on the clipboard.
 * @param {string} text
 * @returns {Promise<void>} rejects when the browser refuses
 */
export async function copyText(text) {
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
