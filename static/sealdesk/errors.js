// What each error code means to the person who sees it: one plain sentence, shared by the
// dashboard and the widget, so that nobody reads a raw code (docs/PROTOCOL.md, "Error codes";
// tests/js/errors.test.mjs checks that every code the server can send has one). The server's
// own detail is for developers and logs.

export const SENTENCES = Object.freeze({
  // The connection, and requests the app itself got wrong.
  disconnected: "The connection dropped. It is coming back; try again in a moment.",
  timeout: "The server did not answer in time. Try again in a moment.",
  network: "The connection dropped, so the transfer stopped. Try again.",
  http_error: "The server could not do that just now. Try again in a moment.",
  cancelled: "It was cancelled.",
  bad_upload: "The server named the file wrongly, so it was not sent.",
  frame_too_large: "That was too large to send in one go.",
  malformed_frame: "This page sent something the server did not understand. Reload the page.",
  unknown_type: "This page asked for something the server does not do. Reload the page.",
  internal_error: "The server could not do that just now; nothing was changed. Try again.",
  method_not_allowed: "This page asked for something the server does not do. Reload the page.",
  malformed_body: "This page sent something the server did not understand. Reload the page.",
  body_too_large: "That was too large to send.",
  // Who may do what.
  forbidden: "You are no longer signed in as an agent. Sign in again.",
  not_authenticated: "The chat has not connected yet. Try again in a moment.",
  already_authenticated: "This chat is connected already.",
  not_found: "That no longer exists, or is not yours to see.",
  origin_not_allowed: "This website may not use this chat.",
  unknown_device: "This browser's keys are not registered yet. Reload the page.",
  not_a_participant: "You are no longer in this conversation.",
  device_revoked: "This browser was withdrawn by your organisation. Reload the page to set it up again.",
  device_not_certified: "An administrator of your organisation has not approved this browser yet.",
  no_org_key: "Your organisation has not made its organisation key yet; an administrator does that.",
  // The conversation's state.
  conversation_closed: "This conversation has ended; nothing more can be sent in it.",
  conversation_taken: "Another agent has taken this conversation.",
  conversation_not_active: "Nobody has taken this conversation yet.",
  conversation_parked: "This conversation is on hold until the customer writes again.",
  // Messages and encryption (what this browser sent did not fit).
  malformed_envelope: "The message could not be sent. Reload the page and try again.",
  wrong_sender: "The message could not be sent. Reload the page and try again.",
  bad_signature: "The message could not be sent. Reload the page and try again.",
  message_too_large: "That message is too long. Split it into shorter ones.",
  seq_out_of_order: "Messages got out of step with the server. Reload the page; nothing is lost.",
  seq_conflict: "This message was sent differently from another tab. Reload the page.",
  unknown_epoch: "The conversation's key changed meanwhile. Try again.",
  malformed_epoch: "The conversation's keys could not be updated. Reload the page.",
  bad_epoch: "The conversation's keys could not be updated. Reload the page.",
  epoch_conflict: "Someone else updated the conversation's keys at the same moment. Try again.",
  wrong_conversation: "The conversation's keys could not be updated. Reload the page.",
  malformed_wraps: "The conversation's keys could not be shared. Reload the page.",
  not_staff: "Staff notes go only between staff.",
  // Offers, colleagues and supervision.
  unknown_offer: "That chat is no longer offered to you.",
  offer_gone: "That offer has timed out or was taken back.",
  invalid_presence: "That is not a status you can choose.",
  invalid_disposition: "Choose a wrap-up before closing the conversation.",
  invalid_purpose: "Choose whether the colleague should join or take over.",
  unknown_agent: "There is no such colleague who can be asked in.",
  already_in_conversation: "That person is in this conversation already.",
  already_invited: "That colleague has been asked already.",
  agent_unavailable: "That colleague is not available, or has no free chat slot.",
  last_agent: "You are the only agent here: transfer the conversation, park it or close it instead.",
  agents_remain: "Another agent is in this conversation: leave it to them instead.",
  customer_unpinned: "This customer's chat cannot go back to a queue; ask a colleague in instead.",
  invalid_page: "This page asked for a part of your history that does not exist. Reload the page.",
  team_closed: "This team is closed now. You can leave a message instead.",
  message_left: "The customer left a message: pick it up from the offline messages.",
  messages_unavailable: "A message cannot be left here just now. Please try again later.",
  not_addressed: "This message was encrypted to your other browser: pick it up there.",
  supervision_off: "Your organisation's supervision policy does not allow that in this conversation.",
  supervisor_monitoring: "You are monitoring this conversation: barge in first.",
  unknown_team: "Choose one of the teams offered.",
  // The customer's start.
  invalid_key: "This browser's keys were refused. Reload the page.",
  device_exists: "This browser's keys are in use already. Reload the page.",
  invalid_language: "Your browser's language setting could not be read. Reload the page.",
  rate_limited: "Too many chats were started from here. Wait a little and try again.",
  // Files.
  invalid_size: "That file could not be sent.",
  file_too_large: "That file is larger than this chat allows.",
  quota_exceeded: "This conversation has no room for more files.",
  invalid_part: "That file could not be sent. Try again.",
  part_out_of_order: "That file could not be sent. Try again.",
  size_mismatch: "That file could not be sent. Try again.",
  upload_complete: "That file was sent already.",
  upload_incomplete: "That file has not arrived completely yet.",
  invalid_hash: "That file could not be sent. Try again.",
  hash_mismatch: "That file changed on the way, so it was not sent. Try again.",
  // The organisation page.
  invalid_rotation: "The new organisation key must be handed over by the current one.",
  invalid_certificate: "The approval could not be checked, so it was not saved. Reload the page.",
  invalid_revocation: "The withdrawal could not be checked, so it was not saved. Reload the page.",
  invalid_share: "The organisation key could not be handed over. Try again.",
  // The e-mail notice of a message left.
  invalid_email: "That is not an e-mail address. Check it, for example name@example.com.",
  notice_unavailable: "An e-mail notice is only for a message left and not yet answered.",
  // Rating a chat.
  invalid_score: "Choose a rating from 1 to 5.",
  not_closed: "You can rate this chat once it has ended.",
  already_rated: "You have rated this chat already. Thank you.",
  not_rated: "Choose a rating first; your comment goes with it.",
  already_commented: "You have commented on this chat already. Thank you.",
});

/** Return the sentence for error CODE, or a plain fallback for a code this page does not know;
 * RETRY_AFTER (seconds, from the answer's Retry-After) says when to try again. */
export function sentence(code, retryAfter = null) {
  if (code === "rate_limited" && retryAfter) {
    return `Too many chats were started from here. Try again in ${retryAfter} s.`;
  }
  return SENTENCES[code] ?? "Something went wrong; nothing was changed. Try again.";
}
