// A JSON websocket that reconnects with capped, jittered back-off, and matches replies to
// requests by their "ref" (docs/PROTOCOL.md, Part 2).

import { sentence } from "./errors.js";
import { ERROR, frameProblems } from "./frames.js";

const MAX_DELAY_MS = 15000;
const REQUEST_TIMEOUT_MS = 15000;

export function socketUrl(base, path) {
  const url = new URL(path, base);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

export function reconnectDelay(attempt, random = Math.random) {
  const base = Math.min(MAX_DELAY_MS, 500 * 2 ** attempt);
  return Math.round(base / 2 + (random() * base) / 2);
}

// A refusal: its message is the plain sentence people read (errors.js); the server's detail,
// for developers, stays in `detail`.
export class ServerError extends Error {
  constructor(code, detail) {
    super(sentence(code));
    this.code = code;
    this.detail = detail;
  }
}

// CONTRACT is the socket's side of the frame contract (frames.js: WIDGET_FRAMES or AGENT_FRAMES);
// a frame from the server that does not fit it is dropped with a warning, never acted on.
// onOpen runs after each (re)connection, before queued requests are let through;
// onFrame gets every frame that is not a reply; onState gets "connecting", "open", "closed".
export class Socket {
  constructor(url, contract, { onOpen = async () => {}, onFrame = () => {}, onState = () => {}, onRefused = () => {} }) {
    this.url = url;
    this.contract = contract;
    this.onOpen = onOpen;
    this.onFrame = onFrame;
    this.onState = onState;
    this.onRefused = onRefused;
    this.attempt = 0;
    this.nextRef = 1;
    this.waiting = new Map();
    this.ready = false;
    this.stopped = false;
    this.open();
  }

  open() {
    this.onState("connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", async () => {
      this.attempt = 0;
      try {
        await this.onOpen();
        this.ready = true;
        this.onState("open");
      } catch (error) {
        console.warn(`Sealdesk: could not resume the connection: ${error.message}`);
        ws.close();
      }
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        console.warn("Sealdesk: ignored a frame that is not JSON.");
        return;
      }
      const wrong = frameProblems(this.contract, "server", frame, true);
      if (wrong.length) {
        console.warn(`Sealdesk: ignored a frame that breaks the protocol: ${wrong.join("; ")}`);
        return;
      }
      const waiter = frame.ref !== undefined && this.waiting.get(frame.ref);
      if (waiter) {
        this.waiting.delete(frame.ref);
        window.clearTimeout(waiter.timer);
        if (frame.type === ERROR) waiter.reject(new ServerError(frame.code, frame.detail));
        else waiter.resolve(frame);
        return;
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      this.ready = false;
      for (const waiter of this.waiting.values()) {
        window.clearTimeout(waiter.timer);
        waiter.reject(new ServerError("disconnected", "The connection dropped."));
      }
      this.waiting.clear();
      this.onState("closed");
      if (event.code === 4403 || event.code === 4404) {
        this.onRefused(event.code);
        return;
      }
      if (!this.stopped) window.setTimeout(() => this.open(), reconnectDelay(this.attempt++));
    });
  }

  get connected() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  send(frame) {
    if (!this.connected) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  request(frame) {
    if (!this.connected) return Promise.reject(new ServerError("disconnected", "Not connected."));
    const ref = this.nextRef++;
    return new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this.waiting.delete(ref);
        reject(new ServerError("timeout", "The server did not answer."));
      }, REQUEST_TIMEOUT_MS);
      this.waiting.set(ref, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...frame, ref }));
    });
  }

  stop() {
    this.stopped = true;
    this.ws?.close();
  }
}
