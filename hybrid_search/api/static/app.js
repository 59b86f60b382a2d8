// hybrid_search playground: plain JavaScript over the public API (GET v1/info, POST v1/search,
// GET v1/similar/{id}). No build step, no dependencies.
"use strict";

const SLIDERS = [
  // [parameter, label, group]; bounds and defaults come from GET v1/info.
  ["lexical_weight", "lexical weight", "fusion"],
  ["vector_weight", "vector weight", "fusion"],
  ["min_vector_cosine", "confidence gate τ (min cosine)", "fusion"],
  ["commercial.relevance_weight", "relevance a", "commercial"],
  ["commercial.margin_weight", "margin b", "commercial"],
  ["commercial.freshness_weight", "freshness c", "commercial"],
  ["commercial.popularity_weight", "popularity d", "commercial"],
];
const BARS = [
  // [breakdown key, label, kind]: "unit" values lie in [0, 1]; "term" values are score terms.
  ["lexical_normalized", "lexical", "unit"],
  ["vector_normalized", "vector", "unit"],
  ["fused", "fused", "unit"],
  ["relevance", "relevance", "term"],
  ["margin", "margin", "term"],
  ["freshness", "freshness", "term"],
  ["popularity", "popularity", "term"],
];

const $ = (sel) => document.querySelector(sel);
const state = { info: null, seq: 0, timer: null, similarTo: null, keyTried: null };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("#api-key").value.trim();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers() });
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (!response.ok) {
    const err = body && body.error ? body.error : { type: "http_error", message: response.statusText };
    throw Object.assign(new Error(err.message), { status: response.status, type: err.type });
  }
  return body;
}

function getPath(obj, dotted) {
  return dotted.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

function sliderRange(name, bounds, value) {
  let [lo, hi] = bounds[name] || [0, 1];
  lo = lo == null ? 0 : lo;
  hi = hi == null ? 1 : hi;
  if (name.startsWith("commercial.")) {
    // The API accepts up to ±10; a useful slider spans ±max(1, 2x the default).
    const span = Math.max(1, 2 * Math.abs(value || 0));
    lo = Math.max(lo, -span);
    hi = Math.min(hi, span);
  }
  return [lo, hi];
}

function buildSliders(info) {
  for (const box of document.querySelectorAll(".sliders")) box.replaceChildren();
  for (const [name, label, group] of SLIDERS) {
    const value = getPath(info.defaults, name);
    const [lo, hi] = sliderRange(name, info.bounds, value);
    const id = `slider-${name.replace(".", "-")}`;
    const input = el("input", {
      type: "range", id, min: lo, max: hi, step: 0.01, value, "data-param": name, "data-default": value,
    });
    const out = el("output", { for: id, text: Number(value).toFixed(2) });
    input.addEventListener("input", () => {
      out.textContent = Number(input.value).toFixed(2);
      schedule(120);
    });
    const row = el("label", { class: "slider" }, el("span", { text: label }), out, input);
    $(`.sliders[data-group="${group}"]`).append(row);
  }
}

function buildFilters(info) {
  const box = $("#filter-fields");
  box.replaceChildren();
  for (const { field, kind, values } of info.filters) {
    let control;
    if (kind === "boolean") {
      control = el("select", { "data-filter": field, "data-kind": kind },
        el("option", { value: "", text: "any" }), el("option", { value: "true", text: "true" }),
        el("option", { value: "false", text: "false" }));
    } else if (kind === "number" || kind === "date") {
      const type = kind === "number" ? "number" : "date";
      control = el("span", { class: "range" },
        el("input", { type, "data-filter": field, "data-kind": kind, "data-op": "gte", placeholder: "min" }),
        el("input", { type, "data-filter": field, "data-kind": kind, "data-op": "lte", placeholder: "max" }));
    } else if (values && values.length) {
      // The catalogue's own values (GET v1/info counts them), most frequent first; free text
      // still works, "a, b" for either.
      const list = el("datalist", { id: `values-${field}` },
        ...values.map((v) => el("option", { value: v.value, label: `${v.count}` })));
      control = el("span", { class: "keyword" },
        el("input", {
          type: "text", list: list.id, "data-filter": field, "data-kind": kind,
          placeholder: `e.g. ${values[0].value}`, autocomplete: "off",
        }),
        list);
    } else {
      control = el("input", { type: "text", "data-filter": field, "data-kind": kind, placeholder: "a, b" });
    }
    box.append(el("label", { class: "row" }, el("span", { text: field }), control));
  }
  for (const input of box.querySelectorAll("[data-filter]")) {
    input.addEventListener("change", () => schedule(0));
  }
}

function readFilters() {
  const filters = {};
  for (const input of document.querySelectorAll("[data-filter]")) {
    const raw = input.value.trim();
    if (!raw) continue;
    const { filter: field, kind, op } = input.dataset;
    if (op) {
      filters[field] = filters[field] || {};
      filters[field][op] = kind === "number" ? Number(raw) : raw;
    } else if (kind === "boolean") {
      filters[field] = raw === "true";
    } else {
      const values = raw.split(",").map((v) => v.trim()).filter(Boolean);
      filters[field] = values.length === 1 ? values[0] : values;
    }
  }
  return Object.keys(filters).length ? filters : null;
}

function buildRequest() {
  const request = {
    query: $("#q").value,
    k: 10,
    mode: document.querySelector('input[name="mode"]:checked').value,
    normalization: $("#normalization").value,
    combination: $("#combination").value,
    commercial: { enabled: $("#commercial-enabled").checked },
    filters: readFilters(),
  };
  for (const input of document.querySelectorAll("[data-field]")) {
    request[input.dataset.field] = input.type === "checkbox" ? input.checked : input.value;
  }
  for (const input of document.querySelectorAll("input[data-param]")) {
    const name = input.dataset.param;
    const value = Number(input.value);
    if (name.startsWith("commercial.")) request.commercial[name.slice(11)] = value;
    else request[name] = value;
  }
  return request;
}

function schedule(delayMs) {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => (state.similarTo ? similar(state.similarTo) : search()), delayMs);
}

