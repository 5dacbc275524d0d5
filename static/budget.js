// streamchat budget: what the page says about token budgets, worked out without the DOM.
//
// Reads the answer of GET /api/budget and the X-Token-Budget-Remaining header, picks the
// figure that binds (the caller's own budget or the deployment's), and words it: the
// line near the header ("228 tokens left · resets in 59 min") and the note a refused
// request gets (429 budget_exhausted / global_budget_exhausted, 503 budget_unavailable).
// No DOM here, on purpose: Node tests it (tests/node/budget.test.mjs). Imported by
// wire.js (refusal notes), budgetview.js (the line) and the tests.

/** The error codes of a budget refusal, answered before any upstream call. */
export const BUDGET_CODES = ["budget_exhausted", "global_budget_exhausted", "budget_unavailable"];

const count = (value) => (Number.isFinite(value) ? Math.max(0, Math.round(value)) : null);

/** One budget of the answer, or null when it is not set (every field null) or malformed. */
function parseOne(raw) {
  if (!raw || typeof raw !== "object") return null;
  const limit = count(raw.limit);
  if (limit === null) return null;
  const used = count(raw.used);
  let remaining = count(raw.remaining);
  if (remaining === null) remaining = used === null ? limit : Math.max(0, limit - used);
  return {
    limit,
    used: used === null ? limit - remaining : used,
    remaining,
    resetsIn: count(raw.resets_in_seconds),
    period: count(raw.period_seconds),
  };
}

/**
 * The answer of GET /api/budget as the page uses it.
 * @param {any} answer the parsed JSON body
 * @returns {{own: object|null, global: object|null}|null} null when no budget is set:
 *   then the page says nothing about budgets
 */
export function parseBudget(answer) {
  if (!answer || typeof answer !== "object") return null;
  const own = parseOne(answer);
  const global = parseOne(answer.global);
  return own || global ? { own, global } : null;
}

/**
 * The figure that binds: the budget with fewer tokens left (the caller's own on a tie).
 * @returns {{scope: "own"|"global", remaining: number, limit: number,
 *   resetsIn: number|null}|null}
 */
export function bindingFigure(budget) {
  if (!budget) return null;
  const { own, global } = budget;
  const pick = !own || (global && global.remaining < own.remaining) ? "global" : "own";
  const chosen = pick === "own" ? own : global;
  return {
    scope: pick,
    remaining: chosen.remaining,
    limit: chosen.limit,
    resetsIn: chosen.resetsIn,
  };
}

/**
 * The same budget after the server admitted a reply with `remaining` tokens left for
 * this caller (X-Token-Budget-Remaining: the smaller of own and global). Only the
 * binding figure moves, and only down: the header is as of admission, and a fresher
 * answer of /api/budget may already be shown.
 */
export function withRemaining(budget, remaining) {
  const left = count(remaining);
  const figure = bindingFigure(budget);
  if (!figure || left === null || left >= figure.remaining) return budget;
  const key = figure.scope;
  const before = budget[key];
  return { ...budget, [key]: { ...before, remaining: left, used: before.limit - left } };
}

/** The same budget `seconds` later: each reset that much nearer (never below zero). */
export function later(budget, seconds) {
  if (!budget || !(seconds > 0)) return budget;
  const move = (one) =>
    one && one.resetsIn !== null ? { ...one, resetsIn: Math.max(0, one.resetsIn - seconds) } : one;
  return { own: move(budget.own), global: move(budget.global) };
}

/** The X-Token-Budget-Remaining header's number, or null when absent or not a count. */
export function remainingHeader(headers) {
  const raw = headers && headers.get("X-Token-Budget-Remaining");
  if (raw === null || raw === undefined || !/^\s*\d+\s*$/.test(raw)) return null;
  return Number(raw);
}

