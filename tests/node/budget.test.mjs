// The page's budget words (static/budget.js) under Node: the answer of GET /api/budget,
// the figure that binds, the line near the header, and the note a budget refusal gets
// (also through wire.js's errorText, as the page shows it). Times are pinned to UTC and
// locales to en-GB / de-DE, so the expected text does not depend on the machine.
// Run: node --test tests/node/budget.test.mjs
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  bindingFigure,
  budgetDetail,
  budgetLine,
  clockTime,
  formatCount,
  later,
  parseBudget,
  refusalMessage,
  remainingHeader,
  retryAfterSeconds,
  waitInWords,
  waitShort,
  withRemaining,
} from "../../static/budget.js";
import { errorText } from "../../static/wire.js";

const UTC = { locale: "en-GB", timeZone: "UTC" };
const NOW = new Date("2026-03-10T13:23:00Z");
const UNSET = {
  limit: null,
  used: null,
  remaining: null,
  resets_in_seconds: null,
  period_seconds: null,
};
const OWN = { limit: 300, used: 72, remaining: 228, resets_in_seconds: 3512, period_seconds: 3600 };
const GLOBAL = {
  limit: 1000,
  used: 500,
  remaining: 500,
  resets_in_seconds: 3000,
  period_seconds: 3600,
};

describe("parseBudget", () => {
  test("no budget at all is null: the page says nothing", () => {
    assert.equal(parseBudget(UNSET), null);
    assert.equal(parseBudget({}), null);
    assert.equal(parseBudget(null), null);
    assert.equal(parseBudget("300"), null);
  });

  test("the caller's own budget, in the page's names", () => {
    assert.deepEqual(parseBudget(OWN), {
      own: { limit: 300, used: 72, remaining: 228, resetsIn: 3512, period: 3600 },
      global: null,
    });
  });

  test("only a global budget: own is null, global is read", () => {
    const budget = parseBudget({ ...UNSET, global: GLOBAL });
    assert.equal(budget.own, null);
    assert.equal(budget.global.remaining, 500);
    assert.equal(budget.global.resetsIn, 3000);
  });

  test("an overshoot never shows as negative; a missing remaining is worked out", () => {
    assert.equal(parseBudget({ ...OWN, used: 360, remaining: -60 }).own.remaining, 0);
    assert.equal(parseBudget({ limit: 300, used: 72 }).own.remaining, 228);
    assert.equal(parseBudget({ limit: 300, used: 72 }).own.resetsIn, null);
  });
});

describe("bindingFigure", () => {
  test("the smaller figure binds; the caller's own on a tie", () => {
    assert.equal(bindingFigure(parseBudget({ ...OWN, global: GLOBAL })).scope, "own");
    const globalSmaller = { ...GLOBAL, remaining: 100, used: 900 };
    const figure = bindingFigure(parseBudget({ ...OWN, global: globalSmaller }));
    assert.deepEqual(figure, { scope: "global", remaining: 100, limit: 1000, resetsIn: 3000 });
    const tie = { ...GLOBAL, remaining: 228 };
    assert.equal(bindingFigure(parseBudget({ ...OWN, global: tie })).scope, "own");
    assert.equal(bindingFigure(null), null);
  });
});

describe("the line near the header", () => {
  test("own budget: what is left and when it resets", () => {
    assert.deepEqual(budgetLine(parseBudget(OWN), UTC), {
      left: "228 tokens left",
      resets: "resets in 59 min",
    });
  });

  test("a global budget that binds says so", () => {
    const budget = parseBudget({ ...OWN, remaining: 900, limit: 1000, global: { ...GLOBAL } });
    assert.deepEqual(budgetLine(budget, UTC), {
      left: "500 tokens left service-wide",
      resets: "resets in 50 min",
    });
  });

  test("thousands separators in the reader's locale", () => {
    const big = parseBudget({ limit: 100000, used: 87700, remaining: 12300 });
    assert.equal(budgetLine(big, { locale: "en-GB" }).left, "12,300 tokens left");
    assert.equal(budgetLine(big, { locale: "de-DE" }).left, "12.300 tokens left");
    assert.equal(budgetLine(big, UTC).resets, "", "no reset time known, none shown");
    assert.equal(formatCount(1000000, "en-GB"), "1,000,000");
  });

  test("nothing left, one left, no budget", () => {
    assert.equal(budgetLine(parseBudget({ ...OWN, remaining: 0 }), UTC).left, "No tokens left");
    assert.equal(budgetLine(parseBudget({ ...OWN, remaining: 1 }), UTC).left, "1 token left");
    assert.deepEqual(budgetLine(null), { left: "", resets: "" });
  });

  test("the tooltip gives both figures in full", () => {
    const budget = parseBudget({ ...OWN, global: GLOBAL });
    assert.equal(
      budgetDetail(budget, UTC),
      "Yours: 228 of 300 tokens left · Service-wide: 500 of 1,000 tokens left",
    );
    assert.equal(budgetDetail(null), "");
  });

  test("the reset counts down from the answer, never below zero", () => {
    const budget = parseBudget({ ...OWN, global: GLOBAL });
    const moved = later(budget, 600);
    assert.equal(moved.own.resetsIn, 2912);
    assert.equal(moved.global.resetsIn, 2400);
    assert.equal(later(budget, 99999).own.resetsIn, 0);
    assert.equal(later(budget, 0), budget);
    assert.equal(later(null, 5), null);
  });
});

