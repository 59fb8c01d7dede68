// The worker page: plain JavaScript, no build step, no third-party code.
// It talks to the dispatcher over the WebSocket /v1/worker/ws or, where WebSockets are blocked,
// server-sent events from /v1/worker/events plus POSTs. Frames and bodies are described in
// dispatcher/entrypoints/worker_frames.py; bytes (payload, draft, answer) travel as base64.

const $ = (id) => document.getElementById(id);

const TOKEN_KEY = "fairtask.worker.token";
const SETTINGS_KEY = "fairtask.worker.settings:"; // + worker id (localStorage)
const EARNINGS_KEY = "fairtask.worker.earnings"; // this tab's session (sessionStorage)
const DRAFT_KEY = "fairtask.worker.draft:"; // + lease id (sessionStorage)
const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 15000;
const AUTOSAVE_MS = 1000;
const SSE_KINDS = ["welcome", "offer", "lease", "offer_withdrawn", "submit_accepted"];

const state = {
  token: null,
  me: null,
  link: null, // the open connection: { kind, send(kind, body) -> Promise<bool>, close() }
  attempt: 0, // reconnections since the last welcome, for the backoff
  wsFailures: 0, // WebSocket attempts that never opened; "auto" then falls back to events
  timer: null,
  elsewhere: false, // another tab or device took over: do not reconnect by ourselves
  offer: null,
  offerDeadline: 0,
  countdown: null,
  lease: null,
  heartbeat: null,
  autosave: null,
  savedDraft: "",
  reviewsAfter: "", // page token of the next, older page of reviews
};

// -- bytes and numbers ------------------------------------------------------------------------
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function toBase64(text) {
  const bytes = encoder.encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(b64) {
  // null when the bytes are not UTF-8 text (this page shows text tasks only)
  const bytes = Uint8Array.from(atob(b64 || ""), (c) => c.charCodeAt(0));
  try {
    return decoder.decode(bytes);
  } catch {
    return null;
  }
}

function money(micros) {
  const dollars = (micros || 0) / 1e6;
  const digits = (micros || 0) % 10000 === 0 ? 2 : 4; // show fractions of a cent when there are any
  return dollars.toLocaleString("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: digits });
}

function duration(seconds) {
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m === 0) return `${s} s`;
  return s ? `${m} min ${s} s` : `${m} min`;
}

function hourly(micros, seconds) {
  return seconds > 0 ? `${money((micros * 3600) / seconds)}/h` : "";
}

function windows(text) {
  return text.split(/[\s,;]+/).filter(Boolean);
}

// -- what the worker sees ---------------------------------------------------------------------
function setStatus(kind, text) {
  const status = $("status");
  status.dataset.state = kind;
  status.textContent = text;
}

function announce(text) {
  $("announce").textContent = text;
}

function showError(text) {
  const alert = $("alert");
  alert.textContent = text;
  alert.hidden = !text;
}

function show(id, visible) {
  $(id).hidden = !visible;
}

function focusIfIdle(id) {
  // Never pull focus out of a field the worker is typing in.
  const active = document.activeElement;
  if (!active || !["INPUT", "TEXTAREA", "SELECT"].includes(active.tagName)) $(id).focus();
}

function refreshIdle() {
  show("waiting", !state.offer && !state.lease);
}

// -- the HTTP API -----------------------------------------------------------------------------
async function api(method, path, body, token = state.token) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body != null) headers["Content-Type"] = "application/json";
  try {
    const res = await fetch(path, { method, headers, body: body == null ? undefined : JSON.stringify(body), cache: "no-store" });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { ok: res.ok, status: res.status, body: json };
  } catch {
    return { ok: false, status: 0, body: null }; // the network, not the server
  }
}

function problem(result) {
  const error = result.body && result.body.error;
  if (!error) return result.status ? `The dispatcher answered ${result.status}.` : "The dispatcher cannot be reached.";
  const details = (error.violations || []).map((v) => `${v.field}: ${v.problem}`);
  return details.length ? details.join("; ") : error.message;
}

// -- settings ---------------------------------------------------------------------------------
function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

