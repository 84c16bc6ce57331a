// Shared helpers of the explorer's pages: the page's language, calling the server, formatting numbers, drawing grids.
"use strict";

// The language: ?lang=ko (remembered), else the last one chosen, else `cnnlab serve --lang`. The string
// tables come from /static/i18n.js (cnnlab/i18n/*.json, the tables the tour and the CLI use).
const LANG = (() => {
  const asked = new URLSearchParams(location.search).get("lang");
  let stored = null;
  try {
    if (asked && asked in CNNLAB_STRINGS) localStorage.setItem("cnnlab-lang", asked);
    stored = localStorage.getItem("cnnlab-lang");
  } catch (e) { /* storage blocked: the URL and the server's default still work */ }
  const lang = asked || stored || CNNLAB_DEFAULT_LANG;
  return lang in CNNLAB_STRINGS ? lang : "en";
})();

// The text of `key` in the page's language with its {name} placeholders filled from `values`.
function tr(key, values) {
  const text = CNNLAB_STRINGS[LANG][key] ?? CNNLAB_STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (values && name in values ? String(values[name]) : whole));
}

// A server's message in the page's language: the table's text of `key` (with `values`) where the
// server named one that the table has, else the server's own (English) text.
function said(key, values, english) {
  return key && (key in CNNLAB_STRINGS[LANG] || key in CNNLAB_STRINGS.en) ? tr(key, values) : english;
}

// Every element marked data-i18n gets its text (data-i18n-title / -aria / -alt: those attributes).
function applyStrings() {
  document.documentElement.lang = LANG;
  for (const e of document.querySelectorAll("[data-i18n]")) {
    if (e.tagName === "TITLE") document.title = new DOMParser().parseFromString(tr(e.dataset.i18n), "text/html").body.textContent;
    else e.innerHTML = tr(e.dataset.i18n);
  }
  for (const [attr, name] of [["i18nTitle", "title"], ["i18nAria", "aria-label"], ["i18nAlt", "alt"]]) {
    for (const e of document.querySelectorAll(`[data-${attr.replace("i18n", "i18n-").toLowerCase()}]`)) {
      e.setAttribute(name, tr(e.dataset[attr]));
    }
  }
  for (const a of document.querySelectorAll(".langs a")) {
    if (a.lang === LANG) a.setAttribute("aria-current", "true");
  }
}
applyStrings();

// GET (no body) or POST (JSON, or raw bytes with raw=true); resolves to the JSON answer,
// rejects with an Error carrying the server's one-line message.
async function api(path, body, raw) {
  const options = body === undefined ? {} : {
    method: "POST",
    body: raw ? body : JSON.stringify(body),
    headers: {"Content-Type": raw ? "application/octet-stream" : "application/json"},
  };
  let response;
  try {
    response = await fetch(path, options);
  } catch (e) {
    throw new Error(tr("js.unreachable"));
  }
  let data;
  try {
    data = await response.json();
  } catch (e) {
    throw new Error(`${response.status} ${response.statusText}`);
  }
  if (!response.ok) throw new Error(said(data.error_key, data.error_values, data.error) || `${response.status} ${response.statusText}`);
  return data;
}

const $ = (selector) => document.querySelector(selector);

// A number as the lecture writes it: integers plainly, others with up to 3 decimals.
function fmt(v) {
  if (Number.isInteger(v)) return String(v);
  const s = v.toFixed(Math.abs(v) >= 100 ? 1 : 3).replace(/0+$/, "").replace(/\.$/, "");
  return s === "-0" ? "0" : s;
}

function showError(box, message) {
  box.textContent = message || "";
  box.hidden = !message;
}

// Draw a rows x cols grid of square cells; cell(r, c) -> {fill, text, textColor, stroke}.
// Returns the cell size in CSS pixels, so that pointer positions can be mapped back.
function drawGrid(canvas, rows, cols, cell, maxSize) {
  const size = Math.max(6, Math.min(34, Math.floor((maxSize || 460) / Math.max(rows, cols, 1))));
  const ratio = window.devicePixelRatio || 1;
  canvas.width = cols * size * ratio + 1;
  canvas.height = rows * size * ratio + 1;
  canvas.style.width = `${cols * size + 1 / ratio}px`;
  canvas.style.height = `${rows * size + 1 / ratio}px`;
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, cols * size + 1, rows * size + 1);
  g.textAlign = "center";
  g.textBaseline = "middle";
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const d = cell(r, c) || {};
      const x = c * size, y = r * size;
      g.fillStyle = d.fill || "#fff";
      g.fillRect(x, y, size, size);
      g.strokeStyle = "#d0d5dd";
      g.lineWidth = 1;
      g.strokeRect(x + 0.5, y + 0.5, size, size);
      if (d.stroke) {
        g.strokeStyle = d.stroke;
        g.lineWidth = 2;
        g.strokeRect(x + 1.5, y + 1.5, size - 2, size - 2);
      }
      if (d.text !== undefined && d.text !== "" && size >= 14) {
        const fontSize = Math.min(14, size * (d.text.length > 3 ? 0.32 : 0.45));
        g.font = `${fontSize}px ui-monospace, Menlo, Consolas, monospace`;
        g.fillStyle = d.textColor || "#1d2330";
        g.fillText(d.text, x + size / 2, y + size / 2 + 0.5);
      }
    }
  }
  return size;
}

// The grid cell under a pointer event, or null.
function cellAt(canvas, size, event) {
  const box = canvas.getBoundingClientRect();
  const c = Math.floor((event.clientX - box.left) / size), r = Math.floor((event.clientY - box.top) / size);
  return r >= 0 && c >= 0 ? [r, c] : null;
}

// A colour for v on a shared scale: diverging blue-white-red when signed, white-to-blue when not.
function heat(v, lo, hi) {
  if (lo < 0) {
    const m = Math.max(-lo, hi, 1e-12), t = Math.max(-1, Math.min(1, v / m));
    const a = Math.round(255 * (1 - Math.abs(t)));
    return t >= 0 ? [255, a, a] : [a, a, 255];
  }
  const t = hi > lo ? Math.max(0, Math.min(1, (v - lo) / (hi - lo))) : 0;
  return [Math.round(255 - 225 * t), Math.round(255 - 200 * t), Math.round(255 - 95 * t)];
}
