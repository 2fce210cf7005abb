// Encrypted files, shared by the widget and the dashboard: encrypt and upload a file chunk by
// chunk, announce it in the conversation, and download, verify and decrypt it again
// (docs/PROTOCOL.md, "Files" and "Encrypted file uploads"). IN_FLIGHT parts travel at once each
// way, so that neither side waits for the other; memory stays bounded by those few chunks: the
// file is read in slices, and the decrypted chunks go into a Blob, which the browser keeps out of
// the page's memory.

import { FileDecryptor, FileEncryptor, isFileId } from "./protocol.js";
import { sentence } from "./errors.js";
import { gettext } from "./i18n.js";

const RETRIES = 5;
export const IN_FLIGHT = 3;

// What this page says itself (a cancelled transfer, a dropped connection) is its own sentence;
// a refusal of the server's reads as errors.js says.
const OWN = new Set(["cancelled", "network", "bad_upload"]);

export class TransferError extends Error {
  constructor(code, detail, retryAfter) {
    super(OWN.has(code) ? detail : sentence(code, retryAfter));
    this.detail = detail;
    this.code = code;
  }
}

export class FileTransfer {
  // base: the uploads API URL; headers(): the headers that authenticate this client.
  constructor(base, headers) {
    this.base = base.replace(/\/$/, "");
    this.headers = headers;
  }

  async call(path, options = {}) {
    const response = await fetch(`${this.base}${path}`, {
      credentials: "same-origin",
      ...options,
      headers: { ...this.headers(), ...(options.headers || {}) },
    });
    if (!response.ok) {
      const reply = await response.json().catch(() => ({ code: "http_error", detail: `The server answered ${response.status}.` }));
      throw new TransferError(reply.code, reply.detail, response.headers.get("Retry-After"));
    }
    return response;
  }

  /** Encrypt FILE, upload it and announce it in VIEW's conversation; report progress 0..1. */
  async upload(view, file, { onProgress = () => {}, signal = null } = {}) {
    const encryptor = new FileEncryptor(file.size);
    const json = { "Content-Type": "application/json" };
    const started = await this.call("", {
      method: "POST",
      headers: json,
      // Each part is its chunk and a 16-byte tag.
      body: JSON.stringify({ conversation: view.conversation, size: file.size + 16 * encryptor.chunks, parts: encryptor.chunks }),
    });
    const upload = (await started.json()).upload;
    // The id goes into this client's authenticated requests: a path from the server must not.
    if (!isFileId(upload)) throw new TransferError("bad_upload", gettext("The server named the upload wrongly."));
    // Chunks are sealed in order (the file's hash follows them); their parts travel IN_FLIGHT at a
    // time and may arrive in any order.
    const sending = [];
    try {
      for (let index = 0; index < encryptor.chunks; index++) {
        if (signal?.aborted) throw new TransferError("cancelled", gettext("The upload was cancelled."));
        const start = index * encryptor.chunkSize;
        const data = new Uint8Array(await file.slice(start, start + encryptor.chunkSize).arrayBuffer());
        const put = this.putPart(upload, index, await encryptor.encrypt(index, data));
        put.catch(() => {}); // awaited in its turn; not unhandled if an earlier part fails
        sending.push(put);
        if (sending.length >= IN_FLIGHT) await sending.shift();
        onProgress(index / encryptor.chunks);
      }
      await Promise.all(sending);
      onProgress(1);
      await this.call(`/${upload}/complete`, { method: "POST", headers: json, body: JSON.stringify({ hash: await encryptor.hash() }) });
    } catch (error) {
      await Promise.allSettled(sending); // parts still on their way would find no upload
      await this.call(`/${upload}`, { method: "DELETE" }).catch(() => {});
      throw error;
    }
    const announcement = await encryptor.announcement(upload, file.name, file.type || "application/octet-stream");
    await view.sendMessage(announcement);
    return announcement;
  }

  // A dropped connection sends the part again: if it had arrived after all, the server says
  // part_exists, and it is in.
  async putPart(upload, index, part) {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.call(`/${upload}/parts/${index}`, { method: "PUT", headers: { "Content-Type": "application/octet-stream" }, body: part });
        return;
      } catch (error) {
        if (error.code === "part_exists" && attempt > 1) return;
        if (error.code && error.code !== "http_error") throw error;
        if (attempt >= RETRIES) throw new TransferError("network", gettext("The connection dropped; the upload stopped."));
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      }
    }
  }

  /** Download, verify and decrypt an announced file; return it as a Blob of its type. */
  async download(announcement, { onProgress = () => {}, signal = null } = {}) {
    const decryptor = new FileDecryptor(announcement); // refuses a file id that is not one
    let blob = new Blob([], { type: announcement.mime });
    const chunks = Number(announcement.chunks);
    // IN_FLIGHT parts are asked for ahead; they are opened in order as they come.
    const ahead = [];
    let asked = 0;
    for (let index = 0; index < chunks; index++) {
      if (signal?.aborted) throw new TransferError("cancelled", gettext("The download was cancelled."));
      while (asked < chunks && ahead.length < IN_FLIGHT) {
        const fetching = this.call(`/${announcement.file}/parts/${asked++}`).then((response) => response.arrayBuffer());
        fetching.catch(() => {}); // as above
        ahead.push(fetching);
      }
      const part = new Uint8Array(await ahead.shift());
      blob = new Blob([blob, await decryptor.decrypt(index, part)], { type: announcement.mime });
      onProgress((index + 1) / chunks);
    }
    await decryptor.finish();
    return blob;
  }
}

/** Return a size as people read it. */
export function humanSize(bytes) {
  let value = Number(bytes);
  let unit = 0;
  for (; value >= 1000 && unit < 3; unit++) value /= 1000;
  return `${unit ? value.toFixed(1) : value} ${["bytes", "KB", "MB", "GB"][unit]}`;
}

/** Save a Blob under NAME through a temporary link. */
export function saveBlob(blob, name, parent) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  parent.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
