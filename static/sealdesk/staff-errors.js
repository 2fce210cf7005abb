// The sentences for error codes that only staff meet (offers, colleagues, supervision, devices
// and the organisation key), added to errors.js's by the staff's pages that import this module;
// the widget does not, so that its bundle stays small (tests/js/errors.test.mjs checks that every
// code has a sentence in one of the two).
import { REFUSALS } from "./chat.js";
import { SENTENCES } from "./errors.js";
import { gettext_noop } from "./i18n.js";

export const STAFF_SENTENCES = Object.freeze({
  forbidden: gettext_noop("You are no longer signed in as an agent. Sign in again."),
  two_factor_required: gettext_noop("Your sign-in needs its second step: reload the page and enter the code from your authenticator app."),
  unknown_device: gettext_noop("This browser's keys are not registered yet. Reload the page."),
  device_revoked: gettext_noop("This browser was withdrawn by your organisation. Reload the page to set it up again."),
  device_not_certified: gettext_noop("An administrator of your organisation has not approved this browser yet."),
  no_org_key: gettext_noop("Your organisation has not made its organisation key yet; an administrator does that."),
  conversation_taken: gettext_noop("Another agent has taken this conversation."),
  conversation_not_active: gettext_noop("Nobody has taken this conversation yet."),
  not_staff: gettext_noop("Staff notes go only between staff."),
  unknown_offer: gettext_noop("That chat is no longer offered to you."),
  offer_gone: gettext_noop("That offer has timed out or was taken back."),
  invalid_presence: gettext_noop("That is not a status you can choose."),
  invalid_disposition: gettext_noop("Choose a wrap-up before closing the conversation."),
  invalid_purpose: gettext_noop("Choose whether the colleague should join or take over."),
  unknown_agent: gettext_noop("There is no such colleague who can be asked in."),
  already_in_conversation: gettext_noop("That person is in this conversation already."),
  already_invited: gettext_noop("That colleague has been asked already."),
  agent_unavailable: gettext_noop("That colleague is not available, or has no free chat slot."),
  last_agent: gettext_noop("You are the only agent here: transfer the conversation, park it or close it instead."),
  agents_remain: gettext_noop("Another agent is in this conversation: leave it to them instead."),
  customer_unpinned: gettext_noop("This customer's chat cannot go back to a queue; ask a colleague in instead."),
  invalid_page: gettext_noop("This page asked for a part of your history that does not exist. Reload the page."),
  message_left: gettext_noop("The customer left a message: pick it up from the offline messages."),
  not_addressed: gettext_noop("This message was encrypted to your other browser: pick it up there."),
  supervision_off: gettext_noop("Your organisation's supervision policy does not allow that in this conversation."),
  supervisor_monitoring: gettext_noop("You are monitoring this conversation: barge in first."),
  invalid_rotation: gettext_noop("The new organisation key must be handed over by the current one."),
  invalid_certificate: gettext_noop("The approval could not be checked, so it was not saved. Reload the page."),
  invalid_revocation: gettext_noop("The withdrawal could not be checked, so it was not saved. Reload the page."),
  invalid_share: gettext_noop("The organisation key could not be handed over. Try again."),
});

Object.assign(SENTENCES, STAFF_SENTENCES);

// What a refused staff note means (chat.js, refusalText): only staff open notes.
Object.assign(REFUSALS, {
  not_staff: gettext_noop("A staff-only message comes from someone who is not staff: it is refused."),
  withheld_staff_key: gettext_noop("A staff note came without the key its writer shared: the server may have withheld it."),
});
