// The widget's styles, adopted by its shadow root as a constructed stylesheet: the host page's
// CSS cannot reach in, ours cannot leak out, and no inline style is needed (CSP).
export const WIDGET_CSS = `
:host { all: initial; }
* { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
[hidden] { display: none !important; }
.launcher {
  position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
  background: #1f5fbf; color: #fff; border: none; border-radius: 24px;
  padding: 12px 20px; font-size: 15px; cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.25);
}
.launcher:focus-visible, button:focus-visible, input:focus-visible, textarea:focus-visible, select:focus-visible {
  outline: 3px solid #8fb5f0; outline-offset: 2px;
}
.panel {
  position: fixed; right: 20px; bottom: 80px; z-index: 2147483000;
  width: min(380px, calc(100vw - 40px)); height: min(560px, calc(100vh - 110px));
  display: flex; flex-direction: column; background: #fff; color: #1d2430;
  border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.25); overflow: hidden; font-size: 14px;
}
header { display: flex; align-items: center; gap: 8px; padding: 10px 12px; background: #1f5fbf; color: #fff; }
h2 { font-size: 15px; margin: 0; flex: 1; }
.status { font-size: 12px; }
.status[data-state="closed"] { color: #ffd7d7; }
.minimize { background: none; border: none; color: #fff; font-size: 20px; cursor: pointer; line-height: 1; }
.e2e { margin: 0; padding: 6px 12px; background: #e9f5ee; color: #1b5e3b; font-size: 12px; }
.body { flex: 1; display: flex; flex-direction: column; overflow: hidden; padding: 10px 12px; gap: 8px; }
.prechat { display: flex; flex-direction: column; gap: 8px; overflow-y: auto; }
.prechat p { margin: 0; }
.prechat .disclosure { font-size: 12px; color: #5b6472; background: #f4f6f9; border-radius: 6px; padding: 6px 8px; }
label { display: flex; flex-direction: column; gap: 3px; font-size: 13px; }
input, textarea, select { font: inherit; padding: 7px; border: 1px solid #c9d0da; border-radius: 6px; width: 100%; }
button { font: inherit; cursor: pointer; }
.primary { background: #1f5fbf; color: #fff; border: none; border-radius: 6px; padding: 8px 14px; }
.primary:disabled { opacity: .6; }
.secondary { background: #fff; color: #1f5fbf; border: 1px solid #1f5fbf; border-radius: 6px; padding: 6px 12px; align-self: flex-start; }
.prechat .hours { font-size: 13px; color: #7a4b00; background: #fff4e0; border-radius: 6px; padding: 6px 8px; }
.length { margin: 0; font-size: 12px; color: #5b6472; }
.length:empty { display: none; }
.length.over { color: #b42318; }
.confirm-end { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; background: #fff4e0; border-radius: 6px; padding: 6px 8px; }
.confirm-end p { margin: 0; flex-basis: 100%; font-size: 13px; }
.link { background: none; border: none; color: #1f5fbf; text-decoration: underline; padding: 0; font-size: 12px; }
.state { margin: 0; font-size: 13px; color: #5b6472; }
.messages { list-style: none; margin: 0; padding: 0; flex: 1; overflow-y: auto; display: flex; flex-direction: column; gap: 6px; }
.message { max-width: 85%; padding: 7px 10px; border-radius: 10px; white-space: pre-wrap; overflow-wrap: anywhere; }
.message.me { align-self: flex-end; background: #1f5fbf; color: #fff; }
.message.them { align-self: flex-start; background: #eef1f5; }
.pending { opacity: .7; font-size: 11px; }
.notice { align-self: center; font-size: 12px; color: #5b6472; }
.warning, .error { color: #b42318; background: #fde8e8; padding: 6px 8px; border-radius: 6px; font-size: 12px; }
.typing { margin: 0; font-size: 12px; color: #5b6472; }
.composer { display: flex; gap: 6px; }
.composer textarea { resize: none; }
.attach { background: #eef1f5; border: 1px solid #c9d0da; border-radius: 6px; padding: 0 12px; font-size: 18px; }
.transfers { list-style: none; margin: 0; padding: 0; font-size: 12px; }
.transfers li { display: flex; gap: 6px; align-items: center; }
.preview { display: block; max-width: 220px; max-height: 160px; margin-top: 6px; border-radius: 6px; }
.message.file .link { color: inherit; }
.actions { display: flex; justify-content: space-between; }
.fingerprint { font-size: 11px; color: #5b6472; }
.fingerprint code { display: block; word-spacing: 4px; }
.rating p { margin: 0 0 4px; font-size: 13px; }
.rating .scores { display: flex; gap: 6px; }
.rating .scores button { flex: 1; padding: 6px 0; border: 1px solid #c9d0da; border-radius: 6px; background: #fff; color: #1d2430; }
.rating .scores button[aria-pressed="true"] { background: #1f5fbf; border-color: #1f5fbf; color: #fff; }
.rating .scores button:disabled { cursor: default; }
.rating .rating-status { margin: 4px 0 0; font-size: 12px; color: #5b6472; }
.notice-offer { flex-shrink: 0; display: flex; flex-direction: column; gap: 6px; background: #f4f6f9; border-radius: 6px; padding: 6px 8px; }
.notice-offer .check { flex-direction: row; align-items: center; gap: 6px; }
.notice-offer .check input { width: auto; }
.notice-offer .disclosure, .notice-offer .notice-status { margin: 0; font-size: 12px; color: #5b6472; }
.notice-offer .notice-status:empty { display: none; }
.notice-fields { display: flex; flex-direction: column; gap: 6px; }
.rating-comment { display: flex; flex-direction: column; gap: 4px; margin-top: 6px; }
.rating-comment .disclosure, .rating-comment .comment-status { margin: 0; font-size: 12px; color: #5b6472; }
.rating-comment .comment-status:empty { display: none; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;