function settings() {
  const saved = state.me ? JSON.parse(localStorage.getItem(SETTINGS_KEY + state.me.worker_id) || "{}") : {};
  return {
    time_zone: saved.time_zone || (state.me && state.me.time_zone) || browserZone(),
    availability: saved.availability || (state.me && state.me.availability) || [],
    transport: saved.transport || "auto",
  };
}

function hello(withToken) {
  const s = settings();
  const body = { time_zone: s.time_zone };
  if (s.availability.length) body.availability = s.availability;
  if (withToken) body.token = state.token;
  return body;
}

// -- connections ------------------------------------------------------------------------------
function connect() {
  clearTimeout(state.timer);
  if (state.link) state.link.close();
  state.elsewhere = false;
  show("elsewhere", false);
  const transport = settings().transport;
  const events = transport === "sse" || (transport === "auto" && state.wsFailures >= 2);
  setStatus("connecting", "Connecting…");
  state.link = events ? openEvents() : openWebSocket();
}

function openWebSocket() {
  const url = new URL("/v1/worker/ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url);
  let opened = false;
  const link = {
    kind: "WebSocket",
    async send(kind, body) {
      if (ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify({ [kind]: body }));
      return true;
    },
    close() {
      ws.onclose = null;
      ws.close(1000);
    },
  };
  ws.onopen = () => {
    opened = true;
    state.wsFailures = 0;
    // The token goes in the first frame, not the URL, so it stays out of logs.
    ws.send(JSON.stringify({ hello: hello(true) }));
  };
  ws.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    const [kind, body] = Object.entries(frame)[0];
    handle(kind, body, link);
  };
  ws.onclose = (event) => {
    if (state.link !== link) return;
    if (!opened) state.wsFailures += 1;
    lost(event.code, event.reason);
  };
  return link;
}

function openEvents() {
  let source = null;
  let closed = false;
  const link = {
    kind: "events",
    async send(kind, body) {
      const result = await api("POST", `/v1/worker/${kind}`, body);
      if (!result.ok && result.body && result.body.error) onError(result.body.error);
      else if (!result.ok) showError(problem(result));
      return result.ok;
    },
    close() {
      closed = true;
      if (source) source.close();
    },
  };
  // An EventSource cannot tell a 401 from a network error: check the token first, so a revoked
  // one signs out instead of retrying for ever.
  api("GET", "/v1/worker/me").then((result) => {
    if (closed || state.link !== link) return;
    if (result.status === 401) return lost(4401, problem(result));
    if (!result.ok) return lost(0, "");
    const query = new URLSearchParams({ token: state.token });
    const h = hello(false);
    query.set("time_zone", h.time_zone);
    for (const w of h.availability || []) query.append("availability", w);
    source = new EventSource(`/v1/worker/events?${query}`);
    for (const kind of SSE_KINDS) {
      source.addEventListener(kind, (event) => handle(kind, JSON.parse(event.data), link));
    }
    // "error" is both the dispatcher's error event (with data) and the stream failing (without).
    source.addEventListener("error", (event) => {
      if (closed || state.link !== link) return;
      if (event.data) return handle("error", JSON.parse(event.data), link);
      source.close();
      lost(0, "");
    });
  });
  return link;
}

function lost(code, reason) {
  state.link = null;
  stopHeartbeat();
  hideOffer(); // the dispatcher withdraws an offer when its worker goes away; it costs nothing
  $("submit").disabled = true;
  if (code === 4401) return signOutHere(`Please sign in again: ${reason || "your token is no longer valid"}.`);
  if (code === 4409 || state.elsewhere) {
    setStatus("stopped", "Connected elsewhere");
    show("elsewhere", true);
    return;
  }
  if (code === 4400) {
    setStatus("stopped", "Not connected");
    showError(`The dispatcher refused this connection: ${reason}. Check your time zone and availability.`);
    $("settings").open = true;
    return;
  }
  scheduleReconnect(navigator.onLine ? "Connection lost" : "Offline");
}

function scheduleReconnect(why) {
  clearTimeout(state.timer);
  const delay = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** state.attempt) * (0.7 + Math.random() * 0.6);
  state.attempt += 1;
  const task = state.lease ? " Your task and draft are kept for you." : "";
  setStatus("offline", `${why}: reconnecting in ${Math.max(1, Math.round(delay / 1000))} s.${task}`);
  state.timer = setTimeout(connect, delay);
}

