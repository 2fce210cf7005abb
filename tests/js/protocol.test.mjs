// The end-to-end encryption protocol v2 in JavaScript: every shared vector, then round trips, once
// with WebCrypto keys and once with tweetnacl's (tests/test_protocol.py checks the same vectors).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

import * as p from "../../static/sealdesk/protocol.js";

const VECTORS = JSON.parse(readFileSync(new URL("../vectors/protocol-v2.json", import.meta.url)));
const { tenant: TENANT, conversation: CONVERSATION, epochs: EPOCHS, wraps: WRAPS } = VECTORS;
const MESSAGES = VECTORS.messages;
const STAFF = VECTORS.staff;
const FILES = VECTORS.files;
const CERTS = VECTORS.certificates;
const OTHER_CONVERSATION = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a";
const FILE_ID = "5f0c2a4e-8b3d-4c5e-9f60-7a8b9c0d1e2f"; // an upload's id

const bytes = (value) => Uint8Array.from(Buffer.from(value, "base64"));
const b64 = (value) => Buffer.from(value).toString("base64");

function device(name) {
  const keys = VECTORS.devices[name];
  return p.importDevice({ signSeed: bytes(keys.sign_seed), boxSecret: bytes(keys.box_secret) });
}

const chain = () => EPOCHS.valid.map((epoch) => p.EpochRecord.fromJSON(epoch.record));

async function receiver(name, epochs = 3) {
  const state = new p.ConversationState(TENANT, CONVERSATION, await device(name), EPOCHS.customer);
  for (const record of chain().slice(0, epochs)) await state.acceptEpoch(record);
  return state;
}

async function holder(name) {
  const state = await receiver(name);
  for (const { recipient, wrap } of WRAPS.valid) {
    if (recipient === name) await state.acceptWrap(p.Wrap.fromJSON(wrap));
  }
  return state;
}

async function reader() {
  const state = await holder(MESSAGES.receiver);
  for (const { envelope } of MESSAGES.accepted) await state.receive(p.Envelope.fromJSON(envelope));
  return state;
}

async function refusal(action) {
  try {
    await action();
  } catch (error) {
    if (error instanceof p.ProtocolError) return error.code;
    throw error;
  }
  return assert.fail("was not refused");
}

const text = (body) => ({ type: "text", body, sent_at: "2026-11-28T09:00:00Z" });

/** Return a file vector's plaintext cut into its chunks (an empty file is one empty chunk). */
function chunksOf({ data, chunk_size: size }) {
  const all = bytes(data);
  const chunks = [];
  for (let at = 0; at < Math.max(all.length, 1); at += size) chunks.push(all.slice(at, at + size));
  return chunks;
}

test("chunk counts, part lengths and nonces follow the spec", () => {
  assert.deepEqual(
    [0, 1, 64, 65, 128, 129].map((size) => p.chunkCount(size, 64)),
    [1, 1, 1, 2, 2, 3],
  );
  assert.equal(p.chunkCount(2 ** 32, 1), 2 ** 32);
  assert.equal(p.chunkCount(2 ** 53 - 1, 4194304), 2 ** 31);
  assert.equal(p.chunkCount(2 ** 53 - 1, 4194303), 2147484161);
  assert.deepEqual([0, 1, 2].map((index) => p.partLength(129, 64, index)), [80, 80, 17]);
  assert.equal(p.partLength(0, 64, 0), 16);
  const prefix = Uint8Array.from({ length: 16 }, (_, i) => i);
  const nonce = (...tail) => Uint8Array.from([...prefix, ...tail]);
  assert.deepEqual(p.fileNonce(prefix, 0x01020304, true), nonce(1, 2, 3, 4, 0, 0, 0, 1));
  assert.deepEqual(p.fileNonce(prefix, 2 ** 32 - 1, false), nonce(255, 255, 255, 255, 0, 0, 0, 0));
  const mistakes = [
    () => p.partLength(129, 64, 3),
    () => p.fileNonce(prefix, 2 ** 32, true),
    () => p.fileNonce(prefix.subarray(1), 0, true),
    () => new p.FileEncryptor(10, 64, new Uint8Array(31)),
  ];
  for (const mistake of mistakes) assert.throws(mistake, TypeError);
});

test("file numbers outside the protocol are refused to callers", () => {
  const cases = [
    [-1, 64],
    [2 ** 53, 4194304],
    [10, 0],
    [10, 4194305],
    [2 ** 32 + 1, 1],
    [1.5, 64],
    ["10", 64],
  ];
  for (const [size, chunkSize] of cases) {
    assert.throws(() => new p.FileEncryptor(size, chunkSize), /a file has/);
  }
});

test("a fresh file has its own key and prefix, and four-mebibyte chunks", () => {
  const [first, second] = [new p.FileEncryptor(10), new p.FileEncryptor(10)];
  assert.deepEqual([first.chunkSize, first.chunks], [4194304, 1]);
  assert.deepEqual([first.key.length, first.prefix.length], [32, 16]);
  assert.notDeepEqual(first.key, second.key);
  assert.notDeepEqual(first.prefix, second.prefix);
});

test("padding reaches the next block and unpads back", () => {
  for (const { data, padded } of VECTORS.padding.valid) {
    assert.equal(b64(p.pad(bytes(data))), padded);
    assert.equal(b64(p.unpad(bytes(padded))), data);
  }
});

for (const { name, padded } of VECTORS.padding.malformed) {
  test(`malformed padding is refused: ${name}`, async () => {
    assert.equal(await refusal(() => p.unpad(bytes(padded))), "malformed");
  });
}

