// What draws a person back to a chat out of sight, shared by the dashboard (static/agents/
// attention.js) and the widget: the page's title led by the unread count, and a chime.

/** Return the page's title with COUNT unread messages before BASE: "(2) Acme · Sealdesk". */
export function titleWith(base, count) {
  return count > 0 ? `(${count}) ${base}` : base;
}

let audio = null;

/** Play a short chime, made by the Web Audio API (no sound file to fetch). */
export function playChime() {
  try {
    audio ??= new AudioContext();
    if (audio.state === "suspended") audio.resume().catch(() => {});
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.4);
  } catch {
    // No audio device (or none allowed before the page was touched): the title still says it.
  }
}