/** Whole minutes, rounded up: a wait shown shorter than it is sends people back too early. */
function minutesOf(seconds) {
  return Math.max(1, Math.ceil(seconds / 60));
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * A wait in words for a sentence: "42 minutes", "1 hour 5 minutes", "2 days 3 hours".
 * Under a minute it counts seconds; from a minute on, minutes rounded up.
 */
export function waitInWords(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return plural(s, "second");
  const minutes = minutesOf(s);
  if (minutes < 60) return plural(minutes, "minute");
  const hours = Math.floor(minutes / 60);
  if (hours < 48) {
    const rest = minutes % 60;
    return rest ? `${plural(hours, "hour")} ${plural(rest, "minute")}` : plural(hours, "hour");
  }
  const days = Math.floor(hours / 24);
  const rest = hours % 24;
  return rest ? `${plural(days, "day")} ${plural(rest, "hour")}` : plural(days, "day");
}

/** The same, short, for the line near the header: "59 min", "2 h 5 min", "3 d 4 h". */
export function waitShort(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return "under a minute";
  const minutes = minutesOf(s);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/**
 * The clock time `seconds` after `now`, in the reader's locale: "14:05", or with the
 * weekday when it is not today ("Tue 14:05").
 * @param {{locale?: string, timeZone?: string}} [options] tests pin both
 */
export function clockTime(seconds, now, { locale, timeZone } = {}) {
  const at = new Date(now.getTime() + Math.max(0, seconds) * 1000);
  const time = { hour: "numeric", minute: "2-digit", timeZone };
  const day = new Intl.DateTimeFormat("en-CA", { dateStyle: "short", timeZone });
  const sameDay = day.format(at) === day.format(now);
  const format = sameDay ? time : { ...time, weekday: "short" };
  return new Intl.DateTimeFormat(locale, format).format(at);
}

/** A token count with the reader's thousands separators: 12,300 (en), 12.300 (de). */
export function formatCount(n, locale) {
  return new Intl.NumberFormat(locale).format(n);
}

/**
 * The line shown near the header, or "" when no budget is set.
 * "228 tokens left · resets in 59 min"; "500 tokens left service-wide · resets in 50 min"
 * when the deployment's budget is the one that binds.
 * @param {{locale?: string}} [options]
 * @returns {{left: string, resets: string}} the two parts (the page announces only `left`)
 */
export function budgetLine(budget, { locale } = {}) {
  const figure = bindingFigure(budget);
  if (!figure) return { left: "", resets: "" };
  const where = figure.scope === "global" ? " service-wide" : "";
  const tokens = figure.remaining === 1 ? "token" : "tokens";
  const left =
    figure.remaining === 0
      ? `No tokens left${where}`
      : `${formatCount(figure.remaining, locale)} ${tokens} left${where}`;
  const resets = figure.resetsIn === null ? "" : `resets in ${waitShort(figure.resetsIn)}`;
  return { left, resets };
}

/**
 * Both figures in full, for the line's tooltip:
 * "Yours: 228 of 300 tokens left · Service-wide: 500 of 1,000 left".
 */
export function budgetDetail(budget, { locale } = {}) {
  if (!budget) return "";
  const of = (one) =>
    `${formatCount(one.remaining, locale)} of ${formatCount(one.limit, locale)} tokens left`;
  const parts = [];
  if (budget.own) parts.push(`Yours: ${of(budget.own)}`);
  if (budget.global) parts.push(`Service-wide: ${of(budget.global)}`);
  return parts.join(" · ");
}

/**
 * Retry-After in seconds from now: delay-seconds or an HTTP date; null when absent or
 * unreadable.
 */
export function retryAfterSeconds(value, now) {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

/**
 * The note for a budget refusal, or null when `code` is not one.
 * @param {string} code the error code of the JSON body
 * @param {string|null} retryAfter the Retry-After header as sent
 * @param {Date} now
 * @param {{locale?: string, timeZone?: string}} [options]
 * @returns {string|null}
 */
export function refusalMessage(code, retryAfter, now, options = {}) {
  if (!BUDGET_CODES.includes(code)) return null;
  const wait = retryAfterSeconds(retryAfter, now);
  if (code === "budget_unavailable") {
    return "Token budgets cannot be checked right now, so no reply was started. Try again shortly.";
  }
  const what =
    code === "budget_exhausted"
      ? "You have used your token budget."
      : "The service as a whole has reached its token budget.";
  if (wait === null) return `${what} You can chat again once it resets.`;
  if (wait < 1) return `${what} You can chat again now.`;
  const clock = clockTime(wait, now, options);
  return `${what} You can chat again in ${waitInWords(wait)} (at ${clock}).`;
}
