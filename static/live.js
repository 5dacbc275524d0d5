// streamchat live: the reply this tab is reading now, from its run into the conversation,
// the store and the view.
//
// A reply is a run of the server's (runs.js). While it streams, its message keeps the run
// as message.run = {id, lines, read}: how many of the run's lines its text holds, and the
// read state after them (savedReadState). Both change only between lines and are saved
// with the text, at most about once a second, so a reload, or another tab, reads on from
// that count: lines after the last save are read again, never added twice. The page state
// `state.live` is the LiveReply (null when none): the view reads it to show Stop instead
// of Send, controls.js to route Escape. Created by controller.js.

import { renderStreaming } from "./markdown.js";
import { stopRun, streamReply } from "./runs.js";
import { LiveThinking } from "./thinking.js";
import { savedReadState } from "./wire.js";

const SAVE_EVERY_MS = 1000;

export class LiveReply {
  /**
   * @param {import("./controller.js").Controller} page what the reply is read into
   * @param {object} conversation
   * @param {object} message the conversation's last message, the reply
   */
  constructor(page, conversation, message) {
    this.page = page;
    this.conversation = conversation;
    this.message = message;
    this.controller = new AbortController();
    this.runId = message.run ? message.run.id : null;
    this.frame = 0;
    this.saved = 0;
    this.blocks = []; // what renderStreaming has drawn
    this.leaving = false;
  }

  /**
   * Read the reply to its end, however it ends.
   * @param {{messages: object[], model?: string}|{resume: object}} request a new reply's
   *   conversation, or where to read on (runs.js streamReply)
   * @returns {Promise<void>}
   */
  async read(request) {
    const { page, conversation, message } = this;
    const { store, view, state, config } = page;
    state.live = this;
    // Whatever other tabs store meanwhile, this conversation is written as this tab has it.
    store.liveId = conversation.id;
    page.save();
    view.renderSidebar();
    view.syncConversation();
    view.scrollToEnd(true);
    this.content = view.els.conversation.lastElementChild.querySelector(".content");
    this.content.setAttribute("aria-busy", "true"); // announce the reply once, when complete
    this.thinking = new LiveThinking(message, this.content);
    view.showStatus(request.resume ? "streaming" : "sending");
    // With the conversations on the server: the conversation made there first (sync.js).
    const { conversationId } = request.prepare ? await request.prepare() : {};
    // Stopped while the conversation was being made: nothing was asked.
    const stopped = this.controller.signal.aborted ? { outcome: "stopped" } : null;
    const result = stopped || (await streamReply({
      api: config.api,
      format: config.streamFormat,
      graceSeconds: config.runGrace,
      ...request,
      conversationId,
      signal: this.controller.signal,
      network: window,
      ...this.handlers(),
    }));
    this.finish(result);
  }

  handlers() {
    const { page, message } = this;
    const { view } = page;
    return {
      onOpen: (response) => {
        view.showStatus("streaming");
        if (page.budget) page.budget.admitted(response.headers);
        if (page.remote) page.remote.turnOpened(this.conversation, response);
      },
      onRun: (id) => {
        this.runId = id;
        message.run = { id, lines: 0 };
        page.save(); // a reload, or another tab, can read on from now
      },
      onLine: (lines, read) => {
        if (message.run) Object.assign(message.run, { lines, read: savedReadState(read) });
        this.saveSoon();
      },
      onReconnecting: () => view.showStatus("reconnecting"),
      onResumed: () => view.showStatus("streaming"),
      onText: (text) => {
        this.thinking.answerStarted();
        message.content += text;
        this.scheduleRender();
      },
      onReasoning: (text) => {
        this.thinking.add(text);
        this.scheduleRender();
      },
      onUsage: (usage) => {
        message.usage = usage;
      },
    };
  }

  /** Re-render the reply at most once per frame, however fast deltas come. */
  scheduleRender() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.page.state.live !== this) return;
      const follow = this.page.view.nearEnd();
      this.thinking.render();
      renderStreaming(this);
      if (follow) this.page.view.scrollToEnd(true);
    });
  }

  /** Keep the reply in storage about once a second, so a reload loses little. */
  saveSoon() {
    const now = Date.now();
    if (now - this.saved <= SAVE_EVERY_MS) return;
    this.saved = now;
    this.noticeStop();
    this.page.save();
  }

  /** Stop the reply for every reader (other tabs, other devices); what arrived is kept. */
  stop() {
    const { message, page } = this;
    // Said in storage first: other tabs reading the run then know it was stopped.
    message.state = "stopped";
    message.note = "Stopped.";
    page.save();
    if (this.runId) stopRun(this.runId);
    this.controller.abort();
  }

  /** Stop reading here only: the run goes on, and this tab reads on when it comes back. */
  leave() {
    this.leaving = true;
    this.controller.abort();
  }

  /** Whether another tab stopped this run: it saves its copy "stopped" before it asks. */
  noticeStop() {
    const { conversation, message } = this;
    if (message.state === "stopped") return true;
    const theirs = this.page.store.storedCopy(conversation.id);
    const copy = theirs && theirs.messages[conversation.messages.indexOf(message)];
    if (!copy || copy.state !== "stopped" || !copy.run || copy.run.id !== this.runId) {
      return false;
    }
    message.state = "stopped";
    message.note = "Stopped.";
    return true;
  }

  finish(result) {
    const { page, conversation, message } = this;
    const { store, view, state } = page;
    if (this.frame) cancelAnimationFrame(this.frame);
    if (!this.leaving) this.thinking.end(); // left still thinking: not timed yet
    // Stopped here, or by another tab (the server ended the run without a finish).
    const stopped =
      !this.leaving && (result.outcome === "stopped" || (result.runEnded && this.noticeStop()));
    // Left: still streaming, on the server; this tab reads on from message.run later.
    const outcome = this.leaving ? "streaming" : stopped ? "stopped" : result.outcome;
    const note = stopped ? "Stopped." : !this.leaving && result.message;
    if (note) message.note = note;
    else delete message.note;
    message.state = outcome;
    if (outcome !== "streaming" && message.run) message.run = { id: message.run.id };
    state.live = null;
    // However it ended, the server has counted the reply by now: show what is left.
    if (page.budget && !this.leaving) page.budget.replyEnded(outcome);
    page.save(); // still as the live conversation: the final reply wins over older copies
    store.liveId = null;
    // Only redraw if the user is still looking at this conversation.
    if (store.activeId === conversation.id) {
      const follow = view.nearEnd();
      const thoughtsOpen = this.thinking.isOpen(); // the reader opened it: leave it open
      view.refreshMessage(conversation.messages.indexOf(message), { thoughtsOpen });
      view.scrollToEnd(follow);
      view.showStatus(outcome);
    } else {
      view.setBusy(false);
    }
    // Its run was gone: on the server, the reply ended elsewhere and was stored.
    if (page.remote && !this.leaving) page.remote.turnEnded(conversation, result);
    page.resumeReply(); // the conversation on screen now may have a reply to read on
  }
}
