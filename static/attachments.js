// streamchat attachments: the images attached to the next message, before it is sent.
//
// Attached with the Attach button (a file chooser), by pasting into the message box, or
// by dropping files on the composer; PNG, JPEG, WebP and GIF, at most
// MAX_IMAGES_PER_MESSAGE (the template's data-max-images). Each is downsized in a canvas
// to at most 2048 px on its longer side (re-encoded as JPEG if still over
// MAX_IMAGE_BYTES) and gets a small thumbnail; what images.js describes is what a message
// keeps. The pending ones show as thumbnails above the message box; each is focusable,
// and Delete, Backspace or Escape on it (or its × button) removes it.
// Created by chat.js; controls.js takes the pending images when a message is sent.

import {
  MAX_SIDE,
  THUMB_SIDE,
  dataUrlBytes,
  declaredType,
  fitWithin,
  imageCount,
  sniffImageType,
} from "./images.js";

const REMOVE_KEYS = new Set(["Backspace", "Delete", "Escape"]);

/** `image` drawn at `size` and encoded as `type` (a data: URL). */
function draw(bitmap, size, type, quality) {
  const canvas = document.createElement("canvas");
  canvas.width = size.width;
  canvas.height = size.height;
  const context = canvas.getContext("2d");
  if (type === "image/jpeg") {
    // JPEG has no transparency: what was transparent becomes white, not black.
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, size.width, size.height);
  }
  context.drawImage(bitmap, 0, 0, size.width, size.height);
  return canvas.toDataURL(type, quality);
}

/** The file's own bytes as a data: URL declaring `type` (what its bytes are). */
function fileDataUrl(file, type) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      resolve(`data:${type};base64,${url.slice(url.indexOf(",") + 1)}`);
    };
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/**
 * An image as a message keeps it (images.js), from a file; rejects with words for the
 * user when it is not an image the server takes or is too large even downsized.
 */
export async function prepareImage(file, maxBytes) {
  const name = file.name || "Pasted image";
  const type = sniffImageType(new Uint8Array(await file.slice(0, 16).arrayBuffer()));
  if (!type) throw new Error(`${name} is not a PNG, JPEG, WebP or GIF image.`);
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(`${name} could not be read as an image.`);
  }
  try {
    const size = fitWithin(bitmap.width, bitmap.height, MAX_SIDE);
    let url;
    if (size.width === bitmap.width && file.size <= maxBytes) {
      url = await fileDataUrl(file, type); // as it is: a GIF keeps its animation
    } else {
      // Canvases encode PNG, JPEG and WebP; a GIF too large becomes a PNG.
      url = draw(bitmap, size, type === "image/gif" ? "image/png" : type, 0.9);
      if (dataUrlBytes(url) > maxBytes) url = draw(bitmap, size, "image/jpeg", 0.85);
    }
    if (dataUrlBytes(url) > maxBytes) throw new Error(`${name} is too large, even downsized.`);
    const thumbSize = fitWithin(bitmap.width, bitmap.height, THUMB_SIDE);
    const thumb = draw(bitmap, thumbSize, "image/webp", 0.8);
    return { type: declaredType(url), name, width: size.width, height: size.height, url, thumb };
  } finally {
    bitmap.close();
  }
}

export class Attachments {
  /**
   * @param {{config: {maxImages: number, maxImageBytes: number},
   *   view: import("./view.js").View}} deps
   */
  constructor({ config, view }) {
    this.max = config.maxImages;
    this.maxBytes = config.maxImageBytes;
    this.view = view;
    /** @type {object[]} the images to send with the next message */
    this.pending = [];
    this.preparing = 0;
    this.queue = Promise.resolve(); // files are prepared one after another, in order
    const $ = (id) => document.getElementById(id);
    this.els = { list: $("pending-images"), button: $("attach"), input: $("attach-input") };
  }

  /** Attach `files` (those that are images, up to the limit); says why one is not. */
  add(files) {
    const images = [...files].filter((file) => !file.type || file.type.startsWith("image/"));
    for (const file of images) {
      if (this.pending.length + this.preparing >= this.max) {
        this.view.noteStatus(`At most ${imageCount(this.max)} per message.`);
        break;
      }
      this.preparing += 1;
      this.queue = this.queue.then(async () => {
        try {
          this.pending.push(await prepareImage(file, this.maxBytes));
          this.render();
        } catch (error) {
          this.view.noteStatus(error.message);
        } finally {
          this.preparing -= 1;
        }
      });
    }
    return this.queue;
  }

  /** Resolves once every file attached so far is ready (or refused). */
  settled() {
    return this.queue;
  }

  /** The pending images, handed over to a message being sent: none are pending after. */
  take() {
    const images = this.pending;
    this.pending = [];
    this.render();
    return images;
  }

  /** Remove pending image `index`; the focus goes to the next one, else the message box. */
  remove(index) {
    this.pending.splice(index, 1);
    this.render();
    const items = this.els.list.querySelectorAll(".pending-image");
    (items[Math.min(index, items.length - 1)] || this.view.els.prompt).focus();
  }

  render() {
    const { list } = this.els;
    list.hidden = this.pending.length === 0;
    list.replaceChildren(
      ...this.pending.map((image, index) => {
        const item = document.createElement("li");
        item.className = "pending-image";
        item.tabIndex = 0;
        item.dataset.index = String(index);
        item.setAttribute(
          "aria-label",
          `${image.name}, ${image.width} by ${image.height} pixels. ` +
            "Delete, Backspace or Escape removes it.",
        );
        const thumb = document.createElement("img");
        thumb.src = image.thumb;
        thumb.alt = "";
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "remove-image";
        remove.textContent = "×";
        remove.setAttribute("aria-label", `Remove ${image.name}`);
        item.append(thumb, remove);
        return item;
      }),
    );
  }

  /** Attach the listeners: the button and its chooser, the pending list, paste, drop. */
  wire(dropZone) {
    const { list, button, input } = this.els;
    if (!button || this.max < 1) return;
    button.addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      this.add(input.files);
      input.value = ""; // choosing the same file again is a change too
    });
    list.addEventListener("click", (event) => {
      const remove = event.target.closest(".remove-image");
      if (remove) this.remove(Number(remove.closest(".pending-image").dataset.index));
    });
    list.addEventListener("keydown", (event) => {
      const item = event.target.closest(".pending-image");
      if (!item || !REMOVE_KEYS.has(event.key)) return;
      // Not the page's Escape too: that would stop a reply or close the drawer.
      event.preventDefault();
      event.stopPropagation();
      this.remove(Number(item.dataset.index));
    });
    this.view.els.prompt.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData ? event.clipboardData.files : [])];
      if (!files.some((file) => file.type.startsWith("image/"))) return; // text: as usual
      event.preventDefault();
      this.add(files);
    });
    const carriesFiles = (event) =>
      event.dataTransfer && [...event.dataTransfer.types].includes("Files");
    dropZone.addEventListener("dragover", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      dropZone.classList.add("dropping");
    });
    dropZone.addEventListener("dragleave", () => dropZone.classList.remove("dropping"));
    dropZone.addEventListener("drop", (event) => {
      dropZone.classList.remove("dropping");
      if (!carriesFiles(event)) return;
      event.preventDefault();
      this.add(event.dataTransfer.files);
    });
  }
}
