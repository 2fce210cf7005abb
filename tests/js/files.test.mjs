// Encrypted file transfers (static/sealdesk/files.js) against a server that plays tricks: an
// upload's id goes into this browser's authenticated requests, so a path from the server, or from
// another member's file message, must never become one.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { afterEach, test } from "node:test";

import { FileTransfer } from "../../static/sealdesk/files.js";

const VECTORS = JSON.parse(readFileSync(new URL("../vectors/protocol-v2.json", import.meta.url)));
const BASE = "https://desk.example/api/widget/wid_acme/uploads";
const PATH = "../../../dashboard/devices?x=";

let requests = [];
function serve(reply) {
  requests = [];
  globalThis.fetch = async (url, options = {}) => {
    requests.push(`${options.method ?? "GET"} ${url}`);
    return new Response(JSON.stringify(reply), { status: 201 });
  };
}
afterEach(() => {
  delete globalThis.fetch;
});

test("an upload the server names with a path is refused before any request goes there", async () => {
  serve({ type: "upload", upload: PATH, state: "uploading", received_parts: 0 });
  const transfer = new FileTransfer(BASE, () => ({ Authorization: "Bearer token" }));
  const view = { conversation: VECTORS.conversation, sendMessage: async () => assert.fail("announced") };
  await assert.rejects(transfer.upload(view, new Blob(["the contract, signed"])), (error) => error.code === "bad_upload");
  assert.deepEqual(requests, [`POST ${BASE}`]);
});

test("a file message whose id is a path is refused before any download", async () => {
  serve({});
  const transfer = new FileTransfer(BASE, () => ({ Authorization: "Bearer token" }));
  const announcement = { ...VECTORS.files.valid[0].plaintext, file: PATH };
  await assert.rejects(transfer.download(announcement), (error) => error.code === "malformed");
  assert.deepEqual(requests, []);
});
