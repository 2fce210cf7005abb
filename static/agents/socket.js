// A JSON websocket to this origin that reconnects with capped, jittered back-off.

const MAX_DELAY_MS = 15000;

export function socketUrl(path, location = window.location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

export function reconnectDelay(attempt, random = Math.random) {
  const base = Math.min(MAX_DELAY_MS, 500 * 2 ** attempt);
  return Math.round(base / 2 + (random() * base) / 2);
}

export function connectSocket(path, { onState, onFrame }) {
  let attempt = 0;
  let socket = null;

  function open() {
    onState("connecting");
    socket = new WebSocket(socketUrl(path));
    socket.addEventListener("open", () => {
      attempt = 0;
      onState("open");
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        console.warn("Ignored a frame that is not JSON.");
        return;
      }
      onFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      onState("closed");
      if (event.code === 4403) {
        // Not an agent any more (logged out elsewhere, deactivated): reload shows the login page.
        window.location.reload();
        return;
      }
      window.setTimeout(open, reconnectDelay(attempt++));
    });
  }

  open();
  return {
    send(frame) {
      if (socket?.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(frame));
      return true;
    },
  };
}