function keyMessage() {
  return $("#api-key").value.trim()
    ? "the key entered is wrong: check it in the key box"
    : "this sidecar needs an API key: enter it in the key box";
}

function showError(err) {
  const box = $("#error");
  box.hidden = false;
  if (err.status === 401) {
    // The sidecar wants a key (reads keyed, or a write): point at the page's own key box.
    const message = keyMessage();
    box.textContent = `${message} (${err.message})`;
    $("#status").textContent = message;
    $("#key-box").open = true;
    $("#api-key").focus();
    return;
  }
  box.textContent = `${err.status || ""} ${err.type || "error"}: ${err.message}`;
}

async function search() {
  const request = buildRequest();
  if (!request.query.trim()) return;
  const seq = ++state.seq;
  try {
    const response = await api("v1/search", { method: "POST", body: JSON.stringify(request) });
    if (seq === state.seq) render(response, `“${request.query}”`, request.filters);
  } catch (err) {
    if (seq === state.seq) showError(err);
  }
}

async function similar(id) {
  state.similarTo = id;
  const seq = ++state.seq;
  const filters = readFilters();
  const query = filters ? `?k=10&filters=${encodeURIComponent(JSON.stringify(filters))}` : "?k=10";
  try {
    const response = await api(`v1/similar/${encodeURIComponent(id)}${query}`);
    if (seq === state.seq) render(response, `more like ${id}`, filters);
  } catch (err) {
    if (seq === state.seq) showError(err);
  }
}

function badge(text, cls, title) {
  return el("span", { class: `badge ${cls}`, text, ...(title ? { title } : {}) });
}

function filterText(value) {
  if (Array.isArray(value)) return value.join(" or ");
  if (value && typeof value === "object") {
    const ops = { gte: "≥", lte: "≤", gt: ">", lt: "<" };
    return Object.entries(value).map(([op, v]) => `${ops[op] || op} ${v}`).join(", ");
  }
  return String(value);
}

