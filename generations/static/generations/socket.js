// A WebSocket to /ws/generations/ that reconnects by itself with backoff.
//
// The socket is only a viewer: closing it never stops or loses a generation (contract §3),
// so after any drop the page reconnects and re-subscribes. `onOpen` is called on every
// (re)connection and sends whatever the page needs first (`generate` once, `subscribe` after).

const BASE_DELAY_MS = 400;
const MAX_DELAY_MS = 8000;
// While a generation runs the server sends frames often; this much silence means a connection
// that died without telling us (a half-open TCP connection never fires `close`).
const SILENCE_MS = 25000;

export class GenerationSocket {
  constructor({ onFrame, onOpen, onState }) {
    this.onFrame = onFrame;
    this.onOpen = onOpen;
    this.onState = onState;
    this.ws = null;
    this.wanted = false; // reconnect when the connection drops
    this.attempts = 0;
    this.retryTimer = null;
    this.watchdog = null;
    this.lastMessageAt = 0;
    this.state = "idle";
    window.addEventListener("online", () => {
      if (this.wanted && this.state === "reconnecting") this.connectNow();
    });
  }

  get isOpen() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.onState?.(state);
  }

  /** Connect (if not already) and keep reconnecting until `stop()`. */
  start() {
    this.wanted = true;
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) return;
    this.connectNow();
  }

  /** Close on purpose: no reconnecting. */
  stop() {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    this.watchdog = null;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "done");
    this.setState("idle");
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  connectNow() {
    clearTimeout(this.retryTimer);
    const old = this.ws;
    this.ws = null;
    if (old && old.readyState <= WebSocket.OPEN) old.close();

    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/generations/`);
    this.ws = ws;
    if (this.state !== "reconnecting") this.setState("connecting");

    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      this.lastMessageAt = Date.now();
      this.setState("open");
      this.startWatchdog();
      this.onOpen?.(this.attempts > 0);
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      this.lastMessageAt = Date.now();
      this.attempts = 0; // the server answers: the connection is healthy again
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame && typeof frame === "object") this.onFrame(frame);
    });
    ws.addEventListener("close", () => {
      if (ws !== this.ws) return; // replaced, or closed on purpose
      this.ws = null;
      this.dropped();
    });
  }

  dropped() {
    clearInterval(this.watchdog);
    this.watchdog = null;
    if (!this.wanted) {
      this.setState("idle");
      return;
    }
    // Exponential backoff with jitter, so many tabs do not return in lockstep.
    const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempts);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempts += 1;
    this.setState("reconnecting");
    this.retryTimer = setTimeout(() => this.connectNow(), delay);
  }

  startWatchdog() {
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => {
      if (this.wanted && this.isOpen && Date.now() - this.lastMessageAt > SILENCE_MS) {
        const ws = this.ws;
        this.ws = null;
        ws.close();
        this.dropped();
      }
    }, 1000);
  }
}
