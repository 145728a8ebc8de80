// <offhook-phone>: the offhook web handset as a custom element (no framework, no build step).
//
//   <script type="module" src="http://127.0.0.1:8080/static/offhook-phone.js"></script>
//   <offhook-phone server="http://127.0.0.1:8080" token="..."></offhook-phone>
//
// The page is a controller: audio stays in the offhook engine. Everything goes over one
// WebSocket (/ws) as JSON commands and events; see docs/web.md for the protocol, the
// methods (dial, answer, hangup, hold, ...) and the DOM events (offhook-call, ...).
// Server data is only ever put in the page as text (textContent), never as HTML.

const SCRIPT_ORIGIN = new URL(import.meta.url).origin;
const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];
const LETTERS = { "2": "ABC", "3": "DEF", "4": "GHI", "5": "JKL", "6": "MNO", "7": "PQRS", "8": "TUV", "9": "WXYZ", "0": "+" };
const TALKING = ["active", "remote hold", "early media"];
const STATE_LABEL = {
  incoming: "Incoming call", dialing: "Calling…", ringing: "Ringing…", "early media": "Ringing (early media)",
  active: "Connected", held: "On hold", "remote hold": "Held by the other party",
  transferred: "Transferred", ended: "Call ended",
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(r).padStart(2, "0");
}

