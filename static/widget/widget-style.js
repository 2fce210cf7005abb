// The widget's styles, adopted by its shadow root as a constructed stylesheet: the host page's
// CSS cannot reach in, ours cannot leak out, and no inline style is needed (CSP).
// Colours are custom properties: light, or dark by prefers-color-scheme, each pair at least 4.5:1
// (WCAG AA; tests/test_accessibility_browser.py runs axe on both). --sd-brand is the tenant's
// colour (static/widget/brand.js), on which white text reaches 4.5:1 (agents/branding.py); in dark
// mode, text in the brand's hue takes the lighter --sd-link instead.
export const WIDGET_CSS = `
:host {
  all: initial;
  --sd-font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  --sd-brand: #1f5fbf; --sd-link: var(--sd-brand);
  --sd-bg: #fff; --sd-ink: #1d2430; --sd-muted: #5b6472; --sd-line: #c9d0da; --sd-soft: #eef1f5; --sd-subtle: #f4f6f9;
  --sd-ok-bg: #e9f5ee; --sd-ok-ink: #1b5e3b; --sd-warn-bg: #fff4e0; --sd-warn-ink: #7a4b00;
  --sd-err-bg: #fde8e8; --sd-err-ink: #b42318; --sd-focus: #8fb5f0;
  color-scheme: light; font-family: var(--sd-font);
}
@media (prefers-color-scheme: dark) {
  :host {
    --sd-link: #9cc3ff;
    --sd-bg: #1b1f27; --sd-ink: #e7eaf0; --sd-muted: #aab2bf; --sd-line: #4b5462; --sd-soft: #2b313c; --sd-subtle: #242a33;
    --sd-ok-bg: #17362a; --sd-ok-ink: #a6e3c0; --sd-warn-bg: #3a2d12; --sd-warn-ink: #ffd48a;
    --sd-err-bg: #41201f; --sd-err-ink: #ffb4ab; --sd-focus: #9cc3ff;
    color-scheme: dark;
  }
}
* { box-sizing: border-box; font-family: var(--sd-font); }
[hidden] { display: none !important; }
.launcher {
  position: fixed; right: var(--sd-right, 20px); left: var(--sd-left, auto); bottom: 20px; z-index: 2147483000;
  background: var(--sd-brand); color: #fff; border: none; border-radius: 24px;
  padding: 12px 20px; font-size: 15px; line-height: 1.2; cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.25);
}
.launcher:focus-visible, button:focus-visible, input:focus-visible, textarea:focus-visible, select:focus-visible {
  outline: 3px solid var(--sd-focus); outline-offset: 2px;
}
.panel {
  position: fixed; right: var(--sd-right, 20px); left: var(--sd-left, auto); bottom: 80px; z-index: 2147483000;
  width: min(380px, calc(100vw - 40px)); height: min(560px, calc(100vh - 110px));
  display: flex; flex-direction: column; background: var(--sd-bg); color: var(--sd-ink);
  border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.25); overflow: hidden; font-size: 14px; line-height: 1.4;
}
/* The title and, under it, the connection's status: each one line, cut with an ellipsis. */
header {
  display: grid; grid-template-columns: minmax(0, 1fr) auto; align-items: center; column-gap: 8px;
  padding: 8px 12px; background: var(--sd-brand); color: #fff;
}
h2, .status { grid-column: 1; min-width: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
h2 { font-size: 15px; margin: 0; }
.status { font-size: 12px; }
.status:empty { display: none; }
header:has(.status:empty) h2 { grid-row: 1 / span 2; }
.status[data-state="closed"] { font-weight: 600; }
.minimize {
  grid-column: 2; grid-row: 1 / span 2; min-width: 44px; min-height: 44px;
  background: none; border: none; color: #fff; font-size: 22px; cursor: pointer; line-height: 1;
}
.e2e { margin: 0; padding: 6px 12px; background: var(--sd-ok-bg); color: var(--sd-ok-ink); font-size: 12px; }
.body { flex: 1; display: flex; flex-direction: column; overflow: hidden; padding: 10px 12px; gap: 8px; }
.prechat { display: flex; flex-direction: column; gap: 8px; overflow-y: auto; }
.prechat p { margin: 0; }
.prechat .disclosure { font-size: 12px; color: var(--sd-muted); background: var(--sd-subtle); border-radius: 6px; padding: 6px 8px; }
label { display: flex; flex-direction: column; gap: 3px; font-size: 13px; }
input, textarea, select {
  font: inherit; padding: 7px; border: 1px solid var(--sd-line); border-radius: 6px; width: 100%;
  background: var(--sd-bg); color: var(--sd-ink);
}
/* Form controls take the widget's font, not the browser's default for them nor the page's. */
button, input, textarea, select { font-family: var(--sd-font); }
button { font-size: inherit; line-height: inherit; cursor: pointer; }
::placeholder { color: var(--sd-muted); opacity: 1; }
.primary { background: var(--sd-brand); color: #fff; border: none; border-radius: 6px; padding: 8px 14px; }
.primary:disabled { opacity: .6; }
.secondary { background: var(--sd-bg); color: var(--sd-link); border: 1px solid var(--sd-link); border-radius: 6px; padding: 6px 12px; align-self: flex-start; }
.prechat .hours { font-size: 13px; color: var(--sd-warn-ink); background: var(--sd-warn-bg); border-radius: 6px; padding: 6px 8px; }
.length { margin: 0; font-size: 12px; color: var(--sd-muted); }
.length:empty { display: none; }
.length.over { color: var(--sd-err-ink); }
.confirm-end { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; background: var(--sd-warn-bg); color: var(--sd-warn-ink); border-radius: 6px; padding: 6px 8px; }
.confirm-end p { margin: 0; flex-basis: 100%; font-size: 13px; }
.link { background: none; border: none; color: var(--sd-link); text-decoration: underline; padding: 0; font-size: 12px; }
.state { margin: 0; font-size: 13px; color: var(--sd-muted); }
.log { flex: 1; min-height: 0; display: flex; flex-direction: column; }
.messages { list-style: none; margin: 0; padding: 0; flex: 1; min-height: 0; overflow-y: auto; display: flex; flex-direction: column; gap: 6px; }
.message { max-width: 85%; padding: 7px 10px; border-radius: 10px; white-space: pre-wrap; overflow-wrap: anywhere; }
.message.me { align-self: flex-end; background: var(--sd-brand); color: #fff; }
.message.them { align-self: flex-start; background: var(--sd-soft); color: var(--sd-ink); }
.pending { font-size: 11px; }
.byline { display: block; font-size: 11px; opacity: .85; margin-bottom: 2px; }
.badge { display: inline-block; min-width: 20px; margin-inline-start: 8px; padding: 1px 6px; border-radius: 10px; background: #b42318; color: #fff; font-size: 12px; font-weight: 600; text-align: center; }
.sound { flex-direction: row; align-items: center; gap: 4px; font-size: 12px; color: var(--sd-muted); }
.sound input { width: auto; }
.notice { align-self: center; font-size: 12px; color: var(--sd-muted); }
.warning, .error { color: var(--sd-err-ink); background: var(--sd-err-bg); padding: 6px 8px; border-radius: 6px; font-size: 12px; }
.typing { margin: 0; font-size: 12px; color: var(--sd-muted); }
.composer { display: flex; gap: 6px; }
.composer textarea { resize: none; }
.attach { background: var(--sd-soft); color: var(--sd-ink); border: 1px solid var(--sd-line); border-radius: 6px; padding: 0 12px; font-size: 18px; }
.transfers { list-style: none; margin: 0; padding: 0; font-size: 12px; }
.transfers li { display: flex; gap: 6px; align-items: center; }
.preview { display: block; max-width: 220px; max-height: 160px; margin-top: 6px; border-radius: 6px; }
.message.file .link { color: inherit; }
.actions { display: flex; justify-content: space-between; }
.fingerprint { font-size: 11px; color: var(--sd-muted); }
.fingerprint code { display: block; word-spacing: 4px; }
.rating p { margin: 0 0 4px; font-size: 13px; }
.rating .scores { display: flex; gap: 6px; }
.rating .scores button { flex: 1; padding: 6px 0; border: 1px solid var(--sd-line); border-radius: 6px; background: var(--sd-bg); color: var(--sd-ink); }
.rating .scores button[aria-pressed="true"] { background: var(--sd-brand); border-color: var(--sd-brand); color: #fff; }
.rating .scores button:disabled { cursor: default; }
.rating .rating-status { margin: 4px 0 0; font-size: 12px; color: var(--sd-muted); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
/* Phones: the panel is the whole screen. 100dvh is the height left above the on-screen keyboard
   (where the browser resizes the visual viewport), so the composer stays in view as one types;
   100vh first, for browsers without dvh. The minimize button closes it back to the launcher. */
@media (max-width: 480px) {
  .panel { inset: 0; width: 100vw; height: 100vh; height: 100dvh; border-radius: 0; box-shadow: none; }
  .launcher { bottom: max(12px, env(safe-area-inset-bottom)); }
  .message { max-width: 92%; }
  input, textarea, select { font-size: 16px; } /* below 16 px, phones zoom the page on focus */
}
`;
