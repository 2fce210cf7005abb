// The widget's styles (static/widget/widget.css), adopted by its shadow root as a constructed
// stylesheet: the host page's CSS cannot reach in, ours cannot leak out, and no inline style is
// needed (CSP). scripts/build-widget minifies the file with esbuild and puts it here as a string.
/* global SEALDESK_CSS */
export const WIDGET_CSS = SEALDESK_CSS;
