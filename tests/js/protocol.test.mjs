// The end-to-end encryption protocol v1 in JavaScript: every shared vector, then round trips, once
// with WebCrypto keys and once with tweetnacl's (tests/test_protocol.py checks the same vectors).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, test } from "node:test";

import * as p from "../../static/sealdesk/protocol.js";

const VECTORS = JSON.parse(readFileSync(new URL("../vectors/protocol-v1.json", import.meta.url)));
const { tenant: TENANT, conversation: CONVERSATION, epochs: EPOCHS, wraps: WRAPS } = VECTORS;
const MESSAGES = VECTORS.messages;
const OTHER_CONVERSATION = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a";

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

    test("epoch records are made exactly as in the vectors", async () => {
      const [customer, agent, supervisor] = await Promise.all(
        ["customer", "agent", "supervisor"].map(device),
      );
      const e0 = await p.makeEpoch(customer, TENANT, CONVERSATION, null, [
        customer.member("customer"),
      ]);
      const e1 = await p.makeEpoch(customer, TENANT, CONVERSATION, e0, [
        agent.member("agent"),
        customer.member("customer"),
      ]);
      const e2 = await p.makeEpoch(agent, TENANT, CONVERSATION, e1, [
        supervisor.member("supervisor"),
        agent.member("agent"),
        customer.member("customer"),
      ]);
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

    test("messages are made exactly as in the vectors", async () => {
      for (const vector of [...MESSAGES.accepted, ...MESSAGES.then_accepted]) {
        const made = p.Envelope.fromJSON(vector.envelope);
        const sender = await device(vector.sender);
        const { epoch, seq, nonce } = made;
        const key = bytes(vector.key);
        const context = [TENANT, CONVERSATION, epoch, key, seq, vector.plaintext, nonce];
        const remade = await p.encryptMessage(sender, ...context);
        assert.deepEqual(remade.toJSON(), vector.envelope);
        const signed = p.messageText(TENANT, CONVERSATION, epoch, made.sender, seq, nonce, made.ct);
        assert.equal(new TextDecoder().decode(signed), vector.text);
      }
    });

    test("accepted messages read in order across epochs", async () => {
      const state = await holder(MESSAGES.receiver);
      for (const { envelope, plaintext } of MESSAGES.accepted) {
        assert.deepEqual(await state.receive(p.Envelope.fromJSON(envelope)), plaintext);
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
      for (const { envelope } of MESSAGES.refused) {
        await refusal(() => state.receive(p.Envelope.fromJSON(envelope)));
      }
      for (const { envelope, plaintext } of MESSAGES.then_accepted) {
        assert.deepEqual(await state.receive(p.Envelope.fromJSON(envelope)), plaintext);
      }
    });

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
      const { customer, agent, keys } = talk;
      const atCustomer = await joined(customer, talk);
      const atAgent = await joined(agent, talk);
      const question = await p.encryptMessage(
        customer, TENANT, CONVERSATION, 0, keys[0], atCustomer.nextSeq(), text("Hello?"),
      );
      const answer = await p.encryptMessage(
        agent, TENANT, CONVERSATION, 1, keys[1], atAgent.nextSeq(), text("Hi, how can I help?"),
      );
      for (const state of [atCustomer, atAgent]) {
        assert.deepEqual(await state.receive(question), text("Hello?"));
        assert.deepEqual(await state.receive(answer), text("Hi, how can I help?"));
      }
      assert.equal(atCustomer.nextSeq(), 2);
      assert.equal(atAgent.nextSeq(), 2);
    });

    test("a message moved to another conversation is refused", async () => {
      const talk = await conversation();
      const { customer, agent, keys } = talk;
      const context = [1, keys[1], 1, text("Hi")];
      const elsewhere = await p.encryptMessage(agent, TENANT, OTHER_CONVERSATION, ...context);
      const state = await joined(customer, talk);
      assert.equal(await refusal(() => state.receive(elsewhere)), "bad_signature");
      const key = agent.signPublic;
      const signedFor = (id) => p.verifyEnvelopeSignature(TENANT, id, elsewhere, key);
      assert.equal(await signedFor(CONVERSATION), false);
      assert.equal(await signedFor(OTHER_CONVERSATION), true);
    });

    test("a withheld message leaves every later one of its sender refused", async () => {
      const talk = await conversation();
      const { customer, agent, keys } = talk;
      const state = await joined(customer, talk);
      const sent = [];
      for (const seq of [1, 2, 3]) {
        const message = text(`message ${seq}`);
        sent.push(await p.encryptMessage(agent, TENANT, CONVERSATION, 1, keys[1], seq, message));
      }
      await state.receive(sent[0]);
      assert.equal(await refusal(() => state.receive(sent[2])), "out_of_order");
      assert.equal(await refusal(() => state.receive(sent[2])), "out_of_order");
      assert.deepEqual(await state.receive(sent[1]), text("message 2"));
      assert.deepEqual(await state.receive(sent[2]), text("message 3"));
    });

    test("calls made at once are taken in call order", async () => {
      const { customer, agent, records, keys } = await conversation();
      const state = new p.ConversationState(TENANT, CONVERSATION, agent, customer.deviceId);
      const member = agent.member("agent");
      const wrap = await p.wrapKey(customer, member, TENANT, CONVERSATION, 1, keys[1]);
      const hi = await p.encryptMessage(agent, TENANT, CONVERSATION, 1, keys[1], 1, text("Hi"));
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
        { type: "file", name: "x.pdf", sent_at: "2026-11-28T09:00:00Z" },
        text("x".repeat(8001)),
        { type: "text", body: "Hi" },
        text(Number.NaN),
        ["text", "Hi"],
        undefined,
      ];
      for (const plaintext of refused) {
        const key = p.newEpochKey();
        await assert.rejects(
          p.encryptMessage(sender, TENANT, CONVERSATION, 0, key, 1, plaintext),
          TypeError,
        );
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
      const hi = await p.encryptMessage(agent, TENANT, CONVERSATION, 1, keys[1], 1, text("Hi"));
      for (const item of [records[1], wrap, hi, member]) {
        const travelled = JSON.parse(JSON.stringify(item));
        assert.deepEqual(item.constructor.fromJSON(travelled), item);
      }
    });
  });
}
