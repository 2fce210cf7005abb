// A conversation's transcript, made in the browser from what it decrypted and verified (the server
// holds only ciphertext): as plain text, and as an HTML page to print or keep. Messages, file
// names, notices and what this browser refused, each with who wrote it and when, in the reader's
// language. A name only the server vouches for (a `joined` notice's, where no organisation key
// is pinned) says so; names lose line breaks and direction marks, and a message's own lines are
// indented, so that nothing anyone wrote reads as a line of the transcript's own.
import { refusalText } from "./chat.js";
import { gettext, language } from "./i18n.js";

const CONTROLS = /[\u0000-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069]+/g;

function nameOf(view, sender) {
  const { name, source } = view.senderOf(sender);
  const plain = name.replace(CONTROLS, " ").trim();
  return source === "server" ? `${plain} ${gettext("(unverified)")}` : plain;
}

/** Return the transcript's lines ({who, when, text}) of VIEW (a ConversationView). */
export function transcriptLines(view) {
  const lines = [];
  for (const item of view.items) {
    const content = item.content ?? {};
    let text = null;
    if (item.kind === "message" && content.type === "file") text = gettext("File: {file}", { file: content.name });
    else if (item.kind === "message") text = content.type === "prechat" ? content.question : content.body;
    else if (item.kind === "notice" || item.kind === "members") text = content.text;
    else if (item.kind === "warning") text = refusalText(content.code);
    else if (item.kind === "held") text = gettext("A message is waiting for its key…");
    if (typeof text !== "string") continue;
    const at = new Date(content.sent_at ?? Number.NaN);
    const when = Number.isNaN(at.getTime()) ? "" : at.toLocaleString(language(), { dateStyle: "short", timeStyle: "short" });
    lines.push({ who: item.sender && item.kind === "message" ? nameOf(view, item.sender) : "", when, text });
  }
  return lines;
}

/** Return the transcript of VIEW as text, headed by TITLE. */
export function transcriptText(view, title) {
  const body = transcriptLines(view).map(({ who, when, text }) => {
    const head = [when && `[${when}]`, who && `${who}:`].filter(Boolean).join(" ");
    const own = text.split(/\r\n|\r|\n/).join("\n    ");
    return head ? `${head} ${own}` : own;
  });
  return `${title.replace(CONTROLS, " ")}\n\n${body.join("\n")}\n`;
}

const STYLE =
  "body{font:14px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;color:#111}" +
  "li{margin:.4rem 0;list-style:none}.meta{color:#555;font-size:12px}.notice{color:#555;font-style:italic}" +
  "p{white-space:pre-wrap;margin:0}";

const escape = (text) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Return the transcript of VIEW as a whole HTML page, headed by TITLE; every text is escaped.
 * A string, not a document built here: a style element made in this page would break its CSP. */
export function transcriptHtml(view, title) {
  const rows = transcriptLines(view).map(({ who, when, text }) => {
    const meta = who || when ? `<div class="meta">${escape([who, when].filter(Boolean).join(" · "))}</div>` : "";
    return `<li${who ? "" : ' class="notice"'}>${meta}<p>${escape(text)}</p></li>`;
  });
  return `<!DOCTYPE html>
<html lang="${escape(language())}"><head><meta charset="utf-8"><title>${escape(title)}</title><style>${STYLE}</style></head>
<body><h1>${escape(title)}</h1><ol>
${rows.join("\n")}
</ol></body></html>
`;
}