function clearFilter(field) {
  for (const input of document.querySelectorAll(`[data-filter="${field}"]`)) input.value = "";
  schedule(0);
}

function chips(filters) {
  // The filters this answer was computed with; a chip's × removes its filter.
  const entries = Object.entries(filters || {});
  $("#tuning-count").textContent = entries.length ? `(${entries.length} active)` : "";
  if (!entries.length) return null;
  return el("div", { class: "chips", "aria-label": "active filters" },
    ...entries.map(([field, value]) => {
      const chip = el("button", { type: "button", class: "chip", "data-chip": field, title: `remove the ${field} filter` },
        el("span", { class: "chip-label", text: `${field}: ${filterText(value)}` }),
        el("span", { class: "chip-x", "aria-hidden": "true", text: "×" }));
      chip.addEventListener("click", () => clearFilter(field));
      return chip;
    }));
}

function renderSummary(response, label, filters) {
  const summary = $("#summary");
  summary.replaceChildren(
    el("span", { class: "label", text: label }),
    badge(`mode: ${response.mode_used}`, `mode mode-${response.mode_used}`),
  );
  if (response.fallback_reason) {
    summary.append(badge("fallback", "fallback", response.fallback_reason),
      el("span", { id: "fallback-reason", class: "reason", text: response.fallback_reason }));
  }
  for (const leg of response.degraded || []) summary.append(badge(`degraded: ${leg}`, "fallback"));
  const cos = response.top_vector_cosine;
  const bits = [
    `${response.hits.length} hits`,
    cos == null ? null : `top cosine ${cos.toFixed(3)}`,
    response.timings_ms && response.timings_ms.total != null ? `${response.timings_ms.total.toFixed(1)} ms` : null,
    response.embedder,
  ].filter(Boolean);
  summary.append(el("span", { class: "muted", text: bits.join(" · ") }));
  for (const w of response.warnings || []) summary.append(el("div", { class: "warning", text: w }));
  const active = chips(filters);
  if (active) summary.append(active);
}

function bar(label, value, scale, kind) {
  const width = Math.min(100, (Math.abs(value) / scale) * 100);
  const fill = el("span", { class: `fill ${kind}${value < 0 ? " negative" : ""}` });
  fill.style.width = `${width}%`;
  return el("div", { class: "bar", "data-component": label },
    el("span", { class: "bar-label", text: label }),
    el("span", { class: "track" }, fill),
    el("span", { class: "bar-value", text: value.toFixed(3) }));
}

function render(response, label, filters) {
  $("#error").hidden = true;
  renderSummary(response, label, filters);
  const list = $("#results");
  list.replaceChildren();
  if (!response.hits.length) {
    list.append(el("li", { class: "empty", text: "No results" }));
    return;
  }
  // Score terms share one scale across the page so their bars compare between cards.
  let termScale = 1;
  for (const hit of response.hits) {
    for (const [key, , kind] of BARS) {
      const v = hit.breakdown[key];
      if (kind === "term" && typeof v === "number") termScale = Math.max(termScale, Math.abs(v));
    }
  }
  for (const hit of response.hits) {
    const s = hit.source || {};
    const several = (v) => (Array.isArray(v) ? v.join("/") : v);
    const meta = [s.brand, s.category, several(s.color), several(s.material),
      s.price != null ? `${Number(s.price).toLocaleString()} €` : null,
      s.in_stock === false ? "out of stock" : null].filter(Boolean).join(" · ");
    const bars = el("div", { class: "bars" });
    for (const [key, name, kind] of BARS) {
      const v = hit.breakdown[key];
      if (typeof v === "number") bars.append(bar(name, v, kind === "unit" ? 1 : termScale, kind));
    }
    if (typeof hit.breakdown.vector_cosine === "number") {
      bars.append(el("div", { class: "muted small", text: `vector cosine ${hit.breakdown.vector_cosine.toFixed(3)}` }));
    }
    const more = el("button", { type: "button", class: "link", text: "more like this" });
    more.addEventListener("click", () => similar(hit.id));
    list.append(el("li", { class: "card", "data-id": hit.id },
      el("div", { class: "card-head" },
        el("span", { class: "rank", text: `#${hit.rank}` }),
        el("span", { class: "title", text: s.title || hit.id }),
        el("span", { class: "score", text: hit.score.toFixed(4) })),
      el("div", { class: "meta muted", text: `${hit.id} · ${meta}` }),
      bars,
      hit.breakdown.exploration ? badge("exploration slot", "explore") : null,
      more));
  }
}

