// What each error code means to the person who sees it: one plain sentence, shared by the
// dashboard and the widget, so that nobody reads a raw code (docs/PROTOCOL.md, "Error codes";
// tests/js/errors.test.mjs checks that every code the server can send has one). The server's
// own detail is for developers and logs. The codes only staff meet are in staff-errors.js, which
// the staff's pages import: the widget's bundle carries only what a customer can be told.

import { gettext, gettext_noop } from "./i18n.js";

export const SENTENCES = {
  // The connection, and requests the app itself got wrong.
  disconnected: gettext_noop("The connection dropped. It is coming back; try again in a moment."),
  timeout: gettext_noop("The server did not answer in time. Try again in a moment."),
  network: gettext_noop("The connection dropped, so the transfer stopped. Try again."),
  http_error: gettext_noop("The server could not do that just now. Try again in a moment."),
  cancelled: gettext_noop("It was cancelled."),
  bad_upload: gettext_noop("The server named the file wrongly, so it was not sent."),
  frame_too_large: gettext_noop("That was too large to send in one go."),
  malformed_frame: gettext_noop("This page sent something the server did not understand. Reload the page."),
  unknown_type: gettext_noop("This page asked for something the server does not do. Reload the page."),
  internal_error: gettext_noop("The server could not do that just now; nothing was changed. Try again."),
  method_not_allowed: gettext_noop("This page asked for something the server does not do. Reload the page."),
  malformed_body: gettext_noop("This page sent something the server did not understand. Reload the page."),
  body_too_large: gettext_noop("That was too large to send."),
  // Who may do what.
  not_authenticated: gettext_noop("The chat has not connected yet. Try again in a moment."),
  already_authenticated: gettext_noop("This chat is connected already."),
  not_found: gettext_noop("That no longer exists, or is not yours to see."),
  origin_not_allowed: gettext_noop("This website may not use this chat."),
  not_a_participant: gettext_noop("You are no longer in this conversation."),
  // The conversation's state.
  conversation_closed: gettext_noop("This conversation has ended; nothing more can be sent in it."),
  conversation_parked: gettext_noop("This conversation is on hold until the customer writes again."),
  // Messages and encryption (what this browser sent did not fit).
  malformed_envelope: gettext_noop("The message could not be sent. Reload the page and try again."),
  wrong_sender: gettext_noop("The message could not be sent. Reload the page and try again."),
  bad_signature: gettext_noop("The message could not be sent. Reload the page and try again."),
  message_too_large: gettext_noop("That message is too long. Split it into shorter ones."),
  seq_out_of_order: gettext_noop("Messages got out of step with the server. Reload the page; nothing is lost."),
  seq_conflict: gettext_noop("This message was sent differently from another tab. Reload the page."),
  unknown_epoch: gettext_noop("The conversation's key changed meanwhile. Try again."),
  malformed_epoch: gettext_noop("The conversation's keys could not be updated. Reload the page."),
  bad_epoch: gettext_noop("The conversation's keys could not be updated. Reload the page."),
  epoch_conflict: gettext_noop("Someone else updated the conversation's keys at the same moment. Try again."),
  wrong_conversation: gettext_noop("The conversation's keys could not be updated. Reload the page."),
  malformed_wraps: gettext_noop("The conversation's keys could not be shared. Reload the page."),
  team_closed: gettext_noop("This team is closed now. You can leave a message instead."),
  messages_unavailable: gettext_noop("A message cannot be left here just now. Please try again later."),
  unknown_team: gettext_noop("Choose one of the teams offered."),
  // The customer's start.
  invalid_key: gettext_noop("This browser's keys were refused. Reload the page."),
  device_exists: gettext_noop("This browser's keys are in use already. Reload the page."),
  invalid_language: gettext_noop("Your browser's language setting could not be read. Reload the page."),
  rate_limited: gettext_noop("This is busy just now. Try again soon."),
  // Files.
  invalid_size: gettext_noop("That file could not be sent."),
  file_too_large: gettext_noop("That file is larger than this chat allows."),
  quota_exceeded: gettext_noop("This conversation has no room for more files."),
  invalid_part: gettext_noop("That file could not be sent. Try again."),
  part_exists: gettext_noop("That file could not be sent. Try again."),
  size_mismatch: gettext_noop("That file could not be sent. Try again."),
  upload_complete: gettext_noop("That file was sent already."),
  upload_incomplete: gettext_noop("That file has not arrived completely yet."),
  invalid_hash: gettext_noop("That file could not be sent. Try again."),
  hash_mismatch: gettext_noop("That file changed on the way, so it was not sent. Try again."),
  // The e-mail notice of a message left.
  invalid_email: gettext_noop("That is not an e-mail address. Check it, for example name@example.com."),
  notice_unavailable: gettext_noop("An e-mail notice is only for a message left and not yet answered."),
  // Rating a chat.
  invalid_score: gettext_noop("Choose a rating from 1 to 5."),
  not_closed: gettext_noop("You can rate this chat once it has ended."),
  already_rated: gettext_noop("You have rated this chat already. Thank you."),
  not_rated: gettext_noop("Choose a rating first; your comment goes with it."),
  already_commented: gettext_noop("You have commented on this chat already. Thank you."),
};

/** Return the sentence for error CODE, or a plain fallback for a code this page does not know;
 * RETRY_AFTER (seconds, from the answer's Retry-After) says when to try again. Only its number
 * is shown: the header is the server's to write, and the sentence is the page's own voice. */
export function sentence(code, retryAfter) {
  const seconds = parseInt(retryAfter);
  if (code === "rate_limited" && seconds > 0) {
    return gettext("This is busy just now. Try again in {seconds} s.", { seconds });
  }
  return gettext(SENTENCES[code] ?? "Something went wrong; nothing was changed. Try again.");
}
