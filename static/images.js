// streamchat images: what the page knows about images without a DOM (Node tests it:
// tests/node/images.test.mjs). Imported by attachments.js, controller.js, storage.js and
// message.js.
//
// An image attached to a user message is kept on the message, beside its text:
//   message.images = [{type, name, width, height, url, thumb}]
// `url` is the data: URL sent to the server, `thumb` a small data: URL drawn in the page.
// The text stays `message.content` (a string), so pages of older versions still read
// the conversation. localStorage holds a few megabytes: an image that does not fit is
// marked `lost: true` and its `url` is kept in this tab's memory only (a property JSON
// leaves out); after a reload it is gone, and the message says so (lostImages).
//
// What goes over the wire is the API's content parts (wireContent): Chat Completions
// `text` / `image_url`, the Responses API's `input_text` / `input_image`. A server that
// stores conversations would store those parts, or this shape with the images beside.

/** The formats the server takes, by the media type a data: URL declares. */
export const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif"];
/** Each image is downsized to at most this many pixels on its longer side. */
export const MAX_SIDE = 2048;
/** A thumbnail's longer side. */
export const THUMB_SIDE = 160;

/**
 * The image format that `head` (the first bytes of a file) begins with, whatever the
 * file is called; null for anything else.
 * @param {Uint8Array} head at least 12 bytes
 */
export function sniffImageType(head) {
  const starts = (bytes, at = 0) => bytes.every((b, i) => head[at + i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  if (starts([0xff, 0xd8, 0xff])) return "image/jpeg";
  if (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return "image/webp";
  if (starts([0x47, 0x49, 0x46, 0x38]) && (head[4] === 0x37 || head[4] === 0x39)) {
    return head[5] === 0x61 ? "image/gif" : null;
  }
  return null;
}

/** The media type a data: URL declares, or "". */
export function declaredType(url) {
  const match = /^data:([^;,]+);base64,/.exec(url.slice(0, 64));
  return match ? match[1].toLowerCase() : "";
}

/** The decoded size of a base64 data: URL, in bytes. */
export function dataUrlBytes(url) {
  const comma = url.indexOf(",");
  const encoded = url.length - comma - 1;
  const padding = url.endsWith("==") ? 2 : url.endsWith("=") ? 1 : 0;
  return Math.floor((encoded * 3) / 4) - padding;
}

/** The size to draw a `width` x `height` image at so its longer side is at most `side`. */
export function fitWithin(width, height, side) {
  const scale = Math.min(1, side / Math.max(width, height));
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
  };
}

/** The images of a message that can still be sent (lost ones have no url after a reload). */
export function sendableImages(message) {
  return (message.images || []).filter((image) => image.url);
}

/**
 * How many of a message's images are not kept in this browser: `gone` ones were lost
 * before this page loaded (they will not be sent again); `unsaved` ones this tab still
 * holds but could not store (gone after a reload).
 */
export function lostImages(message) {
  const lost = (message.images || []).filter((image) => image.lost);
  const unsaved = lost.filter((image) => image.url).length;
  return { gone: lost.length - unsaved, unsaved };
}

/**
 * A message's content as the API takes it: its text alone when it has no image to send,
 * else text and image parts in the shape of `api` ("chat" or "responses").
 */
export function wireContent(message, api) {
  const images = message.role === "user" ? sendableImages(message) : [];
  if (!images.length) return message.content;
  const parts = [];
  if (api === "responses") {
    if (message.content) parts.push({ type: "input_text", text: message.content });
    for (const image of images) parts.push({ type: "input_image", image_url: image.url });
  } else {
    if (message.content) parts.push({ type: "text", text: message.content });
    for (const image of images) parts.push({ type: "image_url", image_url: { url: image.url } });
  }
  return parts;
}

/**
 * Mark `image` as not kept in storage: `lost`, with its url kept for this tab only (not
 * enumerable, so JSON.stringify leaves it out and a stored copy has none).
 */
export function loseImage(image) {
  const { url } = image;
  delete image.url;
  image.lost = true;
  if (url) Object.defineProperty(image, "url", { value: url, enumerable: false, writable: true });
}

/**
 * The images that could still be given up to make the conversations fit in storage,
 * most recent first (conversations by `updated`, then their last messages first): what
 * was stored before stays, what came last and does not fit goes.
 * @returns {{conversation: object, image: object}[]}
 */
export function imagesToGiveUp(conversations) {
  const found = [];
  const recent = [...conversations].sort((a, b) => (b.updated || 0) - (a.updated || 0));
  for (const conversation of recent) {
    for (let m = conversation.messages.length - 1; m >= 0; m -= 1) {
      const images = conversation.messages[m].images || [];
      for (let i = images.length - 1; i >= 0; i -= 1) {
        if (!images[i].lost) found.push({ conversation, image: images[i] });
      }
    }
  }
  return found;
}

/** "1 image" / "2 images". */
export function imageCount(n) {
  return n === 1 ? "1 image" : `${n} images`;
}