test("device ids and fingerprints follow from the public keys alone", () => {
  for (const keys of Object.values(VECTORS.devices)) {
    const id = p.deviceId(bytes(keys.sign_public), bytes(keys.box_public));
    assert.equal(id, keys.device_id);
    assert.equal(p.fingerprint(id), keys.fingerprint);
  }
});

test("without a choice the backend is detected, and Node 20 has WebCrypto's", async () => {
  p.useBackend(null);
  assert.equal(await p.backend(), "webcrypto");
});

for (const backend of ["webcrypto", "tweetnacl"]) {
  describe(`with ${backend} keys`, () => {
    before(() => p.useBackend(backend));

    test("imported devices have the vectors' public keys and ids", async () => {
      for (const [name, keys] of Object.entries(VECTORS.devices)) {
        const imported = await device(name);
        assert.equal(imported.secrets.kind, backend);
        assert.equal(b64(imported.signPublic), keys.sign_public);
        assert.equal(b64(imported.boxPublic), keys.box_public);
        assert.equal(imported.deviceId, keys.device_id);
      }
    });

    const orgKey = (name) => p.importOrgKey(bytes(CERTS[name].seed));

    async function vectorTrust() {
      const pinned = bytes(CERTS.org.public);
      const rotations = CERTS.rotations.map((r) => p.Rotation.fromJSON(r));
      const trusted = await p.trustedOrgKeys(TENANT, pinned, rotations);
      const revocations = CERTS.revocations.map((r) => p.Revocation.fromJSON(r));
      return new p.Trust(TENANT, trusted, await p.revokedDevices(TENANT, trusted, revocations));
    }

    test("organisation keys and certificates are made exactly as in the vectors", async () => {
      for (const name of ["org", "next", "other"]) {
        const key = await orgKey(name);
        assert.deepEqual([b64(key.publicKey), key.id], [CERTS[name].public, CERTS[name].id]);
        assert.equal(p.fingerprint(key.id), CERTS[name].fingerprint);
      }
      for (const vector of CERTS.made) {
        const cert = p.Certificate.fromJSON(vector.cert);
        assert.equal(new TextDecoder().decode(cert.text()), vector.text);
        assert.equal(cert.hash(), vector.hash);
        const device = new p.Member(cert.deviceId, cert.role, cert.signPublic, cert.boxPublic);
        const { tenant, person, name, role, issued, expires } = cert;
        const remade = await p.certify(await orgKey("org"), { tenant, person, name, role, device, issued, expires });
        assert.deepEqual(remade.toJSON(), vector.cert);
      }
      const rotation = p.Rotation.fromJSON(CERTS.rotations[0]);
      assert.equal(new TextDecoder().decode(rotation.text()), CERTS.rotation_text);
      const again = await p.rotateOrgKey(await orgKey("org"), TENANT, rotation.replacement, rotation.time);
      assert.deepEqual(again.toJSON(), CERTS.rotations[0]);
      const revocation = p.Revocation.fromJSON(CERTS.revocations[0]);
      assert.equal(new TextDecoder().decode(revocation.text()), CERTS.revocation_text);
    });

    test("trust follows signed rotations and signed revocations only", async () => {
      const trust = await vectorTrust();
      assert.deepEqual(trust.orgKeys.map(b64), CERTS.trusted);
      assert.deepEqual(Object.fromEntries(trust.revoked), CERTS.revoked);
    });

    for (const { name, member, made, code } of CERTS.checks) {
      test(`a member is accepted only with a certificate that held at its epoch: ${name}`, async () => {
        const parsed = p.Member.fromJSON(member);
        parsed.validate();
        const trust = await vectorTrust();
        if (code === null) await trust.check(parsed, made);
        else assert.equal(await refusal(() => trust.check(parsed, made)), code);
      });
    }

    for (const { name, cert, code } of CERTS.malformed) {
      test(`a malformed certificate is refused: ${name}`, async () => {
        assert.equal(await refusal(() => p.Certificate.fromJSON(cert)), code);
        const member = { ...CERTS.checks[0].member, cert };
        assert.equal(await refusal(() => p.Member.fromJSON(member)), "bad_epoch");
      });
    }

    test("a receiver that trusts the organisation accepts its certified chain only", async () => {
      const state = new p.ConversationState(TENANT, CONVERSATION, await device("customer"), EPOCHS.customer, await vectorTrust());
      for (const record of chain()) await state.acceptEpoch(record);
      const { customer, records } = await conversation();
      const strict = new p.ConversationState(TENANT, CONVERSATION, customer, customer.deviceId, await vectorTrust());
      await strict.acceptEpoch(records[0]);
      assert.equal(await refusal(() => strict.acceptEpoch(records[1])), "uncertified");
      assert.equal(strict.latestEpoch, 0);
    });

    test("safety numbers are those of the vectors, whatever the order of members", () => {
      chain().forEach((record, i) => {
        assert.equal(p.safetyNumber(record.members), EPOCHS.safety_numbers[i]);
        assert.equal(p.safetyNumber([...record.members].reverse()), EPOCHS.safety_numbers[i]);
      });
    });

    test("epoch records are made exactly as in the vectors", async () => {
      const [customer, agent, supervisor] = await Promise.all(
        ["customer", "agent", "supervisor"].map(device),
      );
      const made = EPOCHS.valid.map(({ record }) => record.made);
      const certified = Object.fromEntries(CERTS.made.map(({ cert }) => [cert.role, p.Certificate.fromJSON(cert)]));
      const alice = agent.member("agent", certified.agent);
      const sam = supervisor.member("supervisor", certified.supervisor);
      const me = customer.member("customer");
      const e0 = await p.makeEpoch(customer, TENANT, CONVERSATION, null, [me], made[0]);
      const e1 = await p.makeEpoch(customer, TENANT, CONVERSATION, e0, [alice, me], made[1]);
      const e2 = await p.makeEpoch(agent, TENANT, CONVERSATION, e1, [sam, alice, me], made[2]);
      [e0, e1, e2].forEach((record, i) => {
        const expected = EPOCHS.valid[i];
        assert.deepEqual(record.toJSON(), expected.record);
        assert.equal(new TextDecoder().decode(record.text()), expected.text);
        assert.equal(record.hash(), expected.hash);
      });
    });

    test("the epoch chain is accepted in order", async () => {
      let previous = null;
      for (const record of chain()) {
        await p.verifyEpoch(record, previous, EPOCHS.customer);
        previous = record;
      }
      const state = await receiver("outsider");
      assert.equal(state.latestEpoch, 2);
      assert.deepEqual(
        state.membersOf(1).map((member) => member.deviceId),
        EPOCHS.valid[1].record.members.map((member) => member.device_id),
      );
    });

    for (const { name, record, previous, code } of EPOCHS.refused) {
      test(`refused epoch record changes nothing: ${name}`, async () => {
        const held = previous === null ? 0 : previous + 1;
        const state = await receiver("agent", held);
        const accept = () => state.acceptEpoch(p.EpochRecord.fromJSON(record));
        assert.equal(await refusal(accept), code);
        assert.equal(state.latestEpoch, held === 0 ? null : held - 1);
      });
    }

    test("wraps are made exactly as in the vectors", async () => {
      for (const { wrapper, recipient, wrap, key } of WRAPS.valid) {
        const made = p.Wrap.fromJSON(wrap);
        const to = (await device(recipient)).member("agent");
        const args = [TENANT, CONVERSATION, made.epoch, bytes(key), made.nonce];
        const remade = await p.wrapKey(await device(wrapper), to, ...args);
        assert.deepEqual(remade.toJSON(), wrap);
      }
    });

    test("each member opens its wraps, history shares included", async () => {
      const expected = EPOCHS.valid.map((epoch) => epoch.key);
      for (const name of ["customer", "agent", "supervisor"]) {
        const state = await holder(name);
        assert.deepEqual(
          expected.map((_, epoch) => b64(state.keyOf(epoch))),
          expected,
        );
      }
    });

    for (const { name, recipient, wrap, code } of WRAPS.refused) {
      test(`refused wrap gives no key: ${name}`, async () => {
        const state = await receiver(recipient);
        assert.equal(await refusal(() => state.acceptWrap(p.Wrap.fromJSON(wrap))), code);
        assert.deepEqual([0, 1, 2, 3].map((epoch) => state.keyOf(epoch)), [null, null, null, null]);
      });
    }

    // Staff-only messages (docs/PROTOCOL.md, "Staff-only messages").
    async function staffHolder(name) {
      const state = await holder(name);
      for (const { recipient, wrap } of STAFF.wraps.valid) {
        if (recipient === name) await state.acceptWrap(p.Wrap.fromJSON(wrap));
      }
      return state;
    }

    test("staff keys are wrapped exactly as in the vectors, and open for staff only", async () => {
      for (const { wrapper, recipient, wrap, key } of STAFF.wraps.valid) {
        const made = p.Wrap.fromJSON(wrap);
        assert.ok(made.staff);
        const to = (await device(recipient)).member("agent");
        const args = [TENANT, CONVERSATION, made.epoch, bytes(key), made.nonce, { staff: true }];
        assert.deepEqual((await p.wrapKey(await device(wrapper), to, ...args)).toJSON(), wrap);
      }
      const state = await staffHolder("supervisor");
      assert.equal(b64(state.staffKeyOf(2)), STAFF.keys["2"]);
      assert.equal(b64(state.staffKeyOf(1)), STAFF.keys["1"]);
      assert.equal(b64(state.keyOf(2)), EPOCHS.valid[2].key);
    });

    for (const { name, recipient, wrap, code } of STAFF.wraps.refused) {
      test(`refused staff wrap gives no key of either kind: ${name}`, async () => {
        const state = await receiver(recipient);
        assert.equal(await refusal(() => state.acceptWrap(p.Wrap.fromJSON(wrap))), code);
        assert.deepEqual([0, 1, 2].map((e) => state.staffKeyOf(e)), [null, null, null]);
        assert.deepEqual([0, 1, 2].map((e) => state.keyOf(e)), [null, null, null]);
      });
    }

    test("a staff note is made and read exactly as in the vectors", async () => {
      const [vector] = STAFF.messages.accepted;
      const made = p.Envelope.fromJSON(vector.envelope);
      assert.ok(made.staff);
      const { seq, after, nonce } = made;
      const context = [TENANT, CONVERSATION, chain()[2], bytes(vector.key), seq, vector.plaintext];
      const remade = await p.encryptMessage(await device(vector.sender), ...context, { after, nonce, staff: true });
      assert.deepEqual(remade.toJSON(), vector.envelope);
      const signed = p.messageText(TENANT, CONVERSATION, chain()[2], made.sender, seq, after, nonce, made.ct, true);
      assert.equal(new TextDecoder().decode(signed), vector.text);
      const state = await staffHolder(STAFF.messages.receiver);
      assert.deepEqual(await state.receive(made), vector.plaintext);
      assert.equal(state.after, vector.head);
      // Neither a note for everyone nor a text for staff only is ever made.
      const context2 = [TENANT, CONVERSATION, chain()[2], bytes(vector.key), 2];
      await assert.rejects(p.encryptMessage(await device("agent"), ...context2, vector.plaintext, { after }), TypeError);
      await assert.rejects(p.encryptMessage(await device("agent"), ...context2, text("Hi"), { after, staff: true }), TypeError);
    });

    for (const { name, envelope, code, witnessed } of STAFF.messages.refused) {
      test(`refused staff message names the failed check: ${name}`, async () => {
        const state = await staffHolder(STAFF.messages.receiver);
        const seen = state.transcript.length;
        assert.equal(await refusal(() => state.receive(p.Envelope.fromJSON(envelope))), code);
        assert.equal(state.transcript.length, seen + (witnessed ? 1 : 0));
      });
    }

    test("a supervisor's barge is a message for everyone", async () => {
      const { envelope, plaintext, head } = STAFF.messages.barge;
      for (const name of ["customer", "supervisor"]) {
        const state = await staffHolder(name);
        await state.witness(p.Envelope.fromJSON(STAFF.messages.accepted[0].envelope));
        assert.deepEqual(await state.receive(p.Envelope.fromJSON(envelope)), plaintext);
        assert.equal(plaintext.type, "barge");
        assert.equal(state.after, head);
      }
    });

    test("the customer's device witnesses a note and cannot open it", async () => {
      const { receiver: name, head, code } = STAFF.messages.customer;
      const state = await staffHolder(name);
      const note = p.Envelope.fromJSON(STAFF.messages.accepted[0].envelope);
      assert.equal(await refusal(() => state.receive(note)), code);
      assert.equal(state.after, head);
    });

    const removedRecord = () => p.EpochRecord.fromJSON(MESSAGES.removed.record);
    const recordOf = (epoch) => [...chain(), removedRecord()][epoch];

    test("messages are made exactly as in the vectors", async () => {
      const vectors = [...MESSAGES.accepted, ...MESSAGES.then_accepted, ...MESSAGES.removed.accepted];
      for (const vector of vectors) {
        const made = p.Envelope.fromJSON(vector.envelope);
        const sender = await device(vector.sender);
        const { epoch, seq, after, nonce } = made;
        const record = recordOf(epoch);
        const context = [TENANT, CONVERSATION, record, bytes(vector.key), seq, vector.plaintext];
        const remade = await p.encryptMessage(sender, ...context, { after, nonce });
        assert.deepEqual(remade.toJSON(), vector.envelope);
        const fields = [made.sender, seq, after, nonce, made.ct];
        const signed = p.messageText(TENANT, CONVERSATION, record, ...fields);
        assert.equal(new TextDecoder().decode(signed), vector.text);
      }
    });

    test("the transcript heads are those of the vectors", async () => {
      const state = await receiver(MESSAGES.receiver, 0);
      assert.equal(state.after, MESSAGES.start);
      for (const [epoch, record] of chain().entries()) {
        await state.acceptEpoch(record);
        assert.equal(state.after, MESSAGES.epoch_heads[epoch]);
      }
      for (const { envelope, head } of MESSAGES.accepted) {
        await state.witness(p.Envelope.fromJSON(envelope));
        assert.equal(state.after, head);
      }
    });

    test("accepted messages read in order across epochs", async () => {
      const state = await holder(MESSAGES.receiver);
      for (const { envelope, plaintext, head } of MESSAGES.accepted) {
        assert.deepEqual(await state.receive(p.Envelope.fromJSON(envelope)), plaintext);
        assert.equal(state.after, head);
      }
    });

    test("messages witnessed before their key arrives open once it does", async () => {
      const state = await receiver(MESSAGES.receiver);
      const envelopes = MESSAGES.accepted.map(({ envelope }) => p.Envelope.fromJSON(envelope));
      for (const envelope of envelopes) await state.witness(envelope);
      assert.equal(await refusal(() => state.open(envelopes[0])), "unknown_epoch");
      for (const { recipient, wrap } of WRAPS.valid) {
        if (recipient === MESSAGES.receiver) await state.acceptWrap(p.Wrap.fromJSON(wrap));
      }
      const opened = [];
      for (const envelope of envelopes) opened.push(await state.open(envelope));
      assert.deepEqual(opened, MESSAGES.accepted.map(({ plaintext }) => plaintext));
    });

    test("a member left out of the latest epoch may no longer post", async () => {
      const state = await reader();
      for (const { envelope } of MESSAGES.then_accepted) {
        await state.receive(p.Envelope.fromJSON(envelope));
      }
      await state.acceptEpoch(removedRecord());
      assert.equal(state.after, MESSAGES.removed.head);
      for (const { envelope, code } of MESSAGES.removed.refused) {
        assert.equal(await refusal(() => state.receive(p.Envelope.fromJSON(envelope))), code);
      }
      for (const { envelope, plaintext, head } of MESSAGES.removed.accepted) {
        assert.deepEqual(await state.receive(p.Envelope.fromJSON(envelope)), plaintext);
        assert.equal(state.after, head);
      }
    });

    for (const { name, envelope, code } of MESSAGES.refused) {
      test(`refused message names the failed check: ${name}`, async () => {
        const state = await reader();
        assert.equal(await refusal(() => state.receive(p.Envelope.fromJSON(envelope))), code);
      });
    }

    test("refused messages do not move any sender's counter", async () => {
      const state = await reader();
      for (const { envelope, witnessed } of MESSAGES.refused) {
        if (!witnessed) await refusal(() => state.receive(p.Envelope.fromJSON(envelope)));
      }
      for (const { envelope, plaintext } of MESSAGES.then_accepted) {
        assert.deepEqual(await state.receive(p.Envelope.fromJSON(envelope)), plaintext);
      }
    });

    for (const { name, envelope, code } of MESSAGES.refused.filter((v) => v.witnessed)) {
      test(`a signed message no member can read still takes its place: ${name}`, async () => {
        const state = await reader();
        const seen = state.transcript.length;
        assert.equal(await refusal(() => state.receive(p.Envelope.fromJSON(envelope))), code);
        assert.equal(state.transcript.length, seen + 1);
        const next = p.Envelope.fromJSON(MESSAGES.then_accepted[0].envelope);
        assert.equal(await refusal(() => state.receive(next)), "replayed");
      });
    }

    for (const vector of FILES.valid) {
      test(`files are sealed exactly as in the vectors: ${vector.name}`, async () => {
        const { plaintext, chunk_size: chunkSize } = vector;
        const [key, prefix] = [bytes(vector.key), bytes(vector.prefix)];
        const size = bytes(vector.data).length;
        const encryptor = new p.FileEncryptor(size, chunkSize, key, prefix);
        assert.equal(encryptor.chunks, p.chunkCount(size, chunkSize));
        assert.equal(encryptor.chunks, vector.parts.length);
        for (const [index, chunk] of chunksOf(vector).entries()) {
          const last = index === encryptor.chunks - 1;
          assert.equal(b64(p.fileNonce(prefix, index, last)), vector.nonces[index]);
          const part = await encryptor.encrypt(index, chunk);
          assert.equal(b64(part), vector.parts[index]);
          assert.equal(part.length, p.partLength(size, chunkSize, index));
        }
        assert.equal(await encryptor.hash(), vector.hash);
        const made = await encryptor.announcement(plaintext.file, plaintext.name, plaintext.mime);
        assert.deepEqual({ ...made, sent_at: plaintext.sent_at }, plaintext);
      });

      test(`files open part by part and match their hash: ${vector.name}`, async () => {
        const decryptor = new p.FileDecryptor(vector.plaintext);
        assert.equal(decryptor.size, bytes(vector.data).length);
        assert.equal(decryptor.chunkSize, vector.chunk_size);
        assert.deepEqual([b64(decryptor.key), b64(decryptor.prefix)], [vector.key, vector.prefix]);
        const opened = [];
        for (const [index, part] of vector.parts.entries()) {
          opened.push(await decryptor.decrypt(index, bytes(part)));
        }
        await decryptor.finish();
        assert.deepEqual(opened, chunksOf(vector));
      });
    }

    for (const { name, plaintext, parts, refused_at: at, code } of FILES.refused) {
      test(`refused file is bad_file at the part that shows it: ${name}`, async () => {
        const decryptor = new p.FileDecryptor(plaintext);
        const sent = parts.map(bytes);
        for (const [index, part] of sent.slice(0, at ?? sent.length).entries()) {
          await decryptor.decrypt(index, part);
        }
        const refused =
          at === null ? () => decryptor.finish() : () => decryptor.decrypt(at, sent[at]);
        assert.equal(await refusal(refused), code);
      });
    }

    for (const { name, plaintext } of FILES.announced) {
      test(`files announced at the limits are accepted: ${name}`, async () => {
        assert.equal(new p.FileDecryptor(plaintext).chunks, Number(plaintext.chunks));
        await firstMessage(await device("customer"), plaintext);
      });
    }

    for (const { name, plaintext, code } of FILES.malformed) {
      test(`malformed file plaintext is refused by receivers and senders: ${name}`, async () => {
        assert.equal(await refusal(() => new p.FileDecryptor(plaintext)), code);
        await assert.rejects(firstMessage(await device("customer"), plaintext), /would refuse/);
      });
    }

    // Round trips with fresh keys.

    async function conversation() {
      const customer = await p.generateDevice();
      const agent = await p.generateDevice();
      const e0 = await p.makeEpoch(customer, TENANT, CONVERSATION, null, [
        customer.member("customer"),
      ]);
      const members = [customer.member("customer"), agent.member("agent")];
      const e1 = await p.makeEpoch(customer, TENANT, CONVERSATION, e0, members);
      return { customer, agent, records: [e0, e1], keys: [p.newEpochKey(), p.newEpochKey()] };
    }

    /** Return the transcript hash of a device that accepted RECORDS and nothing else. */
    function head(records, conversation = CONVERSATION) {
      const transcript = new p.Transcript(TENANT, conversation);
      for (const record of records) transcript.add("epoch", record.hash());
      return transcript.head;
    }

    /** Return SENDER's message SEQ in EPOCH, written having seen the epochs up to it. */
    function seal(sender, { records, keys }, epoch, seq, plaintext, options = {}) {
      const { conversation = CONVERSATION, key = keys[epoch] } = options;
      const after = head(records.slice(0, epoch + 1));
      const context = [TENANT, conversation, records[epoch], key, seq, plaintext];
      return p.encryptMessage(sender, ...context, { after });
    }

    /** Return SENDER's first message of a conversation it opened, in epoch 0. */
    async function firstMessage(sender, plaintext) {
      const alone = [sender.member("customer")];
      const record = await p.makeEpoch(sender, TENANT, CONVERSATION, null, alone);
      const after = head([record]);
      const context = [TENANT, CONVERSATION, record, p.newEpochKey(), 1, plaintext];
      return p.encryptMessage(sender, ...context, { after });
    }

    async function joined(me, { customer, records, keys }) {
      const state = new p.ConversationState(TENANT, CONVERSATION, me, customer.deviceId);
      for (const record of records) await state.acceptEpoch(record);
      for (const [epoch, key] of keys.entries()) {
        const member = me.member("agent");
        await state.acceptWrap(await p.wrapKey(customer, member, TENANT, CONVERSATION, epoch, key));
      }
      return state;
    }

    test("generated private keys stay inside WebCrypto when it has them", async () => {
      const { secrets } = await p.generateDevice();
      assert.equal(secrets.kind, backend);
      if (backend === "webcrypto") {
        assert.equal(secrets.sign.extractable, false);
        assert.equal(secrets.box.extractable, false);
      }
      const imported = await device("customer");
      assert.equal(JSON.stringify(Object.keys(imported)).includes("secrets"), false);
    });

    test("customer and agent read each other", async () => {
      const talk = await conversation();
      const { customer, agent } = talk;
      const atCustomer = await joined(customer, talk);
      const atAgent = await joined(agent, talk);
      const question = await seal(customer, talk, 0, atCustomer.nextSeq(), text("Hello?"));
      const answer = await seal(agent, talk, 1, atAgent.nextSeq(), text("Hi, how can I help?"));
      for (const state of [atCustomer, atAgent]) {
        assert.deepEqual(await state.receive(question), text("Hello?"));
        assert.deepEqual(await state.receive(answer), text("Hi, how can I help?"));
      }
      assert.equal(atCustomer.after, atAgent.after);
      assert.equal(atCustomer.nextSeq(), 2);
      assert.equal(atAgent.nextSeq(), 2);
    });

    test("a reply shown before what it answers is refused", async () => {
      const talk = await conversation();
      const { customer, agent, records, keys } = talk;
      const atCustomer = await joined(customer, talk);
      const atAgent = await joined(agent, talk);
      const question = await seal(customer, talk, 1, 1, text("Cancel order 1?"));
      await atAgent.receive(question);
      const context = [TENANT, CONVERSATION, records[1], keys[1], 1, text("Yes.")];
      const answer = await p.encryptMessage(agent, ...context, { after: atAgent.after });
      assert.equal(await refusal(() => atCustomer.receive(answer)), "bad_transcript");
      await atCustomer.receive(question);
      assert.deepEqual(await atCustomer.receive(answer), text("Yes."));
    });

    test("members shown different orders see it at the next message", async () => {
      const talk = await conversation();
      const { customer, agent, records, keys } = talk;
      const atAgent = await joined(agent, talk);
      const atCustomer = await joined(customer, talk);
      const one = await seal(customer, talk, 1, 1, text("one"));
      const two = await seal(agent, talk, 1, 1, text("two"));
      for (const message of [two, one]) await atAgent.receive(message);
      for (const message of [one, two]) await atCustomer.receive(message);
      assert.notEqual(atAgent.after, atCustomer.after);
      const context = [TENANT, CONVERSATION, records[1], keys[1], 2, text("three")];
      const reply = await p.encryptMessage(agent, ...context, { after: atAgent.after });
      assert.equal(await refusal(() => atCustomer.receive(reply)), "bad_transcript");
    });

    test("a message moved to another conversation is refused", async () => {
      const talk = await conversation();
      const { customer, agent, records } = talk;
      const elsewhere = await seal(agent, talk, 1, 1, text("Hi"), { conversation: OTHER_CONVERSATION });
      const state = await joined(customer, talk);
      assert.equal(await refusal(() => state.receive(elsewhere)), "bad_signature");
      const key = agent.signPublic;
      const signedFor = (id) => p.verifyEnvelopeSignature(TENANT, id, records[1], elsewhere, key);
      assert.equal(await signedFor(CONVERSATION), false);
      assert.equal(await signedFor(OTHER_CONVERSATION), true);
    });

    test("a withheld message leaves every later one of its sender refused", async () => {
      const talk = await conversation();
      const { customer, agent } = talk;
      const state = await joined(customer, talk);
      const sent = [];
      for (const seq of [1, 2, 3]) sent.push(await seal(agent, talk, 1, seq, text(`message ${seq}`)));
      await state.receive(sent[0]);
      assert.equal(await refusal(() => state.receive(sent[2])), "out_of_order");
      assert.equal(await refusal(() => state.receive(sent[2])), "out_of_order");
      assert.deepEqual(await state.receive(sent[1]), text("message 2"));
      assert.deepEqual(await state.receive(sent[2]), text("message 3"));
    });

    test("an epoch that leaves its creator out is refused and not made", async () => {
      const { customer, agent, records } = await conversation();
      const stranger = await p.generateDevice();
      const members = [customer.member("customer"), stranger.member("agent")];
      await assert.rejects(
        p.makeEpoch(agent, TENANT, CONVERSATION, records[1], members),
        /would refuse/,
      );
    });

    test("a small-order key signs nothing: R = identity, S = 0 is refused", async () => {
      const identity = new Uint8Array(32);
      identity[0] = 1;
      const universal = new Uint8Array(64);
      universal[0] = 1;
      assert.equal(p.isSmallOrder(identity), true);
      const member = new p.Member(p.deviceId(identity, identity), "agent", identity, identity);
      assert.equal(await refusal(() => member.validate()), "bad_epoch");
      const talk = await conversation();
      const { customer, records } = talk;
      const state = await joined(customer, talk);
      const hi = await seal(customer, talk, 1, 1, text("Hi"));
      const forged = p.Envelope.fromJSON({ ...hi.toJSON(), sig: b64(universal) });
      assert.equal(await refusal(() => state.receive(forged)), "bad_signature");
      const key = customer.signPublic;
      assert.equal(await p.verifyEnvelopeSignature(TENANT, CONVERSATION, records[1], forged, key), false);
    });

    test("calls made at once are taken in call order", async () => {
      const { customer, agent, records, keys } = await conversation();
      const state = new p.ConversationState(TENANT, CONVERSATION, agent, customer.deviceId);
      const member = agent.member("agent");
      const wrap = await p.wrapKey(customer, member, TENANT, CONVERSATION, 1, keys[1]);
      const hi = await seal(agent, { records, keys }, 1, 1, text("Hi"));
      const results = await Promise.allSettled([
        state.acceptEpoch(records[0]),
        state.acceptEpoch(records[1]),
        state.acceptWrap(wrap),
        state.receive(hi),
        state.receive(hi),
      ]);
      assert.deepEqual(
        results.map((result) =>
          result.status === "fulfilled" ? result.value : result.reason.code,
        ),
        [undefined, undefined, undefined, text("Hi"), "replayed"],
      );
    });

    test("a second, different key for an epoch is refused", async () => {
      const talk = await conversation();
      const { customer, agent, keys } = talk;
      const state = await joined(agent, talk);
      const member = agent.member("agent");
      const other = await p.wrapKey(customer, member, TENANT, CONVERSATION, 1, p.newEpochKey());
      assert.equal(await refusal(() => state.acceptWrap(other)), "bad_wrap");
      assert.deepEqual(state.keyOf(1), keys[1]);
      await state.acceptWrap(await p.wrapKey(customer, member, TENANT, CONVERSATION, 1, keys[1]));
      assert.deepEqual(state.keyOf(1), keys[1]);
    });

    test("an accepted epoch may come again, but not changed", async () => {
      const { customer, agent, records } = await conversation();
      const state = new p.ConversationState(TENANT, CONVERSATION, agent, customer.deviceId);
      for (const record of [...records, ...records]) await state.acceptEpoch(record);
      assert.equal(state.latestEpoch, 1);
      const alone = [customer.member("customer")];
      const other = await p.makeEpoch(customer, TENANT, CONVERSATION, records[0], alone);
      assert.equal(await refusal(() => state.acceptEpoch(other)), "bad_epoch");
    });

    test("a wrap for a low-order key is refused", async () => {
      const customer = await p.generateDevice();
      const low = new p.Member("0".repeat(32), "agent", customer.signPublic, new Uint8Array(32));
      const wrap = () => p.wrapKey(customer, low, TENANT, CONVERSATION, 0, p.newEpochKey());
      assert.equal(await refusal(wrap), "bad_wrap");
    });

    test("senders refuse what receivers would refuse", async () => {
      const sender = await p.generateDevice();
      const refused = [
        { type: "image", name: "x.png", sent_at: "2026-11-28T09:00:00Z" },
        { type: "file", name: "x.pdf", sent_at: "2026-11-28T09:00:00Z" },
        text("x".repeat(8001)),
        { type: "text", body: "Hi" },
        text(Number.NaN),
        ["text", "Hi"],
        undefined,
      ];
      for (const plaintext of refused) {
        await assert.rejects(firstMessage(sender, plaintext), TypeError);
      }
    });

    test("ids that could break a signed text are refused", async () => {
      const keys = await p.generateDevice();
      const contexts = [
        ["acme\nmember", CONVERSATION],
        ["", CONVERSATION],
        ["a".repeat(65), CONVERSATION],
        [TENANT, CONVERSATION.toUpperCase()],
        [TENANT, `${CONVERSATION}\n`],
      ];
      for (const [tenant, id] of contexts) {
        await assert.rejects(
          p.makeEpoch(keys, tenant, id, null, [keys.member("customer")]),
          /not one the protocol allows/,
        );
      }
    });

    test("records, wraps, envelopes and members survive JSON", async () => {
      const { customer, agent, records, keys } = await conversation();
      const member = agent.member("agent");
      const wrap = await p.wrapKey(customer, member, TENANT, CONVERSATION, 1, keys[1]);
      const hi = await seal(agent, { records, keys }, 1, 1, text("Hi"));
      for (const item of [records[1], wrap, hi, member]) {
        const travelled = JSON.parse(JSON.stringify(item));
        assert.deepEqual(item.constructor.fromJSON(travelled), item);
      }
    });

    async function sealed(data, chunkSize) {
      const encryptor = new p.FileEncryptor(data.length, chunkSize);
      const parts = [];
      for (let i = 0; i < encryptor.chunks; i++) {
        parts.push(await encryptor.encrypt(i, data.subarray(i * chunkSize, (i + 1) * chunkSize)));
      }
      const fileId = crypto.randomUUID();
      const announcement = await encryptor.announcement(fileId, "notes.txt", "text/plain");
      return { announcement, parts };
    }

    test("a refused part changes nothing, and the right one still opens", async () => {
      const { announcement, parts } = await sealed(new Uint8Array(100).fill(120), 40);
      const decryptor = new p.FileDecryptor(announcement);
      assert.equal((await decryptor.decrypt(0, parts[0])).length, 40);
      assert.equal(await refusal(() => decryptor.decrypt(1, parts[0])), "bad_file");
      assert.equal(await refusal(() => decryptor.decrypt(2, parts[2])), "bad_file");
      assert.equal(await refusal(() => decryptor.decrypt(0, parts[0])), "bad_file");
      assert.equal(await refusal(() => decryptor.finish()), "bad_file");
      assert.deepEqual(await decryptor.decrypt(1, parts[1]), new Uint8Array(40).fill(120));
      assert.deepEqual(await decryptor.decrypt(2, parts[2]), new Uint8Array(20).fill(120));
      await decryptor.finish();
      assert.equal(await refusal(() => decryptor.decrypt(3, parts[2])), "bad_file");
    });

    test("a file announcement travels in a message and opens the file", async () => {
      const talk = await conversation();
      const { customer, agent, keys } = talk;
      const atAgent = await joined(agent, talk);
      const data = new TextEncoder().encode("%PDF-1.7 ...");
      const { announcement, parts } = await sealed(data, p.CHUNK_SIZE);
      const plaintext = { ...announcement, sent_at: "2026-11-28T09:00:00Z" };
      const received = await atAgent.receive(await seal(customer, talk, 1, 1, plaintext));
      assert.deepEqual(received, plaintext);
      const decryptor = new p.FileDecryptor(received);
      assert.deepEqual(await decryptor.decrypt(0, parts[0]), data);
      await decryptor.finish();
    });

    test("only file plaintexts open files", async () => {
      const { announcement } = await sealed(new Uint8Array(0), 64);
      for (const wrong of [{ ...announcement, type: "text" }, [announcement], null, {}]) {
        assert.equal(await refusal(() => new p.FileDecryptor(wrong)), "malformed");
      }
    });

    test("parts are made in order, each once, from chunks of the right length", async () => {
      const encryptor = new p.FileEncryptor(100, 40);
      await assert.rejects(encryptor.encrypt(1, new Uint8Array(40)), /next part is 0/);
      await assert.rejects(encryptor.encrypt(0, new Uint8Array(39)), /not the length/);
      await encryptor.encrypt(0, new Uint8Array(40));
      await assert.rejects(encryptor.encrypt(0, new Uint8Array(40)), /next part is 1/);
      await encryptor.encrypt(1, new Uint8Array(40));
      await assert.rejects(encryptor.encrypt(2, new Uint8Array(40)), /not the length/);
      await assert.rejects(encryptor.hash(), /2 of 3 parts/);
      await assert.rejects(encryptor.announcement(FILE_ID, "a.txt", "text/plain"), /2 of 3 parts/);
      await encryptor.encrypt(2, new Uint8Array(20));
      await assert.rejects(encryptor.encrypt(3, new Uint8Array(0)), /next part is 3/);
      const tooLong = encryptor.announcement(FILE_ID, "x".repeat(256), "text/plain");
      await assert.rejects(tooLong, /at most 255/);
      const announcement = await encryptor.announcement(FILE_ID, "a.txt", "text/plain");
      assert.equal(announcement.hash, await encryptor.hash());
      // An upload's id goes into URLs: a path never passes for one (a malicious server's reply).
      await assert.rejects(encryptor.announcement("../../dashboard/devices?x=", "a.txt", "text/plain"), /UUID/);
    });

    test("parts made and opened at once are hashed in call order", async () => {
      const vector = FILES.valid.find(({ parts }) => parts.length > 3);
      const [key, prefix] = [bytes(vector.key), bytes(vector.prefix)];
      const size = bytes(vector.data).length;
      const encryptor = new p.FileEncryptor(size, vector.chunk_size, key, prefix);
      const made = chunksOf(vector).map((chunk, i) => encryptor.encrypt(i, chunk));
      const parts = await Promise.all(made);
      assert.deepEqual(parts.map(b64), vector.parts);
      assert.equal(await encryptor.hash(), vector.hash);
      const decryptor = new p.FileDecryptor(vector.plaintext);
      await Promise.all(parts.map((part, i) => decryptor.decrypt(i, part)));
      await decryptor.finish();
    });

    test("a 3 MiB file streams through in memory of a few chunks", async () => {
      // ArrayBuffer memory, collected before each part: what stays between parts, and what one
      // part takes. Holding the file would take 3 MiB besides.
      const size = 3 * p.CHUNK_SIZE;
      const { kept, working } = await streamFile(size);
      for (const bytesKept of kept) assert.ok(bytesKept < p.CHUNK_SIZE / 4, `${bytesKept} kept`);
      for (const used of working) assert.ok(used < 4 * p.CHUNK_SIZE, `${used} for a part`);
    });
  });
}