function safeUrl(text) {
  try {
    const u = new URL(text);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch { return null; }
}

export class OffhookPhone extends HTMLElement {
  static get observedAttributes() { return ["server", "token", "compact"]; }

  constructor() {
    super();
    this.calls = new Map();          // id -> call dict (server's)
    this.pops = new Map();           // call id -> latest screen pop
    this.quality = new Map();        // call id -> latest quality event
    this.accounts = [];
    this.contacts = [];
    this.speedDial = {};
    this.history = [];
    this.audio = {};
    this.dnd = false;
    this.connected = false;
    this._nextId = 1;
    this._waiting = new Map();
    this._offset = 0;                // server clock - local clock, s
    this._transferMode = false;
    this._retry = 500;
    this._root = this.attachShadow({ mode: "open" });
    this._build();
    this._onKey = (e) => this._key(e);
  }

  // --- public API (documented in docs/web.md) --------------------------------------------

  get server() { return (this.getAttribute("server") || SCRIPT_ORIGIN).replace(/\/+$/, ""); }
  get token() { return this.getAttribute("token"); }

  command(cmd, args = {}) {
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      if (!this.connected) { reject(new Error("not connected to the handset")); return; }
      this._waiting.set(id, { resolve, reject });
      this._ws.send(JSON.stringify({ ...args, id, cmd }));
    });
  }
  dial(target, account) { return this.command("dial", account ? { target, account } : { target }); }
  answer(call) { return this.command("answer", this._callArg(call)); }
  reject(call, status) { return this.command("reject", { ...this._callArg(call), ...(status ? { status } : {}) }); }
  hangup(call) { return this.command("hangup", this._callArg(call)); }
  hold(call) { return this.command("hold", this._callArg(call)); }
  resume(call) { return this.command("resume", this._callArg(call)); }
  swap() { return this.command("swap"); }
  mute(on, call) { return this.command("mute", { ...this._callArg(call), ...(on === undefined ? {} : { on }) }); }
  sendDtmf(digits, call) { return this.command("dtmf", { ...this._callArg(call), digits }); }
  transfer(target, call) { return this.command("transfer", { ...this._callArg(call), target }); }
  attendedTransfer(call, to) { return this.command("attended_transfer", { ...this._callArg(call), ...(to ? { to } : {}) }); }
  conference(calls) { return this.command("conference", calls ? { calls } : {}); }
  redial() { return this.command("redial"); }
  callBack() { return this.command("call_back"); }
  setDnd(on) { return this.command("dnd", { on }); }
  setVolume(level) { return this.command("volume", { level }); }
  setMicrophoneLevel(level) { return this.command("volume", { microphone: level }); }
  selectDevice(kind, name) { return this.command("select_device", { kind, name }); }
  get currentCall() { return this._current(); }

  // --- lifecycle -------------------------------------------------------------------------

  connectedCallback() {
    this._connect();
    if (this.getAttribute("keyboard") === "global") document.addEventListener("keydown", this._onKey);
    else this.addEventListener("keydown", this._onKey);
    this._tick = setInterval(() => this._renderTimers(), 1000);
  }

  disconnectedCallback() {
    document.removeEventListener("keydown", this._onKey);
    this.removeEventListener("keydown", this._onKey);
    clearInterval(this._tick);
    this._closing = true;
    if (this._ws) this._ws.close();
  }

  attributeChangedCallback(name, old, value) {
    if (name === "compact") this._body.classList.toggle("compact", value !== null);
    else if (this.isConnected && old !== value && this._ws) { this._ws.close(); }
  }

  _connect() {
    this._closing = false;
    const url = this.server.replace(/^http/, "ws") + "/ws";
    const ws = new WebSocket(url);
    this._ws = ws;
    ws.onopen = () => {
      this.connected = true;
      this._retry = 500;
      if (this.token) ws.send(JSON.stringify({ type: "auth", token: this.token }));
      this._setConn("connected");
    };
    ws.onmessage = (e) => { let m; try { m = JSON.parse(e.data); } catch { return; } this._message(m); };
    ws.onclose = (e) => {
      this.connected = false;
      for (const w of this._waiting.values()) w.reject(new Error("connection closed"));
      this._waiting.clear();
      const refused = e.code === 4401;
      this._setConn(refused ? "refused" : "offline");
      this._emit("offhook-disconnected", { code: e.code, reason: e.reason, refused });
      if (refused) this._say("The handset refused the token", true);
      if (!this._closing && !refused) {
        setTimeout(() => { if (this.isConnected) this._connect(); }, this._retry);
        this._retry = Math.min(this._retry * 2, 10000);
      }
    };
  }

  _emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }

  // --- events from the server ------------------------------------------------------------

  _message(m) {
    switch (m.type) {
      case "hello":
        this._offset = m.now - Date.now() / 1000;
        this.calls = new Map(m.calls.map((c) => [c.id, c]));
        this.accounts = m.accounts; this.contacts = m.contacts; this.speedDial = m.speed_dial;
        this.history = m.history; this.audio = m.audio; this.dnd = m.dnd; this.features = m.features;
        for (const p of m.screen_pops) this.pops.set(p.call_id, p);
        this._renderAll();
        if (m.features.devices) this.command("devices").then((r) => this._renderDevices(r.devices || []), () => {});
        this._emit("offhook-ready", m);
        break;
      case "result": {
        const w = this._waiting.get(m.id);
        if (w) {
          this._waiting.delete(m.id);
          if (m.ok) w.resolve(m);
          else { this._say(m.error, true); w.reject(Object.assign(new Error(m.error), { result: m })); this._emit("offhook-error", m); }
        }
        break;
      }
      case "call": {
        if (m.state === "incoming" && !this.calls.has(m.id)) this._say("Incoming call from " + (m.remote_name || m.number));
        this.calls.set(m.id, m);
        if (!m.live) { this.quality.delete(m.id); }
        this._pruneEnded();
        this._renderCalls(); this._renderDisplay();
        this._emit("offhook-call", m);
        break;
      }
      case "registration":
        this.accounts = this.accounts.map((a) => (a.account === m.account ? { ...a, state: m.state, reason: m.reason } : a));
        if (!this.accounts.some((a) => a.account === m.account)) this.accounts.push(m);
        this._renderStatus();
        this._emit("offhook-registration", m);
        break;
      case "screen_pop":
        this.pops.set(m.call_id, m);
        this._renderDisplay();
        this._renderCalls();
        this._emit("offhook-screenpop", m);
        break;
      case "quality":
        this.quality.set(m.call, m);
        this._renderQuality();
        this._emit("offhook-quality", m);
        break;
      case "history":
        this.history = m.entries;
        this._renderHistory();
        this._emit("offhook-history", m);
        break;
      case "dtmf":
        this._say("DTMF received: " + m.digit);
        this._emit("offhook-dtmf", m);
        break;
      case "settings":
        this.dnd = m.dnd; this.audio = m.audio;
        this._renderStatus(); this._renderAudio();
        break;
      case "error":
        this._say(m.error, true);
        this._emit("offhook-error", m);
        break;
    }
  }

  _pruneEnded() {
    const ended = [...this.calls.values()].filter((c) => !c.live);
    for (const c of ended.slice(0, Math.max(0, ended.length - 5))) { this.calls.delete(c.id); this.pops.delete(c.id); }
  }

  // --- which call ------------------------------------------------------------------------

  _live() { return [...this.calls.values()].filter((c) => c.live); }

  _current() {
    const live = this._live().reverse();
    for (const states of [TALKING, ["incoming"], ["dialing", "ringing"], ["held"]]) {
      const c = live.find((x) => states.includes(x.state));
      if (c) return c;
    }
    return null;
  }

  _callArg(call) {
    if (call === undefined || call === null) return {};
    return { call: typeof call === "string" ? call : call.id };
  }

  _run(promise) { promise.catch(() => {}); }

  // --- user input ------------------------------------------------------------------------

  _press(key) {
    const cur = this._current();
    if (cur && TALKING.includes(cur.state) && !this._transferMode) {
      this._run(this.sendDtmf(key, cur));
      this._flash(key);
      this._say("DTMF " + key);
      return;
    }
    const input = this._transferMode ? this._transferInput : this._number;
    input.value += key;
    this._flash(key);
    if (!this._transferMode && input.value.length === 1 && !cur) this._run(this.command("dialing", { on: true }));
  }

  _flash(key) {
    const b = this._pad.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (!b) return;
    b.classList.add("pressed");
    setTimeout(() => b.classList.remove("pressed"), 150);
  }

  _green() {
    const cur = this._current();
    const typed = this._number.value.trim();
    if (cur && cur.state === "incoming" && !typed) { this._run(this.answer(cur)); return; }
    if (typed) {
      this._number.value = "";
      this._run(this.command("dialing", { on: false }));
      this._run(this.dial(typed));
    } else if (!cur) {
      this._run(this.redial());
    }
  }

  _red() {
    const cur = this._current();
    if (this._number.value) { this._number.value = ""; this._run(this.command("dialing", { on: false })); return; }
    if (!cur) return;
    if (cur.state === "incoming") this._run(this.reject(cur));
    else this._run(this.hangup(cur));
  }

  _key(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const path = e.composedPath();
    const field = path.find((n) => n instanceof HTMLElement && (n.tagName === "INPUT" || n.tagName === "SELECT" || n.tagName === "TEXTAREA"));
    if (field && field !== this._number) {
      if (field === this._transferInput && e.key === "Enter") { e.preventDefault(); this._blind(); }
      return;   // typing a transfer target, a volume, a page's own form
    }
    if (KEYS.includes(e.key)) { e.preventDefault(); this._press(e.key); }
    else if (e.key === "+" || /^[a-zA-Z.@:_-]$/.test(e.key)) {
      if (field !== this._number) { e.preventDefault(); this._number.value += e.key; }
    } else if (e.key === "Enter") { e.preventDefault(); this._green(); }
    else if (e.key === "Escape") { e.preventDefault(); this._red(); }
    else if (e.key === "Backspace" && field !== this._number) { e.preventDefault(); this._number.value = this._number.value.slice(0, -1); }
  }

  _toggleHold() {
    const cur = this._current() || this._live().find((c) => c.state === "held");
    if (!cur) return;
    this._run(cur.state === "held" ? this.resume(cur) : this.hold(cur));
  }

  _blind() {
    const cur = this._transferSource();
    const target = this._transferInput.value.trim();
    if (!cur || !target) return;
    this._say("Transferring to " + target + "…");
    this._run(this.transfer(target, cur).then(() => this._endTransfer()));
  }

  _attended() {
    const cur = this._transferSource();
    const to = this._transferOther.value;
    if (!cur || !to) return;
    this._run(this.attendedTransfer(cur, to).then(() => this._endTransfer()));
  }

  _transferSource() {
    const live = this._live().filter((c) => c.state !== "incoming");
    return this._current() && this._current().state !== "incoming" ? this._current() : live[0] || null;
  }

  _startTransfer() {
    if (!this._transferSource()) { this._say("No call to transfer", true); return; }
    this._transferMode = true;
    this._transferBox.hidden = false;
    this._transferInput.value = "";
    this._renderTransferChoices();
    this._transferInput.focus();
  }

  _endTransfer() {
    this._transferMode = false;
    this._transferBox.hidden = true;
  }

  // --- building --------------------------------------------------------------------------

  _build() {
    const root = this._root;
    root.append(el("link", { rel: "stylesheet", href: SCRIPT_ORIGIN + "/static/handset.css" }));
    const body = el("div", { class: "body", part: "body" });
    this._body = body;

    // display
    this._status = el("div", { class: "status" });
    this._conn = el("span", { class: "conn", "data-conn": "connecting", text: "connecting…" });
    this._reg = el("span", { class: "reg" });
    this._dndBadge = el("span", { class: "badge dnd", text: "DND", hidden: true });
    this._status.append(this._reg, this._dndBadge, this._conn);
    this._party = el("div", { class: "party", text: "offhook" });
    this._state = el("div", { class: "callstate", text: "Ready" });
    this._timer = el("div", { class: "timer" });
    this._number = el("input", { class: "number", "aria-label": "number to dial", placeholder: "Enter a number or name", autocomplete: "off", spellcheck: "false" });
    this._number.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); e.stopPropagation(); this._green(); }
      else if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); this._red(); }
    });
    this._bars = el("span", { class: "bars", title: "call quality (MOS)", "data-bars": "0" });
    for (let i = 1; i <= 5; i++) this._bars.append(el("i", { style: `height:${4 + i * 3}px` }));
    this._mos = el("span", { class: "mos" });
    this._msg = el("div", { class: "message", role: "status" });
    this._display = el("div", { class: "display", "data-state": "idle" },
      this._status,
      el("div", { class: "main" }, this._party, this._state, el("div", { class: "row" }, this._timer, el("span", { class: "quality" }, this._bars, this._mos))),
      this._number, this._msg);

    // customer card (screen pop)
    this._card = el("section", { class: "card", hidden: true, "aria-label": "customer card" });

    // soft keys
    const soft = (name, label, fn) => el("button", { class: "soft", "data-action": name, onclick: fn, text: label });
    this._soft = el("div", { class: "softkeys" },
      soft("hold", "Hold", () => this._toggleHold()),
      soft("mute", "Mute", () => { const c = this._current(); if (c) this._run(this.mute(!c.muted, c)); }),
      soft("transfer", "Transfer", () => this._startTransfer()),
      soft("conference", "Conf", () => this._run(this.conference())),
      soft("swap", "Swap", () => this._run(this.swap())),
      soft("redial", "Redial", () => this._run(this.redial())),
      soft("dnd", "DND", () => this._run(this.setDnd(!this.dnd))));

    // transfer panel
    this._transferInput = el("input", { class: "transfer-target", placeholder: "Transfer to (number, name, URI)", autocomplete: "off", "aria-label": "transfer target" });
    this._transferOther = el("select", { class: "transfer-other", "aria-label": "call to connect with" });
    this._transferBox = el("div", { class: "transfer", hidden: true },
      el("div", { class: "row" }, this._transferInput, el("button", { class: "blind", text: "Blind", onclick: () => this._blind() })),
      el("div", { class: "row" }, this._transferOther, el("button", { class: "attended", text: "Attended", onclick: () => this._attended() })),
      el("button", { class: "cancel", text: "Cancel", onclick: () => this._endTransfer() }));

    // dial pad
    this._pad = el("div", { class: "pad" });
    for (const k of KEYS) {
      this._pad.append(el("button", { class: "key", "data-key": k, "aria-label": "key " + k, onclick: () => this._press(k) },
        el("span", { class: "digit", text: k }), el("span", { class: "letters", text: LETTERS[k] || "" })));
    }
    const actions = el("div", { class: "actions" },
      el("button", { class: "green", "data-action": "call", "aria-label": "call or answer", onclick: () => this._green() }, el("span", { text: "✆" })),
      el("button", { class: "backspace", "aria-label": "delete", onclick: () => { this._number.value = this._number.value.slice(0, -1); }, text: "⌫" }),
      el("button", { class: "red", "data-action": "hangup", "aria-label": "hang up or reject", onclick: () => this._red() }, el("span", { text: "✆" })));

    // audio
    this._volume = el("input", { type: "range", min: "0", max: "100", class: "volume", "aria-label": "volume" });
    this._volume.addEventListener("change", () => this._run(this.setVolume(Number(this._volume.value))));
    this._micLevel = el("input", { type: "range", min: "0", max: "100", class: "mic-level", "aria-label": "microphone level" });
    this._micLevel.addEventListener("change", () => this._run(this.setMicrophoneLevel(Number(this._micLevel.value))));
    this._capture = el("select", { class: "capture", "aria-label": "microphone" });
    this._playback = el("select", { class: "playback", "aria-label": "speaker" });
    this._ringer = el("select", { class: "ringer", "aria-label": "ringer" });
    for (const [sel, kind] of [[this._capture, "capture"], [this._playback, "playback"], [this._ringer, "ringer"]]) {
      sel.addEventListener("change", () => this._run(this.selectDevice(kind, sel.value)));
    }
    this._audioNote = el("div", { class: "note" });
    const audio = el("details", { class: "audio" }, el("summary", { text: "Sound" }),
      el("label", {}, "Volume ", this._volume), el("label", {}, "Mic level ", this._micLevel),
      el("label", {}, "Microphone ", this._capture), el("label", {}, "Speaker ", this._playback),
      el("label", {}, "Ringer ", this._ringer), this._audioNote);

    const handset = el("div", { class: "handset", part: "handset" }, this._display, this._card, this._soft, this._transferBox, this._pad, actions, audio);

    // side panel: calls, contacts + speed dial, history
    this._callList = el("ul", { class: "calls", "aria-label": "calls" });
    this._speed = el("div", { class: "speed" });
    this._contactList = el("ul", { class: "contacts" });
    this._historyList = el("ol", { class: "history" });
    const tabs = el("div", { class: "tabs", role: "tablist" });
    const panes = el("div", { class: "panes" });
    const addTab = (name, label, ...content) => {
      const pane = el("div", { class: "pane", "data-pane": name, role: "tabpanel" }, ...content);
      const tab = el("button", { class: "tab", role: "tab", "data-tab": name, text: label, onclick: () => this._tab(name) });
      tabs.append(tab); panes.append(pane);
    };
    addTab("calls", "Calls", this._callList);
    addTab("contacts", "Contacts", el("h3", { text: "Speed dial" }), this._speed, el("h3", { text: "Contacts" }), this._contactList);
    addTab("history", "History", this._historyList);
    this._side = el("div", { class: "side" }, tabs, panes);
    body.append(handset, this._side);
    root.append(body);
    this._tab("calls");
    this._renderAll();
  }

  _tab(name) {
    for (const t of this._side.querySelectorAll(".tab")) t.setAttribute("aria-selected", t.dataset.tab === name ? "true" : "false");
    for (const p of this._side.querySelectorAll(".pane")) p.hidden = p.dataset.pane !== name;
  }

  // --- rendering -------------------------------------------------------------------------

  _renderAll() {
    this._renderStatus(); this._renderDisplay(); this._renderCalls(); this._renderContacts();
    this._renderHistory(); this._renderAudio(); this._renderCard(); this._renderQuality();
  }

  _setConn(state) {
    this._conn.dataset.conn = state;
    this._conn.textContent = { connected: "online", offline: "offline", refused: "refused", connecting: "connecting…" }[state];
  }

  _renderStatus() {
    this._reg.textContent = this.accounts.map((a) => a.account + ": " + a.state).join(" · ");
    this._reg.dataset.state = this.accounts.every((a) => a.state === "registered" || a.state === "peer-to-peer") ? "ok" : "bad";
    this._dndBadge.hidden = !this.dnd;
    const b = this._soft.querySelector('[data-action="dnd"]');
    b.classList.toggle("on", this.dnd);
  }

  _say(text, error = false) {
    this._msg.textContent = text || "";
    this._msg.classList.toggle("error", error);
    clearTimeout(this._sayTimer);
    this._sayTimer = setTimeout(() => { this._msg.textContent = ""; }, error ? 8000 : 4000);
  }

  _renderDisplay() {
    const cur = this._current();
    const lastEnded = [...this.calls.values()].filter((c) => !c.live).pop();
    const shown = cur || null;
    this._display.dataset.state = shown ? shown.state : "idle";
    this._display.dataset.call = shown ? shown.id : "";
    if (shown) {
      const pop = this.pops.get(shown.id);
      const name = (pop && pop.card && pop.card.name) || shown.remote_name;
      this._party.textContent = name || shown.number || shown.remote_uri;
      this._party.title = shown.remote_uri;
      this._state.textContent = STATE_LABEL[shown.state] || shown.state;
    } else {
      this._party.textContent = "offhook";
      this._state.textContent = lastEnded && lastEnded.reason ? "Ready — last call: " + lastEnded.reason : "Ready";
    }
    const held = this._soft.querySelector('[data-action="hold"]');
    held.textContent = shown && shown.state === "held" ? "Resume" : "Hold";
    this._soft.querySelector('[data-action="mute"]').classList.toggle("on", !!(shown && shown.muted));
    this._soft.querySelector('[data-action="mute"]').textContent = shown && shown.muted ? "Unmute" : "Mute";
    const green = this._root.querySelector('[data-action="call"]');
    green.classList.toggle("ringing", !!(shown && shown.state === "incoming"));
    this._renderTimers();
    this._renderQuality();
    this._renderCard();
    if (this._transferMode) this._renderTransferChoices();
  }

  _renderTimers() {
    const now = Date.now() / 1000 + this._offset;
    const cur = this._current();
    this._timer.textContent = cur && cur.answered_at && cur.live ? clock(now - cur.answered_at) : "";
    for (const li of this._callList.querySelectorAll("li.call")) {
      const c = this.calls.get(li.dataset.callId);
      const t = li.querySelector(".time");
      if (c && t) t.textContent = c.answered_at ? clock((c.ended_at || now) - c.answered_at) : "";
    }
  }

  _renderQuality() {
    const cur = this._current();
    const q = cur && TALKING.includes(cur.state) ? this.quality.get(cur.id) : null;
    const bars = q ? q.bars : 0;
    this._bars.dataset.bars = String(bars);
    this._bars.dataset.mos = q ? String(q.mos) : "";
    [...this._bars.children].forEach((b, i) => b.classList.toggle("on", i < bars));
    this._bars.className = "bars" + (q ? (q.mos >= 4 ? " good" : q.mos >= 3.6 ? " fair" : " poor") : "");
    this._mos.textContent = q ? "MOS " + q.mos.toFixed(1) : "";
    this._mos.title = q ? `R ${q.r}, delay ${q.delay_ms} ms, loss ${q.loss_percent} %, jitter ${q.jitter_ms} ms` : "";
    for (const li of this._callList.querySelectorAll("li.call")) {
      const cq = this.quality.get(li.dataset.callId);
      const m = li.querySelector(".mini");
      if (m) m.textContent = cq ? "MOS " + cq.mos.toFixed(1) : "";
    }
  }

  _renderCard() {
    const cur = this._current();
    let pop = cur ? this.pops.get(cur.id) : null;
    if (pop && pop.direction === "outbound" && !pop.card) pop = null;   // nothing to tell about our own dialling
    const card = this._card;
    card.replaceChildren();
    if (!pop) { card.hidden = true; card.dataset.lookup = ""; return; }
    card.hidden = false;
    card.dataset.lookup = pop.lookup;
    card.dataset.call = pop.call_id;
    const c = pop.card;
    card.append(el("div", { class: "who", text: pop.direction === "inbound" ? "Caller" : "Calling" }));
    if (c) {
      card.append(el("div", { class: "name", text: c.name }));
      if (c.company) card.append(el("div", { class: "company", text: c.company }));
      const dl = el("dl");
      const row = (k, v) => { if (v) dl.append(el("dt", { text: k }), el("dd", { text: v })); };
      row("Number", c.number); row("Account", c.account_id); row("Notes", c.notes);
      for (const [k, v] of Object.entries(c.extra || {})) row(k, v);
      card.append(dl);
      const href = c.url && safeUrl(c.url);
      if (href) card.append(el("a", { href, target: "_blank", rel: "noopener noreferrer", text: "Open in CRM" }));
    } else {
      const text = { pending: "Looking up…", not_found: "Not in the directory", timeout: "Directory slow, the card may follow",
        error: "Directory unavailable", no_number: "No number to look up", off: "" }[pop.lookup] || "";
      card.append(el("div", { class: "name", text: pop.number || pop.display_name || pop.remote_uri }));
      card.append(el("div", { class: "lookup", text }));
    }
  }

  _renderCalls() {
    const list = this._callList;
    list.replaceChildren();
    const calls = [...this.calls.values()].reverse();
    if (!calls.length) list.append(el("li", { class: "empty", text: "No calls" }));
    for (const c of calls) {
      const pop = this.pops.get(c.id);
      const name = (pop && pop.card && pop.card.name) || c.remote_name || c.number;
      const btn = (action, label, fn) => el("button", { "data-action": action, text: label, onclick: fn });
      const buttons = el("span", { class: "buttons" });
      if (c.state === "incoming") buttons.append(btn("answer", "Answer", () => this._run(this.answer(c))), btn("reject", "Reject", () => this._run(this.reject(c))));
      if (TALKING.includes(c.state)) buttons.append(btn("hold", "Hold", () => this._run(this.hold(c))));
      if (c.state === "held") buttons.append(btn("resume", "Resume", () => this._run(this.resume(c))));
      if (c.live && c.state !== "incoming") buttons.append(btn("hangup", "Hang up", () => this._run(this.hangup(c))));
      const li = el("li", { class: "call", "data-call-id": c.id, "data-state": c.state, "data-direction": c.direction },
        el("span", { class: "dir", text: c.direction === "in" ? "↙" : "↗", title: c.direction === "in" ? "incoming" : "outgoing" }),
        el("span", { class: "who" }, el("b", { text: name }), el("small", { text: c.remote_uri })),
        el("span", { class: "state", text: c.state + (c.muted ? " · muted" : "") + (c.live ? "" : c.reason ? " (" + c.reason + ")" : "") }),
        el("span", { class: "time" }), el("span", { class: "mini" }), buttons);
      list.append(li);
    }
    this._renderTimers();
    this._renderQuality();
  }

  _renderTransferChoices() {
    const src = this._transferSource();
    const others = this._live().filter((c) => c !== src && c.state !== "incoming" && (!src || c.id !== src.id));
    this._transferOther.replaceChildren(...others.map((c) => el("option", { value: c.id, text: (c.remote_name || c.number) + " (" + c.state + ")" })));
    this._transferBox.querySelector(".attended").disabled = others.length === 0;
  }

  _renderContacts() {
    this._speed.replaceChildren();
    const keys = Object.keys(this.speedDial || {}).sort();
    if (!keys.length) this._speed.append(el("p", { class: "empty", text: "No speed-dial keys configured" }));
    for (const k of keys) {
      const target = this.speedDial[k];
      this._speed.append(el("button", { class: "speedkey", "data-speed": k, title: target, onclick: () => this._run(this.dial(k)) },
        el("b", { text: k }), el("span", { text: target.replace(/^sips?:/, "") })));
    }
    this._contactList.replaceChildren();
    if (!(this.contacts || []).length) this._contactList.append(el("li", { class: "empty", text: "No contacts" }));
    for (const c of this.contacts || []) {
      const li = el("li", { class: "contact" }, el("b", { text: c.name }));
      for (const n of c.numbers) li.append(el("button", { class: "dialnum", text: n, onclick: () => this._run(this.dial(n)) }));
      this._contactList.append(li);
    }
  }

  _renderHistory() {
    const list = this._historyList;
    list.replaceChildren();
    if (!(this.history || []).length) list.append(el("li", { class: "empty", text: "No calls yet" }));
    for (const h of this.history || []) {
      const when = new Date(h.start * 1000);
      list.append(el("li", { class: "entry", "data-result": h.result, "data-direction": h.direction },
        el("span", { class: "dir", text: h.direction === "in" ? "↙" : "↗" }),
        el("span", { class: "who" }, el("b", { text: h.name || h.party.replace(/^sips?:/, "") }), el("small", { text: when.toLocaleString() })),
        el("span", { class: "result", text: h.result + (h.duration ? " " + clock(h.duration) : "") }),
        el("button", { class: "again", text: "Call", title: "call " + h.party, onclick: () => this._run(this.dial(h.party)) })));
    }
  }

  _renderAudio() {
    const a = this.audio || {};
    if (a.volume !== undefined) this._volume.value = String(a.volume);
    if (a.microphone !== undefined) this._micLevel.value = String(a.microphone);
    this._audioNote.textContent = a.note || "";
    for (const [sel, key] of [[this._capture, "capture"], [this._playback, "playback"], [this._ringer, "ringer"]]) {
      if (a[key] !== undefined && [...sel.options].some((o) => o.value === a[key])) sel.value = a[key];
    }
  }

  _renderDevices(devices) {
    for (const [sel, want, key] of [[this._capture, "input", "capture"], [this._playback, "output", "playback"], [this._ringer, "output", "ringer"]]) {
      sel.replaceChildren(el("option", { value: "", text: "(default)" }),
        ...devices.filter((d) => d[want]).map((d) => el("option", { value: d.name, text: d.name + (d.headset ? " 🎧" : "") })));
      sel.value = this.audio[key] || "";
    }
  }
}

if (!customElements.get("offhook-phone")) customElements.define("offhook-phone", OffhookPhone);