function buildOptional(info) {
  // Controls for request fields this server has (older servers lack them: none is shown).
  const box = $("#optional-fusion");
  box.replaceChildren();
  const d = info.defaults;
  if (typeof d.adaptive_fusion === "boolean") {
    const input = el("input", { type: "checkbox", id: "adaptive_fusion", "data-field": "adaptive_fusion" });
    input.checked = d.adaptive_fusion;
    box.append(el("label", { class: "row" }, el("span", { text: "adaptive weights" }), input));
  }
  if (typeof d.fuzzy === "string") {
    const select = el("select", { id: "fuzzy", "data-field": "fuzzy" },
      ...["off", "on_empty", "always"].map((v) => el("option", { value: v, text: v })));
    select.value = d.fuzzy;
    box.append(el("label", { class: "row" }, el("span", { text: "typo tolerance" }), select));
  }
  for (const input of box.querySelectorAll("[data-field]")) {
    input.addEventListener("change", () => schedule(0));
  }
}

function applyDefaults(info) {
  const d = info.defaults;
  buildOptional(info);
  document.querySelector(`input[name="mode"][value="${d.mode}"]`).checked = true;
  $("#normalization").value = d.normalization;
  $("#combination").value = d.combination;
  $("#commercial-enabled").checked = d.commercial.enabled;
  buildSliders(info);
}

function foldOnNarrowScreens() {
  // Phones: the controls fold behind their summary so results start on the first screen;
  // wide screens always show them (the summary is hidden by style.css).
  const wide = window.matchMedia("(min-width: 801px)");
  const apply = () => { $("#tuning").open = wide.matches; };
  apply();
  wide.addEventListener("change", apply);
}

async function start() {
  foldOnNarrowScreens();
  $("#search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.similarTo = null;
    schedule(0);
  });
  $("#q").addEventListener("input", () => {
    state.similarTo = null;
    schedule(250);
  });
  for (const input of document.querySelectorAll('input[name="mode"], select, #commercial-enabled')) {
    input.addEventListener("change", () => schedule(0));
  }
  const keyBox = $("#api-key");
  const retryWithKey = () => {
    if (keyBox.value.trim() === state.keyTried) return;
    load().then(() => {
      if (state.info && $("#q").value.trim()) schedule(0);
    });
  };
  keyBox.addEventListener("change", retryWithKey);
  keyBox.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      retryWithKey();
    }
  });
  $("#reset").addEventListener("click", () => {
    if (state.info) applyDefaults(state.info);
    schedule(0);
  });
  await load();
}

async function load() {
  state.keyTried = $("#api-key").value.trim();
  try {
    const info = await api("v1/info");
    $("#error").hidden = true;
    state.info = info;
    applyDefaults(info);
    buildFilters(info);
    $("#q").setAttribute("maxlength", info.limits.max_query_chars);
    const docs = info.documents == null ? "no index yet" : `${info.documents.toLocaleString()} documents`;
    $("#status").textContent = `${info.backend} · ${docs} · ${info.embedder || "model loading…"}`;
    document.body.dataset.ready = "true";
  } catch (err) {
    state.info = null;
    delete document.body.dataset.ready;
    $("#status").textContent = err.status ? `API error ${err.status}` : "API unavailable";
    showError(err);
  }
}

start();