// V8 collects ArrayBuffers when it likes; to measure what is kept, collect before each sample.
setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc");

async function collected() {
  collect();
  await new Promise((resolve) => setImmediate(resolve));
  collect();
  return process.memoryUsage().arrayBuffers;
}

function randomChunk(size) {
  const chunk = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(chunk.subarray(at, at + 65536));
  return chunk;
}

// Each part in a function of its own, so that no chunk or part outlives its call in a variable.
async function upload(encryptor, file, index, sent) {
  const chunk = randomChunk(p.partLength(encryptor.size, encryptor.chunkSize, index) - 16);
  sent.update(chunk);
  writeSync(file, await encryptor.encrypt(index, chunk));
}

async function download(decryptor, file, index, received) {
  const part = new Uint8Array(p.partLength(decryptor.size, decryptor.chunkSize, index));
  readSync(file, part);
  received.update(await decryptor.decrypt(index, part));
}

/** Return the ArrayBuffer bytes kept between parts and used by each part, sealing SIZE bytes. */
async function streamFile(size) {
  const folder = mkdtempSync(join(tmpdir(), "sealdesk-file-"));
  const path = join(folder, "parts");
  const [sent, received] = [createHash("sha512"), createHash("sha512")];
  const kept = [];
  const working = [];
  const start = await collected();
  async function measure(step) {
    kept.push((await collected()) - start);
    const before = process.memoryUsage().arrayBuffers;
    await step();
    working.push(process.memoryUsage().arrayBuffers - before);
  }
  try {
    const encryptor = new p.FileEncryptor(size);
    let file = openSync(path, "w");
    for (let i = 0; i < encryptor.chunks; i++) {
      await measure(() => upload(encryptor, file, i, sent));
    }
    closeSync(file);
    const mime = "application/octet-stream";
    const announcement = await encryptor.announcement(FILE_ID, "random.bin", mime);
    const decryptor = new p.FileDecryptor(announcement);
    file = openSync(path, "r");
    for (let i = 0; i < decryptor.chunks; i++) {
      await measure(() => download(decryptor, file, i, received));
    }
    closeSync(file);
    await decryptor.finish();
    kept.push((await collected()) - start);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
  assert.equal(received.digest("hex"), sent.digest("hex"));
  return { kept, working };
}
