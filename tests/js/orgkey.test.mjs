// The organisation key's backup file and its sealing to another admin's browser
// (static/sealdesk/orgkey.js): what opens, and what is refused in words.
import assert from "node:assert/strict";
import { test } from "node:test";

import { openBackup, openShare, sealBackup, sealShare } from "../../static/sealdesk/orgkey.js";
import { generateDevice, importOrgKey } from "../../static/sealdesk/protocol.js";

const TENANT = "wid_acme";
const PASSPHRASE = "correct horse battery staple";
const seedOf = (byte) => new Uint8Array(32).fill(byte);

test("a backup opens with its passphrase only, and only as the key it names", async () => {
  const seed = seedOf(5);
  const backup = await sealBackup(TENANT, seed, PASSPHRASE, { iterations: 100_000 });
  assert.equal(JSON.stringify(backup).includes(Buffer.from(seed).toString("base64")), false);
  const opened = await openBackup(backup, PASSPHRASE);
  assert.deepEqual([opened.tenant, opened.seed], [TENANT, seed]);
  assert.deepEqual(opened.publicKey, (await importOrgKey(seed)).publicKey);
  await assert.rejects(openBackup(backup, "not the passphrase"), /does not open/);
  const other = await sealBackup(TENANT, seedOf(6), PASSPHRASE, { iterations: 100_000 });
  await assert.rejects(openBackup({ ...backup, public_key: other.public_key }, PASSPHRASE), /does not open|damaged/);
  await assert.rejects(openBackup({ ...backup, tenant: "wid_globex" }, PASSPHRASE), /does not open|damaged/);
  await assert.rejects(openBackup({ ...backup, kdf: { ...backup.kdf, iterations: 1 } }, PASSPHRASE), /not a Sealdesk/);
  await assert.rejects(sealBackup(TENANT, seed, "too short"), /at least 12/);
});

test("a key sealed to an asking browser opens there only, and only as the organisation's key", async () => {
  const org = await importOrgKey(seedOf(5));
  const asking = await generateDevice();
  const share = await sealShare(TENANT, org.publicKey, seedOf(5), asking);
  assert.deepEqual(await openShare(TENANT, org.publicKey, asking, share), seedOf(5));
  // Another browser (the server's, say) cannot open it; a seed of another key is refused.
  const other = await generateDevice();
  await assert.rejects(openShare(TENANT, org.publicKey, other, share), /does not open/);
  const wrongKey = await sealShare(TENANT, org.publicKey, seedOf(6), asking);
  await assert.rejects(openShare(TENANT, org.publicKey, asking, wrongKey), /not this organisation's/);
  await assert.rejects(openShare("wid_globex", org.publicKey, asking, share), /does not open/);
});
