// streamchat importer: the conversations this browser kept in localStorage, moved to the
// server once the person signs in (docs/api.md, "Conversations").
//
// Each is made there (POST /api/conversations with its title and model) and its messages
// stored as turns (POST /api/conversations/<id>/messages); one the server has already
// under its id (kept here because a turn could not be stored) gets its messages stored
// there instead. Each one stored is then removed from this browser. "Not now" is
// remembered per user, by conversation id, so the offer comes back only for
// conversations kept since. No DOM here: Node tests it (tests/node/server.test.mjs).
// Used by import_offer.js.

import { importable } from "./server_api.js";

/** The localStorage key of the conversations a user said "Not now" to. */
export function dismissedKey(user) {
  return `streamchat:import-dismissed:${user}`;
}

/** The ids a user said "Not now" to in this browser. */
export function dismissedIds(storage, user) {
  try {
    const ids = JSON.parse(storage.getItem(dismissedKey(user)) || "[]");
    return new Set(Array.isArray(ids) ? ids.filter((id) => typeof id === "string") : []);
  } catch {
    return new Set();
  }
}

/** Remember "Not now" for these conversations. */
export function dismiss(storage, user, conversations) {
  const ids = dismissedIds(storage, user);
  for (const c of conversations) ids.add(c.id);
  try {
    storage.setItem(dismissedKey(user), JSON.stringify([...ids]));
  } catch {
    // Not remembered: the offer comes again on the next load.
  }
}

/**
 * The conversations kept in this browser that are worth offering: with something said,
 * and not declined.
 * @param {import("./storage.js").ConversationStore} local loaded
 * @param {Set<string>} declined
 */
export function candidates(local, declined) {
  return local.conversations.filter(
    (c) => !declined.has(c.id) && importable(c.messages).length > 0,
  );
}

/**
 * Move `conversations` from `local` to the server, one after another; each one stored
 * is removed from `local` (saved once at the end). Stops at the first failure that says
 * the server or its database cannot be reached: the rest stay here.
 * @param {import("./server_api.js").ServerApi} api
 * @param {import("./storage.js").ConversationStore} local
 * @param {object[]} conversations some of local.conversations
 * @returns {Promise<{imported: number, failed: number, unavailable: boolean, message?: string}>}
 */
export async function importConversations(api, local, conversations) {
  const outcome = { imported: 0, failed: 0, unavailable: false };
  for (const conversation of conversations) {
    try {
      await importOne(api, conversation);
      local.remove(conversation.id);
      outcome.imported += 1;
    } catch (error) {
      outcome.message = error.message;
      if (error.unavailable) {
        outcome.unavailable = true;
        break;
      }
      outcome.failed += 1; // too long for the server's limits, say: it stays here
    }
  }
  if (outcome.imported) local.save();
  return outcome;
}

async function importOne(api, conversation) {
  const messages = importable(conversation.messages);
  if (conversation.server) {
    try {
      return await api.storeMessages(conversation.id, messages);
    } catch (error) {
      if (error.status !== 404) throw error; // else deleted there since: made anew
    }
  }
  const made = await api.create(conversation.title || "", conversation.model || "");
  try {
    return await api.storeMessages(made.id, messages);
  } catch (error) {
    // Not half imported: an empty copy there and the real one here would be two.
    await api.remove(made.id).catch(() => {});
    throw error;
  }
}
