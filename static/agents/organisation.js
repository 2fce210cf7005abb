// The organisation page: make, restore and rotate the tenant's organisation key in this
// browser, and approve or revoke staff devices by signing their certificates here. The server's
// lists are shown, but every fingerprint is computed from the keys this page signs.
import "./catalogue.js";
import { el } from "../sealdesk/dom.js";
import { gettext } from "../sealdesk/i18n.js";
import { sentence } from "../sealdesk/errors.js";
import "../sealdesk/staff-errors.js"; // the sentences of the codes only staff meet
import { askingDevice, createOrgKey, keepOrgKey, keptOrgKey, keptSeed, openBackup, openShare, sealBackup, sealShare } from "../sealdesk/orgkey.js";
import { certify, deviceId, fingerprint, importOrgKey, orgKeyId, revokeDevice, rotateOrgKey } from "../sealdesk/protocol.js";

const $ = (id) => document.getElementById(id);
const root = $("organisation");
const csrfToken = root.querySelector("input[name=csrfmiddlewaretoken]").value;
const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const now = () => Math.floor(Date.now() / 1000);
const YEAR = 365 * 86_400;
const url = (path) => `${root.dataset.baseUrl}${path}`;

let state = null;
let org = null; // this browser's OrgKey, when it holds the tenant's current key

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
    body: JSON.stringify(body),
  });
  const reply = await response.json();
  if (!response.ok) throw new Error(sentence(reply.code));
  return reply;
}

function problem(text) {
  $("key-problem").hidden = !text;
  $("key-problem").textContent = text ?? "";
}

