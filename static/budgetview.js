// streamchat budget view: the token budget line near the header.
//
// Asks GET /api/budget when the page loads and again after every reply ends (the server
// counts a reply when it ends), and shows what is left of the figure that binds, with
// when it resets; the words come from budget.js. With no budget set (the server renders
// <body data-budget="off">) it asks nothing and shows nothing. Only the token count is a
// live region, and only after the first figure is drawn, so a screen reader hears
// "228 tokens left" once per reply and not the minutes ticking down. Created by chat.js;
// the controller calls admitted() and replyEnded().

import {
  bindingFigure,
  budgetDetail,
  budgetLine,
  later,
  parseBudget,
  remainingHeader,
  withRemaining,
} from "./budget.js";

const ENDPOINT = "/api/budget";
// How often the "resets in" part is redrawn from the last answer, without asking.
const TICK_MS = 30_000;
// A stopped reply is counted when the server notices the page left, at its next
// heartbeat (HEARTBEAT_SECONDS, 15 by default): ask once more after that.
const STOPPED_RECHECK_MS = 20_000;

export class BudgetView {
  /**
   * @param {object} deps
   * @param {boolean} deps.enabled whether the server has a budget set (data-budget)
   * @param {typeof fetch} [deps.fetch] the fetch to use
   */
  constructor({ enabled, fetch: get = (...args) => fetch(...args) }) {
    this.enabled = enabled;
    this.fetch = get;
    this.budget = null; // the last answer, parsed (budget.js); null shows nothing
    this.shownAt = 0; // when it was taken (ms), to count the reset down from
    this.timer = 0;
    this.recheck = 0; // the re-check after a stopped reply, if one is due
    this.pending = null; // the request under way, if any
    this.again = false; // a refresh was asked while one was under way
    const $ = (id) => document.getElementById(id);
    this.els = { box: $("budget"), left: $("budget-left"), resets: $("budget-resets") };
  }

  /**
   * Ask the server what is left and show it. One request at a time: a refresh asked
   * meanwhile runs once more when it ends, so the last figure shown is the newest.
   * @returns {Promise<void>} never rejects
   */
  refresh() {
    if (!this.enabled) return Promise.resolve();
    if (this.pending) {
      this.again = true;
      return this.pending;
    }
    this.pending = this.load().finally(() => {
      this.pending = null;
      if (this.again) {
        this.again = false;
        this.refresh();
      }
    });
    return this.pending;
  }

  /** A reply ended (done, error, stopped...): show what is left now it is counted. */
  replyEnded(outcome) {
    this.refresh();
    if (outcome === "stopped" && this.enabled) {
      // One pending re-check at most, however many replies are stopped meanwhile.
      clearTimeout(this.recheck);
      this.recheck = setTimeout(() => this.refresh(), STOPPED_RECHECK_MS);
    }
  }

  async load() {
    let answer;
    try {
      const response = await this.fetch(ENDPOINT, {
        headers: { Accept: "application/json" },
        cache: "no-store",
      });
      // Signed out meanwhile, or a server without budgets: say nothing about them.
      if (response.status === 401 || response.status === 404) {
        this.show(null);
        return;
      }
      if (!response.ok) return; // busy or failing: keep what is shown
      answer = await response.json();
    } catch {
      return; // offline, or not JSON: keep what is shown
    }
    this.show(parseBudget(answer));
  }

  /**
   * A reply was admitted: its X-Token-Budget-Remaining (if any) lowers the figure at
   * once. A server that sends it while the page was told of no budget has one after all.
   * @param {Headers} headers the stream response's
   */
  admitted(headers) {
    const left = remainingHeader(headers);
    if (left === null) return;
    if (!this.enabled) {
      this.enabled = true;
      this.refresh();
    } else if (this.budget) {
      this.show(withRemaining(this.current(), left));
    }
  }

  /** The last answer, with its reset times counted down to now. */
  current() {
    return later(this.budget, (Date.now() - this.shownAt) / 1000);
  }

  /** Show `budget` (a parsed answer), or hide the line when it is null. */
  show(budget) {
    const { box, left, resets } = this.els;
    this.budget = budget;
    this.shownAt = Date.now();
    clearInterval(this.timer);
    this.timer = 0;
    if (!budget) {
      box.hidden = true;
      left.removeAttribute("aria-live");
      left.textContent = resets.textContent = "";
      return;
    }
    this.draw();
    if (box.hidden) {
      box.hidden = false;
      // Live from now on: the figure drawn on load is not read out, later changes are.
      setTimeout(() => left.setAttribute("aria-live", "polite"), 0);
    }
    const figure = bindingFigure(budget);
    if (figure.resetsIn !== null) this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** Redraw, writing only what changed (a rewritten live region is read out again). */
  draw() {
    const budget = this.current();
    const line = budgetLine(budget);
    const { box, left, resets } = this.els;
    if (left.textContent !== line.left) left.textContent = line.left;
    resets.textContent = line.resets ? ` · ${line.resets}` : "";
    box.title = budgetDetail(budget);
  }

  /** Count the reset down; once it has passed, ask the server for the fresh figure. */
  tick() {
    const figure = bindingFigure(this.current());
    if (figure && figure.resetsIn === 0) this.refresh();
    else this.draw();
  }
}