// -- what the dispatcher pushes ---------------------------------------------------------------
function handle(kind, body, link) {
  if (state.link !== link) return;
  switch (kind) {
    case "welcome":
      state.attempt = 0;
      showError("");
      setStatus("online", `Connected (${link.kind})`);
      if (body.resumed_lease) showLease(body.resumed_lease, true);
      else if (state.lease) {
        clearTask();
        announce("Your earlier task is no longer held for you; the time you worked on it is still paid.");
      }
      break;
    case "offer":
      showOffer(body);
      break;
    case "lease":
      showLease(body, false);
      break;
    case "offer_withdrawn":
      if (state.offer && state.offer.offer_id === body.offer_id) {
        hideOffer();
        announce(`The offer was withdrawn (${body.reason}). That costs you nothing.`);
      }
      break;
    case "submit_accepted":
      onSubmitted(body);
      break;
    case "error":
      onError(body);
      break;
    default:
      break;
  }
}

function onError(error) {
  if (error.field === "connection" && error.code === "ABORTED") {
    state.elsewhere = true;
    return;
  }
  if (error.field === "connection") return; // closing; the reconnection says the rest
  if (error.field === "lease") {
    clearTask();
    announce("Your task is no longer held for you; the time you worked on it is still paid.");
    return;
  }
  const gone = ["NOT_FOUND", "ALREADY_EXISTS"].includes(error.code);
  if (error.field === "accept" || error.field === "decline") {
    if (gone || error.code === "FAILED_PRECONDITION") hideOffer();
  } else if ((error.field === "submit" || error.field === "heartbeat") && gone) {
    clearTask();
  } else if (error.field.startsWith("submit")) {
    $("submit").disabled = false;
  }
  showError(error.message);
}