function download(name, data) {
  const link = el("a", { href: URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" })), download: name });
  document.body.append(link);
  link.click();
  link.remove();
}

const backupName = () => `sealdesk-organisation-key-${state.tenant.id}.json`;

async function load() {
  const response = await fetch(root.dataset.stateUrl, { headers: { Accept: "application/json" } });
  state = await response.json();
  const kept = await keptOrgKey(state.tenant.id).catch(() => null);
  org = kept && state.org && b64(kept.publicKey) === state.org.key ? kept : null;
  if (!org && state.org) await takeGivenKey();
  render();
}

// This browser asked for the key: open what a holder sealed to it, if anything.
async function takeGivenKey() {
  const mine = state.shares.find((ask) => ask.mine && ask.share);
  if (!mine) return;
  const me = await askingDevice(state.tenant.id);
  if (mine.box_public !== b64(me.boxPublic)) return; // asked from another of this admin's browsers
  try {
    const orgPublic = unb64(state.org.key);
    const seed = await openShare(state.tenant.id, orgPublic, me, mine.share);
    const kept = await importOrgKey(seed);
    await keepOrgKey(state.tenant.id, kept, seed);
    org = kept;
    $("ask-status").textContent = "";
  } catch (error) {
    problem(gettext("The key given to this browser was refused: {reason}", { reason: error.message }));
  }
}

function render() {
  const current = state.org;
  $("create-key").hidden = Boolean(current);
  $("restore-key").hidden = !current || Boolean(org);
  $("rotate-key").hidden = !org;
  $("ask-key").hidden = !current || Boolean(org);
  const asking = org ? state.shares.filter((ask) => !ask.shared) : [];
  $("asks").hidden = asking.length === 0;
  $("asks-list").replaceChildren(...asking.map(renderAsk));
  $("key-status").textContent = !current
    ? gettext("No organisation key.")
    : `${gettext("Organisation key {fingerprint}.", { fingerprint: fingerprint(orgKeyId(unb64(current.key))) })} ${org ? gettext("This browser holds it.") : gettext("This browser does not hold it.")}`;
  $("devices").replaceChildren(...state.devices.map(renderDevice));
  $("devices-empty").hidden = state.devices.length > 0;
}

function renderAsk(ask) {
  const id = deviceId(unb64(ask.sign_public), unb64(ask.box_public));
  return el(
    "li",
    {},
    el("span", { text: `${gettext("{person}'s browser, fingerprint", { person: ask.requested_by })} ` }),
    el("code", { text: fingerprint(id) }),
    el("button", { type: "button", text: gettext("Give the key to {person}'s browser", { person: ask.requested_by }), onclick: () => give(ask, id) }),
  );
}

async function give(ask, id) {
  problem(null);
  if (!window.confirm(gettext("Give the organisation key to {person}'s browser with fingerprint {fingerprint}? Only if that screen shows exactly this fingerprint.", { person: ask.requested_by, fingerprint: fingerprint(id) }))) return;
  try {
    const seed = await keptSeed(state.tenant.id);
    if (!seed) throw new Error(gettext("this browser keeps the key but not its seed: load it from the backup file first."));
    const recipient = { deviceId: id, boxPublic: unb64(ask.box_public) };
    const share = await sealShare(state.tenant.id, org.publicKey, seed, recipient);
    await post(url(`shares/${ask.id}/give`), { share });
  } catch (error) {
    problem(gettext("Not given: {reason}", { reason: error.message }));
  }
  await load();
}

let asking = 0;
$("ask-button").addEventListener("click", async () => {
  problem(null);
  try {
    const me = await askingDevice(state.tenant.id);
    await post(url("shares"), { sign_public: b64(me.signPublic), box_public: b64(me.boxPublic) });
    $("ask-status").textContent = gettext("Asked. This browser's fingerprint is {fingerprint}: an admin whose browser holds the key gives it on this page. This page checks every few seconds.", { fingerprint: fingerprint(me.deviceId) });
    asking ||= window.setInterval(async () => {
      await load();
      if (org) {
        window.clearInterval(asking);
        asking = 0;
      }
    }, 3000);
  } catch (error) {
    problem(gettext("Not asked: {reason}", { reason: error.message }));
  }
});

function renderDevice(device) {
  // The fingerprint of the keys a certificate would bind, not the server's word for it.
  const id = deviceId(unb64(device.sign_public), unb64(device.box_public));
  const honest = id === device.id;
  const status = device.revoked_at ? gettext("Revoked") : device.cert ? gettext("Approved") : gettext("Waiting for approval");
  const actions = el("td", {});
  if (org && honest && !device.revoked_at && !device.cert) {
    actions.append(el("button", { type: "button", class: "primary", text: gettext("Approve {person}'s device", { person: device.agent.name }), onclick: () => approve(device) }));
  }
  if (org && honest && !device.revoked_at && device.cert) {
    actions.append(el("button", { type: "button", text: gettext("Revoke {person}'s device", { person: device.agent.name }), onclick: () => revoke(device) }));
  }
  return el(
    "tr",
    {},
    el("td", { text: `${device.agent.name} (${device.agent.role})` }),
    el("td", { text: device.label || gettext("A browser") }),
    el("td", {}, el("code", { text: honest ? fingerprint(id) : gettext("These keys do not match the device's id: do not approve it.") })),
    el("td", { text: status }),
    actions,
  );
}

async function approve(device) {
  problem(null);
  // The rows come from the server: say exactly what is signed before signing it.
  const id = deviceId(unb64(device.sign_public), unb64(device.box_public));
  const what = { person: device.agent.name, role: device.agent.cert_role, fingerprint: fingerprint(id) };
  if (!window.confirm(gettext("Certify {person} as {role}, for the browser with fingerprint {fingerprint}? Approve only if that person's screen shows exactly this fingerprint.", what))) return;
  try {
    const cert = await certify(org, {
      tenant: state.tenant.id,
      person: device.agent.id,
      name: device.agent.name,
      role: device.agent.cert_role,
      device: { deviceId: device.id, signPublic: unb64(device.sign_public), boxPublic: unb64(device.box_public) },
      issued: now(),
      expires: now() + YEAR,
    });
    await post(url(`devices/${device.id}/certify`), { cert: cert.toJSON() });
  } catch (error) {
    problem(gettext("Not approved: {reason}", { reason: error.message }));
  }
  await load();
}

async function revoke(device) {
  problem(null);
  if (!window.confirm(gettext("Revoke {person}'s device? It will be left out of every conversation from now on.", { person: device.agent.name }))) return;
  try {
    const revocation = await revokeDevice(org, state.tenant.id, device.id, now());
    await post(url(`devices/${device.id}/revoke`), { revocation: revocation.toJSON() });
  } catch (error) {
    problem(gettext("Not revoked: {reason}", { reason: error.message }));
  }
  await load();
}

$("create-key").addEventListener("submit", async (event) => {
  event.preventDefault();
  problem(null);
  const passphrase = $("create-passphrase").value;
  if (passphrase !== $("create-confirm").value) {
    problem(gettext("The two passphrases differ."));
    return;
  }
  try {
    const made = await createOrgKey();
    download(backupName(), await sealBackup(state.tenant.id, made.seed, passphrase));
    await post(root.dataset.keyUrl, { public_key: b64(made.org.publicKey) });
    await keepOrgKey(state.tenant.id, made.org, made.seed);
  } catch (error) {
    problem(gettext("No key was made: {reason}", { reason: error.message }));
  }
  $("create-key").reset();
  await load();
});

$("restore-key").addEventListener("submit", async (event) => {
  event.preventDefault();
  problem(null);
  try {
    const file = $("restore-file").files[0];
    const opened = await openBackup(JSON.parse(await file.text()), $("restore-passphrase").value);
    if (opened.tenant !== state.tenant.id || b64(opened.publicKey) !== state.org.key) {
      throw new Error(gettext("this backup is not of this organisation's current key."));
    }
    await keepOrgKey(state.tenant.id, await importOrgKey(opened.seed), opened.seed);
  } catch (error) {
    problem(gettext("Not loaded: {reason}", { reason: error.message }));
  }
  $("restore-key").reset();
  await load();
});

$("rotate-key").addEventListener("submit", async (event) => {
  event.preventDefault();
  problem(null);
  try {
    const next = await createOrgKey();
    const backup = await sealBackup(state.tenant.id, next.seed, $("rotate-passphrase").value);
    const rotation = await rotateOrgKey(org, state.tenant.id, next.org.publicKey, now());
    download(backupName(), backup);
    await post(root.dataset.keyUrl, { public_key: b64(next.org.publicKey), rotation: rotation.toJSON() });
    await keepOrgKey(state.tenant.id, next.org, next.seed);
  } catch (error) {
    problem(gettext("Not rotated: {reason}", { reason: error.message }));
  }
  $("rotate-key").reset();
  await load();
});

load();