describe("X-Token-Budget-Remaining", () => {
  test("read from the stream response's headers", () => {
    assert.equal(remainingHeader(new Headers({ "X-Token-Budget-Remaining": "228" })), 228);
    assert.equal(remainingHeader(new Headers()), null);
    assert.equal(remainingHeader(new Headers({ "X-Token-Budget-Remaining": "-3" })), null);
    assert.equal(remainingHeader(new Headers({ "X-Token-Budget-Remaining": "lots" })), null);
  });

  test("lowers the binding figure, never raises it", () => {
    const budget = parseBudget(OWN);
    assert.equal(withRemaining(budget, 156).own.remaining, 156);
    assert.equal(withRemaining(budget, 156).own.used, 144);
    assert.equal(withRemaining(budget, 290), budget, "an older figure than the one shown");
    const both = parseBudget({ ...OWN, global: { ...GLOBAL, remaining: 100 } });
    const after = withRemaining(both, 40);
    assert.equal(after.global.remaining, 40);
    assert.equal(after.own.remaining, 228, "the header is the smaller figure: the global one");
    assert.equal(withRemaining(null, 5), null);
  });
});

describe("waits in words", () => {
  test("for a sentence: seconds, then minutes rounded up, hours, days", () => {
    assert.equal(waitInWords(1), "1 second");
    assert.equal(waitInWords(45), "45 seconds");
    assert.equal(waitInWords(60), "1 minute");
    assert.equal(waitInWords(2501), "42 minutes");
    assert.equal(waitInWords(3600), "1 hour");
    assert.equal(waitInWords(3601), "1 hour 1 minute");
    assert.equal(waitInWords(3599), "1 hour", "59 min 59 s rounds up to the hour");
    assert.equal(waitInWords(7500), "2 hours 5 minutes");
    assert.equal(waitInWords(3 * 86400 + 4 * 3600), "3 days 4 hours");
    assert.equal(waitInWords(2 * 86400), "2 days");
  });

  test("short, for the header", () => {
    assert.equal(waitShort(30), "under a minute");
    assert.equal(waitShort(3512), "59 min");
    assert.equal(waitShort(7500), "2 h 5 min");
    assert.equal(waitShort(7200), "2 h");
    assert.equal(waitShort(3 * 86400 + 4 * 3600), "3 d 4 h");
  });

  test("the clock time, with the weekday when it is not today", () => {
    assert.equal(clockTime(2520, NOW, UTC), "14:05");
    assert.equal(clockTime(86400, NOW, UTC), "Wed 13:23");
    assert.match(clockTime(2520, NOW, { locale: "en-US", timeZone: "UTC" }), /^2:05\sPM$/);
  });

  test("Retry-After as seconds or as an HTTP date", () => {
    assert.equal(retryAfterSeconds("2520", NOW), 2520);
    assert.equal(retryAfterSeconds("Tue, 10 Mar 2026 14:05:00 GMT", NOW), 2520);
    assert.equal(retryAfterSeconds("Tue, 10 Mar 2026 13:00:00 GMT", NOW), 0);
    assert.equal(retryAfterSeconds(null, NOW), null);
    assert.equal(retryAfterSeconds("soon", NOW), null);
  });
});

describe("refusal notes", () => {
  test("own budget used up: when to come back, in minutes and on the clock", () => {
    assert.equal(
      refusalMessage("budget_exhausted", "2520", NOW, UTC),
      "You have used your token budget. You can chat again in 42 minutes (at 14:05).",
    );
  });

  test("the deployment's budget used up says so, with the same timing", () => {
    assert.equal(
      refusalMessage("global_budget_exhausted", "2520", NOW, UTC),
      "The service as a whole has reached its token budget. " +
        "You can chat again in 42 minutes (at 14:05).",
    );
  });

  test("the budget store unreachable: try again shortly", () => {
    const note = refusalMessage("budget_unavailable", "5", NOW, UTC);
    assert.match(note, /cannot be checked right now/);
    assert.match(note, /Try again shortly\.$/);
  });

  test("without a usable Retry-After, no made-up time", () => {
    assert.equal(
      refusalMessage("budget_exhausted", null, NOW, UTC),
      "You have used your token budget. You can chat again once it resets.",
    );
    assert.equal(
      refusalMessage("budget_exhausted", "0", NOW, UTC),
      "You have used your token budget. You can chat again now.",
    );
  });

  test("any other code is not a budget refusal", () => {
    assert.equal(refusalMessage("rate_limited", "30", NOW, UTC), null);
    assert.equal(refusalMessage(undefined, null, NOW, UTC), null);
  });
});

describe("errorText for a budget refusal", () => {
  const refusal = (status, code, headers = { "Retry-After": "2520" }) =>
    new Response(
      JSON.stringify({
        error: { message: "The server's own words.", type: "rate_limit_error", code },
      }),
      { status, headers: { "Content-Type": "application/json", ...headers } },
    );

  test("the page's words, with the wait from Retry-After, replace the server's", async () => {
    const note = await errorText(refusal(429, "budget_exhausted"), NOW);
    assert.match(note, /^You have used your token budget\. You can chat again in 42 minutes \(at /);
    const global = await errorText(refusal(429, "global_budget_exhausted"), NOW);
    assert.match(global, /^The service as a whole has reached its token budget\./);
    const store = await errorText(refusal(503, "budget_unavailable", { "Retry-After": "5" }), NOW);
    assert.match(store, /Try again shortly\.$/);
  });

  test("other refusals keep the server's message", async () => {
    assert.equal(await errorText(refusal(429, "rate_limited"), NOW), "The server's own words.");
  });
});