function showOffer(offer) {
  state.offer = offer;
  $("offer").dataset.offerId = offer.offer_id;
  state.offerDeadline = performance.now() + offer.expires_in_ms;
  const total = Math.max(offer.expires_in_ms, 1);
  $("offer-type").textContent = offer.task_type;
  $("offer-price").textContent = `${money(offer.price_micros)} (${hourly(offer.price_micros, offer.effort_seconds)} at the expected effort)`;
  $("offer-effort").textContent = `about ${duration(offer.effort_seconds)}`;
  $("offer-purpose").textContent = offer.purpose;
  $("accept").disabled = false;
  $("decline").disabled = false;
  show("offer", true);
  refreshIdle();
  clearInterval(state.countdown);
  const tick = () => {
    const left = Math.max(0, state.offerDeadline - performance.now());
    const s = Math.ceil(left / 1000);
    $("offer-countdown").textContent = left > 0 ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}` : "expired";
    $("offer-progress").value = left / total;
    if (left <= 0) {
      $("accept").disabled = true;
      clearInterval(state.countdown);
    }
  };
  tick();
  state.countdown = setInterval(tick, 250);
  announce(`New offer: ${offer.task_type}, ${money(offer.price_micros)}. ${Math.round(offer.expires_in_ms / 1000)} seconds to accept.`);
  focusIfIdle("offer-title");
}

function hideOffer() {
  state.offer = null;
  delete $("offer").dataset.offerId;
  clearInterval(state.countdown);
  show("offer", false);
  refreshIdle();
}

function showLease(lease, resumed) {
  const same = state.lease && state.lease.lease_id === lease.lease_id;
  const seconds = lease.heartbeat_interval_seconds || (same && state.lease.heartbeatSeconds) || 10;
  state.lease = { ...lease, heartbeatSeconds: seconds };
  hideOffer();
  if (!same) {
    $("task-type").textContent = lease.task_type || "task";
    $("task-price").textContent = money(lease.price_micros);
    $("task-purpose").textContent = lease.purpose || "";
    const text = fromBase64(lease.payload);
    $("task-payload").textContent = text ?? "(This task's content is not text, which this page cannot show.)";
    const server = fromBase64(lease.draft) ?? "";
    // A draft kept in this tab is at least as new as the last one the dispatcher saved.
    $("answer").value = sessionStorage.getItem(DRAFT_KEY + lease.lease_id) || server;
    state.savedDraft = server;
    $("draft-status").textContent = server ? "Draft restored." : "";
    show("task", true);
    focusIfIdle("task-title");
  }
  if (resumed) $("task-resumed").hidden = false;
  else if (!same) $("task-resumed").hidden = true;
  $("submit").disabled = false;
  refreshIdle();
  startHeartbeat();
  if ($("answer").value !== state.savedDraft) saveDraft();
}

function clearTask() {
  if (state.lease) sessionStorage.removeItem(DRAFT_KEY + state.lease.lease_id);
  state.lease = null;
  stopHeartbeat();
  show("task", false);
  $("task-resumed").hidden = true;
  $("answer").value = "";
  refreshIdle();
}

function onSubmitted(accepted) {
  if (!state.lease || state.lease.lease_id !== accepted.lease_id) return;
  const earnings = JSON.parse(sessionStorage.getItem(EARNINGS_KEY) || '{"count":0,"micros":0,"leases":[]}');
  if (!earnings.leases.includes(accepted.lease_id)) {
    earnings.count += 1;
    earnings.micros += state.lease.price_micros || 0;
    earnings.leases.push(accepted.lease_id);
    sessionStorage.setItem(EARNINGS_KEY, JSON.stringify(earnings));
  }
  announce(`Submitted. ${money(state.lease.price_micros)} once approved. Thank you.`);
  clearTask();
  showEarnings();
  setTimeout(refreshPay, 2000);
}

function showEarnings() {
  const earnings = JSON.parse(sessionStorage.getItem(EARNINGS_KEY) || '{"count":0,"micros":0}');
  $("earned-count").textContent = String(earnings.count);
  $("earned-sum").textContent = money(earnings.micros);
}

// -- statement and reviews (payroll and scoring, through the dispatcher) ------------------------
const STATES = {
  REVIEW_STATE_PENDING: "Waiting for the platform's review",
  REVIEW_STATE_APPROVED: "Approved",
  REVIEW_STATE_REJECTED: "Rejected",
  REVIEW_STATE_APPEALED: "Appealed: waiting for the platform's answer",
  REVIEW_STATE_APPEAL_GRANTED: "Appeal granted",
  REVIEW_STATE_APPEAL_UPHELD: "Appeal refused",
};

function when(stamp) {
  return stamp ? new Date(stamp).toLocaleString() : "";
}

async function refreshPay() {
  if (!state.token) return;
  const [statement, reviews] = await Promise.all([
    api("GET", "/v1/worker/statement"),
    api("GET", "/v1/worker/reviews"),
  ]);
  if (statement.ok) {
    const s = statement.body;
    const seconds = Number(s.paid_seconds || 0);
    const paidOut = Number(s.paid_out_micros || 0);
    const earned = Number(s.balance_micros || 0) + paidOut;
    const rate = hourly(earned, seconds);
    $("statement-summary").textContent =
      `${s.tasks_paid || 0} tasks paid, ${duration(seconds)} of work, ${money(earned)} earned` +
      (rate ? ` (${rate})` : "") +
      `; ${money(paidOut)} sent to you so far, ${money(Number(s.balance_micros || 0))} in the next payout.`;
  } else {
    $("statement-summary").textContent = `Your statement is not available: ${problem(statement)}`;
  }
  $("review-list").replaceChildren();
  if (reviews.ok) showReviews(reviews.body);
}

function showReviews(page) {
  for (const review of page.reviews || []) $("review-list").append(reviewItem(review));
  state.reviewsAfter = page.next_page_token || "";
  show("older-reviews", Boolean(state.reviewsAfter));
}

async function olderReviews() {
  if (!state.reviewsAfter) return;
  const page = await api("GET", `/v1/worker/reviews?page_token=${encodeURIComponent(state.reviewsAfter)}`);
  if (page.ok) showReviews(page.body);
  else showError(problem(page));
}

function reviewItem(review) {
  const item = document.createElement("li");
  const title = document.createElement("strong");
  title.textContent = `${review.task_type} · ${money(Number(review.price_micros || 0))} · ${STATES[review.state] || review.state}`;
  item.append(title);
  const lines = [];
  if (review.state === "REVIEW_STATE_PENDING") lines.push(`Approved automatically on ${when(review.review_due)} unless reviewed.`);
  if (review.reason && review.reason !== "REJECTION_REASON_UNSPECIFIED") {
    lines.push(`Reason: ${review.reason.replace("REJECTION_REASON_", "").replaceAll("_", " ").toLowerCase()}. ${review.explanation}`);
  }
  if (review.result_kept) lines.push("The platform kept your work, so you are paid for it.");
  if (review.appeal_statement) lines.push(`Your appeal: ${review.appeal_statement}`);
  if (review.state === "REVIEW_STATE_APPEALED") lines.push(`Granted automatically on ${when(review.appeal_due)} unless answered.`);
  if (review.appeal_answer) lines.push(`Answer: ${review.appeal_answer}`);
  for (const line of lines) {
    const p = document.createElement("p");
    p.textContent = line;
    item.append(p);
  }
  const open = review.state === "REVIEW_STATE_REJECTED" && Date.parse(review.appeal_until) > Date.now();
  if (open) item.append(appealForm(review));
  return item;
}

function appealForm(review) {
  const form = document.createElement("form");
  const label = document.createElement("label");
  const id = `appeal-${review.submission_id}`;
  label.htmlFor = id;
  label.textContent = `Appeal until ${when(review.appeal_until)}: why is the rejection wrong?`;
  const text = document.createElement("textarea");
  text.id = id;
  text.rows = 3;
  text.maxLength = 4000;
  text.required = true;
  const button = document.createElement("button");
  button.type = "submit";
  button.textContent = "Appeal";
  form.append(label, text, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = await api("POST", "/v1/worker/appeals", { submission_id: review.submission_id, statement: text.value });
    if (!result.ok) {
      showError(`The appeal was not filed: ${problem(result)}`);
      return;
    }
    announce("Appeal filed. The platform has 72 hours to answer, or it is granted.");
    refreshPay();
  });
  return form;
}

// -- heartbeats and drafts --------------------------------------------------------------------
function startHeartbeat() {
  stopHeartbeat();
  state.heartbeat = setInterval(saveDraft, state.lease.heartbeatSeconds * 1000);
}

function stopHeartbeat() {
  clearInterval(state.heartbeat);
  clearTimeout(state.autosave);
}

async function saveDraft() {
  // A heartbeat keeps the lease alive; it carries the draft only when it changed.
  if (!state.lease || !state.link) return;
  const draft = $("answer").value;
  const body = { lease_id: state.lease.lease_id };
  if (draft && draft !== state.savedDraft) body.draft = toBase64(draft);
  if (await state.link.send("heartbeat", body)) {
    if (body.draft) {
      state.savedDraft = draft;
      $("draft-status").textContent = `Draft saved at ${new Date().toLocaleTimeString()}.`;
    }
  }
}

// -- signing in and out -----------------------------------------------------------------------
async function signIn(token) {
  const result = await api("GET", "/v1/worker/me", null, token);
  if (result.status === 401) {
    localStorage.removeItem(TOKEN_KEY);
    showError(`That token was not accepted: ${problem(result)}`);
    return;
  }
  if (!result.ok) {
    showError(problem(result));
    return;
  }
  state.token = token;
  state.me = result.body;
  localStorage.setItem(TOKEN_KEY, token);
  if (Date.parse(state.me.expires_at) - Date.now() < 86400e3) {
    const fresh = await api("POST", "/v1/worker/token");
    if (fresh.ok) {
      state.token = fresh.body.token;
      localStorage.setItem(TOKEN_KEY, state.token);
    }
  }
  showError("");
  show("signed-out", false);
  show("signed-in", true);
  show("sign-out", true);
  $("who").textContent = `${state.me.worker_id} · region ${state.me.region}`;
  show("who", true);
  const s = settings();
  $("set-zone").value = s.time_zone;
  $("set-availability").value = s.availability.join(", ");
  $("set-transport").value = s.transport;
  showEarnings();
  refreshPay();
  refreshIdle();
  $("main").focus();
  connect();
}

function signOutHere(message) {
  clearTimeout(state.timer);
  if (state.link) state.link.close();
  state.link = null;
  state.token = null;
  state.me = null;
  localStorage.removeItem(TOKEN_KEY);
  hideOffer();
  clearTask();
  show("signed-in", false);
  show("signed-out", true);
  show("sign-out", false);
  show("who", false);
  setStatus("signed-out", "Signed out");
  showError(message || "");
}

// -- wiring -----------------------------------------------------------------------------------
function fillZones() {
  const list = $("zones");
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  for (const zone of zones) {
    const option = document.createElement("option");
    option.value = zone;
    list.append(option);
  }
  $("reg-zone").value = browserZone();
}

function wire() {
  $("refresh-pay").addEventListener("click", refreshPay);
  $("older-reviews").addEventListener("click", olderReviews);
  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("token").value.trim());
  });

  $("register").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      region: $("reg-region").value.trim(),
      time_zone: $("reg-zone").value.trim(),
      skills: $("reg-skills").value.split(/[\s,;]+/).filter(Boolean),
      availability: windows($("reg-availability").value),
      sensitive_opt_in: $("reg-sensitive").checked,
    };
    const id = $("reg-worker-id").value.trim();
    if (id) body.worker_id = id;
    const result = await api("POST", "/v1/workers", body, null);
    if (!result.ok) {
      showError(`Registration failed: ${problem(result)}`);
      return;
    }
    showError("");
    $("issued-token").value = result.body.token;
    $("issued-expiry").textContent = new Date(result.body.expires_at).toLocaleString();
    show("sign-in", false);
    show("register", false);
    show("issued", true);
    $("issued-token").focus();
    $("issued-token").select();
  });

  $("copy-token").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("issued-token").value);
      announce("Token copied.");
    } catch {
      $("issued-token").select();
      announce("Select the token and copy it.");
    }
  });

  $("continue").addEventListener("click", () => {
    show("issued", false);
    show("sign-in", true);
    show("register", true);
    signIn($("issued-token").value);
  });

  $("sign-out").addEventListener("click", async () => {
    await api("DELETE", "/v1/worker/token");
    signOutHere("");
  });

  $("accept").addEventListener("click", async () => {
    if (!state.offer || !state.link) return;
    $("accept").disabled = true;
    $("decline").disabled = true;
    if (!(await state.link.send("accept", { offer_id: state.offer.offer_id })) && state.offer) {
      $("accept").disabled = false;
      $("decline").disabled = false;
    }
  });

  $("decline").addEventListener("click", async () => {
    if (!state.offer || !state.link) return;
    const offerId = state.offer.offer_id;
    hideOffer();
    if (await state.link.send("decline", { offer_id: offerId })) announce("Declined. That costs you nothing.");
  });

  $("answer").addEventListener("input", () => {
    if (!state.lease) return;
    sessionStorage.setItem(DRAFT_KEY + state.lease.lease_id, $("answer").value);
    $("draft-status").textContent = "Unsaved changes…";
    clearTimeout(state.autosave);
    state.autosave = setTimeout(saveDraft, AUTOSAVE_MS);
  });

  $("answer-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = $("answer").value;
    if (!state.lease) return;
    if (!answer.trim()) {
      showError("Type an answer first.");
      $("answer").focus();
      return;
    }
    $("submit").disabled = true;
    const sent = state.link && (await state.link.send("submit", { lease_id: state.lease.lease_id, answer: toBase64(answer) }));
    if (!sent && state.lease) {
      $("submit").disabled = false;
      showError("Not connected: your answer is kept here. Submit again once reconnected.");
    }
  });

  $("settings-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = {
      time_zone: $("set-zone").value.trim(),
      availability: windows($("set-availability").value),
      transport: $("set-transport").value,
    };
    localStorage.setItem(SETTINGS_KEY + state.me.worker_id, JSON.stringify(chosen));
    state.attempt = 0;
    state.wsFailures = 0;
    connect();
  });

  $("connect-here").addEventListener("click", () => {
    state.attempt = 0;
    connect();
  });

  window.addEventListener("offline", () => {
    if (!state.token || !state.link) return;
    state.link.close();
    lost(0, "");
  });
  window.addEventListener("online", () => {
    if (!state.token || state.elsewhere || state.link) return;
    state.attempt = 0;
    connect();
  });
}

fillZones();
wire();
const saved = localStorage.getItem(TOKEN_KEY);
if (saved) signIn(saved);
