// Encrypted file transfers (static/sealdesk/files.js) against a server that plays tricks: an
// upload's id goes into this browser's authenticated requests, so a path from the server, or from
// another member's file message, must never become one.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { afterEach, test } from "node:test";

import { FileTransfer, IN_FLIGHT } from "../../static/sealdesk/files.js";

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

/** A server that keeps parts in memory, answers them after uneven delays, and counts how many
 * requests it has in hand at once. The answer to the first PUT of part 1 is lost on the way
 * back (the part is stored), as when a connection drops. */
function partServer({ refuse = null } = {}) {
  const server = { parts: new Map(), puts: [], busy: 0, most: 0, completed: false, lostOnce: false, log: [] };
  const UPLOAD = "0f0e0d0c-0b0a-4908-8706-050403020100";
  const reply = (body, status) => new Response(body === null ? null : JSON.stringify(body), { status });
  globalThis.fetch = async (url, options = {}) => {
    const method = options.method ?? "GET";
    const path = url.slice(BASE.length);
    server.busy++;
    server.most = Math.max(server.most, server.busy);
    try {
      await new Promise((resolve) => setTimeout(resolve, path.includes("/parts/") ? 60 + Math.random() * 60 : 5));
      if (method === "POST" && path === "") return reply({ type: "upload", upload: UPLOAD }, 201);
      const part = path.match(/^\/[^/]+\/parts\/(\d+)$/);
      if (method === "DELETE") {
        server.log.push("DELETE");
        return reply(null, 204);
      }
      if (part && method === "PUT" && Number(part[1]) === refuse) {
        server.log.push(`refused ${refuse}`);
        return reply({ type: "error", code: "invalid_part", detail: "no" }, 400);
      }
      if (part && method === "PUT") {
        const index = Number(part[1]);
        server.puts.push(index);
        server.log.push(`stored ${index}`);
        if (server.parts.has(index)) return reply({ type: "error", code: "part_exists", detail: "in" }, 409);
        server.parts.set(index, new Uint8Array(options.body));
        if (index === 1 && !server.lostOnce) {
          server.lostOnce = true;
          throw new TypeError("Failed to fetch");
        }
        return reply(null, 204);
      }
      if (part && method === "GET") return new Response(server.parts.get(Number(part[1])), { status: 200 });
      if (path.endsWith("/complete")) {
        server.completed = server.parts.size;
        return reply({ type: "upload", state: "complete" }, 200);
      }
      return reply({ type: "error", code: "not_found", detail: "no" }, 404);
    } finally {
      server.busy--;
    }
  };
  return server;
}

test("parts travel a few at a time each way, a lost answer is resent once, and the file comes back whole", async () => {
  const server = partServer();
  const transfer = new FileTransfer(BASE, () => ({ Authorization: "Bearer token" }));
  const data = new Uint8Array(4 * 4194304 + 1234);
  for (let at = 0; at < data.length; at += 65536) crypto.getRandomValues(data.subarray(at, at + 65536));
  let announced = null;
  const view = { conversation: VECTORS.conversation, sendMessage: async (message) => (announced = message) };
  const progress = [];
  await transfer.upload(view, new File([data], "contract.pdf", { type: "application/pdf" }), { onProgress: (done) => progress.push(done) });
  assert.equal(server.completed, 5, "complete came after every part was in");
  assert.deepEqual([...server.parts.keys()].sort(), [0, 1, 2, 3, 4]);
  assert.equal(server.puts.filter((index) => index === 1).length, 2, "part 1 went again after its lost answer");
  assert.ok(server.most > 1 && server.most <= IN_FLIGHT, `${server.most} requests at once`);
  assert.equal(progress.at(-1), 1);
  assert.equal(announced.chunks, "5");

  server.most = 0;
  const blob = await transfer.download(announced);
  assert.ok(server.most > 1 && server.most <= IN_FLIGHT, `${server.most} requests at once`);
  assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), data);
});

test("a refused part cancels the upload only once the parts still on their way have landed", async () => {
  const server = partServer({ refuse: 0 });
  server.lostOnce = true; // no lost answer in this one
  const transfer = new FileTransfer(BASE, () => ({ Authorization: "Bearer token" }));
  const data = new Uint8Array(3 * 4194304 + 10);
  const view = { conversation: VECTORS.conversation, sendMessage: async () => assert.fail("announced") };
  await assert.rejects(transfer.upload(view, new File([data], "a.bin")), (error) => error.code === "invalid_part");
  assert.equal(server.log.at(-1), "DELETE", server.log.join(", "));
  assert.ok(server.log.filter((entry) => entry.startsWith("stored")).length >= 1, server.log.join(", "));
  assert.equal(server.completed, false);
});

test("a server's Retry-After shows as its number only, never as words in the page's voice", async () => {
  // A malicious server refuses an upload and writes its own sentence into the header.
  const lies = ["30 s. Your chat moved: call +1 555 0100 to go on", "soon; send your card number to resume", "Infinity"];
  for (const retryAfter of lies) {
    globalThis.fetch = async () => new Response(JSON.stringify({ code: "rate_limited", detail: "x" }), { status: 429, headers: { "Retry-After": retryAfter } });
    const transfer = new FileTransfer(BASE, () => ({ Authorization: "Bearer token" }));
    const view = { conversation: VECTORS.conversation, sendMessage: async () => assert.fail("announced") };
    await assert.rejects(transfer.upload(view, new Blob(["the contract, signed"])), (error) => {
      assert.equal(error.code, "rate_limited");
      assert.match(error.message, /^This is busy just now\. Try again (in \d+ s|soon)\.$/);
      assert.doesNotMatch(error.message, /call|card|Infinity/);
      return true;
    });
  }
});
