// The agent dashboard: presence switch and the agent socket (docs/PROTOCOL.md, "Agent socket").
import { connectSocket } from "./socket.js";

const form = document.getElementById("presence-form");
const connection = document.getElementById("connection");

const CONNECTION_TEXT = {
  connecting: "Connecting…",
  open: "Connected",
  closed: "Offline: reconnecting…",
};

function showPresence(presence) {
  form.dataset.presence = presence;
  for (const button of form.querySelectorAll("button[name=presence]")) {
    button.setAttribute("aria-pressed", String(button.value === presence));
  }
}

function showConnection(state) {
  connection.dataset.state = state;
  connection.textContent = CONNECTION_TEXT[state];
}

async function submitPresence(presence) {
  const body = new FormData(form);
  body.set("presence", presence);
  const response = await fetch(form.action, {
    method: "POST",
    body,
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  });
  const reply = await response.json();
  if (!response.ok) {
    throw new Error(reply.detail || `Status change failed (${response.status}).`);
  }
  showPresence(reply.presence);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const presence = event.submitter?.value;
  if (!presence) return;
  const previous = form.dataset.presence;
  showPresence(presence);
  submitPresence(presence).catch((error) => {
    showPresence(previous);
    window.alert(error.message);
  });
});

connectSocket(document.querySelector(".dashboard").dataset.socketPath, {
  onState: showConnection,
  onFrame(frame) {
    if (frame.type === "hello" || frame.type === "presence") {
      showPresence(frame.presence);
    } else if (frame.type === "error") {
      console.warn(`Server refused a frame: ${frame.code}: ${frame.detail}`);
    }
  },
});
