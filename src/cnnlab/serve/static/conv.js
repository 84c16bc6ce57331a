// The convolution playground: the server computes (POST /api/conv), this page only draws.
"use strict";

const COLOR = {window: "#bfdbfe", windowLine: "#2563eb", pad: "#eef0f3", padText: "#98a2b3",
               unread: "#fde2e1", current: "#fed7aa", currentLine: "#f97316", pending: "#f8fafc"};
const state = {data: null, t: 0, timer: null, seed: 0, input: null, kernel: null, sizes: {}, request: 0};

function params() {
  const num = (id) => Number($(`#${id}`).value);
  const transposed = document.querySelector("input[name=mode]:checked").value === "transposed";
  const pad = $("#padding").value;
  const p = {input: num("input"), kernel: num("kernel"), stride: num("stride"), dilation: num("dilation"),
             padding: pad === "same" || pad === "valid" ? pad : Number(pad), transposed, seed: state.seed};
  if (transposed) p.output_padding = num("output_padding");
  // The user's own numbers, while their sizes still match the sizes chosen.
  if (state.input && state.input.length === p.input) p.input_values = state.input;
  if (state.kernel && state.kernel.length === p.kernel) p.kernel_values = state.kernel;
  return p;
}

function fillPaddingChoices() {
  const select = $("#padding");
  const transposed = document.querySelector("input[name=mode]:checked").value === "transposed";
  const keep = select.value || "0";
  select.textContent = "";
  const choices = transposed ? [] : ["same", "valid"];
  for (let i = 0; i <= 16; i++) choices.push(String(i));
  for (const value of choices) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = value === "same" ? "same" : value === "valid" ? "valid (0)" : value;
    select.append(option);
  }
  select.value = choices.includes(keep) ? keep : "0";
  $("#output_padding").disabled = !transposed;
}

let pending = null;
function update(delay) {
  clearTimeout(pending);
  pending = setTimeout(fetchConv, delay === undefined ? 120 : delay);
}

async function fetchConv() {
  const p = params();
  const id = ++state.request;
  const geometry = JSON.stringify([p.input, p.kernel, p.stride, p.dilation, p.padding, p.transposed, p.output_padding]);
  try {
    const data = await api("/api/conv", p);
    if (id !== state.request) return; // a newer request is on its way
    showError($("#error"), data.valid ? "" : `${tr("js.invalid", {what: tr(p.transposed ? "js.what_transposed" : "js.what_conv")})}\n${said(data.reason_key, data.reason_values, data.reason)}`);
    const keepStep = state.data && state.data.valid && data.valid && state.geometry === geometry;
    state.data = data;
    state.geometry = geometry;
    state.input = data.input;
    state.kernel = data.kernel;
    if (!keepStep) state.t = 0;
    show();
  } catch (e) {
    if (id !== state.request) return;
    showError($("#error"), e.message);
    state.data = null;
    show();
  }
}

// "7x7 input, 3x3 filter, stride 1, padding 0 -> 5x5 output" in the page's language.
function summary(d) {
  const [top, bottom] = d.padding, p = params();
  return tr("js.summary", {n: d.input.length, k: d.kernel.length, s: d.stride, o: d.output_size[0],
    transposed: p.transposed ? tr("js.summary_transposed") : "", pad: top === bottom ? top : `${top}+${bottom}`,
    dilation: d.dilation !== 1 ? tr("js.summary_dilation", {d: d.dilation}) : "",
    output_padding: p.transposed && p.output_padding ? tr("js.summary_output_padding", {op: p.output_padding}) : ""});
}

// The server's notes (English) told again from the numbers behind them, in the page's language.
function notesOf(d) {
  const rows = (list) => list.length > 6 ? `${list.slice(0, 3).join(", ")}, …, ${list[list.length - 1]}` : list.join(", ");
  const notes = [];
  if (d.unwritten && d.unwritten.length) notes.push(tr("js.note_unwritten", {rows: rows(d.unwritten), s: d.stride}));
  if (d.remainder) notes.push(tr("js.note_remainder", {r: d.remainder, s: d.stride}));
  if (d.unread && d.unread.length) notes.push(tr("js.note_unread", {rows: rows(d.unread)}));
  return notes;
}

function show() {
  const d = state.data;
  const valid = d && d.valid;
  $("#out-size").textContent = valid ? `${d.output_size[0]} × ${d.output_size[1]}` : "–";
  $("#summary").textContent = valid ? summary(d) : "";
  $("#formula").textContent = valid ? d.formula : "";
  $("#formula").hidden = !valid;
  $("#same").textContent = valid && d.same ? tr("js.same_padding", {same: d.same}) : "";
  $("#same").hidden = !(valid && d.same);
  const notes = $("#notes");
  notes.textContent = "";
  for (const note of valid ? (LANG === "en" ? d.notes : notesOf(d)) : []) {
    const li = document.createElement("li");
    li.textContent = note;
    notes.append(li);
  }
  const scrub = $("#scrub");
  scrub.max = valid ? d.steps.length - 1 : 0;
  scrub.value = state.t;
  $("#counter").textContent = valid ? tr("js.counter", {step: state.t + 1, total: d.steps.length}) : "";
  if (!valid) stop();
  draw();
}

// The cells (in the big grid's coordinates) that the window covers at step t.
function taps(t) {
  const d = state.data, [, , top, left] = d.steps[t], k = d.kernel.length, out = [];
  for (let u = 0; u < k; u++) for (let v = 0; v < k; v++) out.push([top + u * d.dilation, left + v * d.dilation, u, v]);
  return out;
}

function draw() {
  const d = state.data;
  const inCanvas = $("#in-canvas"), outCanvas = $("#out-canvas");
  if (!d) {
    for (const c of [inCanvas, outCanvas, $("#kernel-canvas")]) c.width = c.height = 0;
    $("#step-text").textContent = "";
    return;
  }
  state.sizes.kernel = drawGrid($("#kernel-canvas"), d.kernel.length, d.kernel.length,
                                (r, c) => ({text: fmt(d.kernel[r][c]), fill: "#eef4ff"}), 200);
  if (!d.valid) {
    state.sizes.in = drawGrid(inCanvas, d.input.length, d.input.length, (r, c) => ({text: fmt(d.input[r][c])}));
    outCanvas.width = outCanvas.height = 0;
    $("#step-text").textContent = "";
    return;
  }
  const t = Math.min(state.t, d.steps.length - 1);
  const [i, j] = d.steps[t];
  const O = d.output_size[0], n = d.input.length, off = d.offset;
  const win = new Map(taps(t).map(([r, c, u, v]) => [`${r},${c}`, [u, v]]));
  if (!d.transposed) {
    const pad = d.padding[0] === d.padding[1] ? d.padding[0] : tr("js.pad_uneven", {a: d.padding[0], b: d.padding[1]});
    $("#in-caption").textContent = tr("js.padded_input", {grid: d.grid, n, pad});
    $("#out-caption").textContent = tr("js.output_caption", {o: O});
    state.sizes.in = drawGrid(inCanvas, d.grid, d.grid, (r, c) => {
      const inside = r >= off && r < off + n && c >= off && c < off + n;
      const cell = inside ? {text: fmt(d.input[r - off][c - off])}
                          : {text: "0", fill: COLOR.pad, textColor: COLOR.padText};
      if (inside && (d.unread.includes(r - off) || d.unread.includes(c - off))) cell.fill = COLOR.unread;
      if (win.has(`${r},${c}`)) Object.assign(cell, {fill: COLOR.window, stroke: COLOR.windowLine});
      return cell;
    });
    state.sizes.out = drawGrid(outCanvas, O, O, (r, c) => {
      if (r === i && c === j) return {text: fmt(d.output[r][c]), fill: COLOR.current, stroke: COLOR.currentLine};
      return d.done_at[r][c] <= t ? {text: fmt(d.output[r][c])} : {fill: COLOR.pending};
    });
    const terms = [];
    for (const [r, c, u, v] of taps(t)) {
      const x = r >= off && r < off + n && c >= off && c < off + n ? d.input[r - off][c - off] : 0;
      terms.push(`${fmt(x)}·${fmt(d.kernel[u][v])}`);
    }
    const sum = terms.length <= 25 ? terms.join(" + ") : tr("js.sum_of", {n: terms.length});
    $("#step-text").textContent = `out[${i}][${j}] = ${sum} = ${fmt(d.output[i][j])}`;
  } else {
    $("#in-caption").textContent = tr("js.scatter_caption", {n});
    $("#out-caption").textContent = d.grid !== O ? tr("js.cropped_caption", {o: O, g: d.grid}) : tr("js.output_caption", {o: O});
    state.sizes.in = drawGrid(inCanvas, n, n, (r, c) => {
      if (r === i && c === j) return {text: fmt(d.input[r][c]), fill: COLOR.current, stroke: COLOR.currentLine};
      return {text: fmt(d.input[r][c]), fill: r * n + c < t ? "#f2f4f7" : "#fff"};
    });
    state.sizes.out = drawGrid(outCanvas, d.grid, d.grid, (r, c) => {
      const inside = r >= off && r < off + O && c >= off && c < off + O;
      let cell;
      if (!inside) cell = {fill: COLOR.pad};
      else {
        const done = d.done_at[r - off][c - off];
        if (done === -1) cell = {text: "0", fill: COLOR.unread, textColor: COLOR.padText};
        else cell = done <= t ? {text: fmt(d.output[r - off][c - off])} : {fill: COLOR.pending};
      }
      if (win.has(`${r},${c}`)) Object.assign(cell, {fill: COLOR.window, stroke: COLOR.windowLine});
      return cell;
    });
    const [, , top, left] = d.steps[t], last = (d.kernel.length - 1) * d.dilation;
    $("#step-text").textContent = tr("js.adds", {i, j, v: fmt(d.input[i][j]), r0: top - off, r1: top - off + last,
      c0: left - off, c1: left - off + last, every: d.dilation > 1 ? tr("js.every", {d: d.dilation}) : "", last: O - 1});
  }
}

function go(t) {
  if (!state.data || !state.data.valid) return;
  state.t = Math.max(0, Math.min(state.data.steps.length - 1, t));
  $("#scrub").value = state.t;
  $("#counter").textContent = tr("js.counter", {step: state.t + 1, total: state.data.steps.length});
  draw();
}

function stop() {
  clearInterval(state.timer);
  state.timer = null;
  $("#play").textContent = tr("js.play");
}

function play() {
  if (state.timer) return stop();
  if (!state.data || !state.data.valid) return;
  if (state.t >= state.data.steps.length - 1) go(0);
  $("#play").textContent = tr("js.pause");
  state.timer = setInterval(() => {
    if (state.t >= state.data.steps.length - 1) return stop();
    go(state.t + 1);
  }, Number($("#speed").value));
}

// Dragging on a grid moves the window to the step nearest the pointer; with "edit numbers"
// a click changes the number under it instead.
function nearestStep(r, c, useWindow) {
  const d = state.data, half = ((d.kernel.length - 1) * d.dilation) / 2;
  let best = 0, bestDist = Infinity;
  d.steps.forEach(([i, j, top, left], t) => {
    const dist = useWindow ? Math.abs(top + half - r) + Math.abs(left + half - c) : Math.abs(i - r) + Math.abs(j - c);
    if (dist < bestDist) { best = t; bestDist = dist; }
  });
  return best;
}

function edit(matrix, r, c, delta, lo, hi) {
  if (!matrix || r < 0 || c < 0 || r >= matrix.length || c >= matrix.length) return false;
  matrix[r][c] = Math.max(lo, Math.min(hi, Math.round(matrix[r][c]) + delta));
  return true;
}

function attachPointer(canvas, which) {
  let dragging = false;
  const move = (event) => {
    const d = state.data, cell = cellAt(canvas, state.sizes[which], event);
    if (!d || !d.valid || !cell) return;
    const [r, c] = cell;
    // conv: the input grid holds windows, the output grid steps; transposed: the reverse
    const onWindows = (which === "in") !== d.transposed;
    go(nearestStep(r, c, onWindows));
  };
  canvas.addEventListener("pointerdown", (event) => {
    const d = state.data, cell = cellAt(canvas, state.sizes[which], event);
    if (!d || !cell) return;
    if ($("#edit").checked && which === "in") {
      const off = d.transposed || !d.valid ? 0 : d.offset;
      if (edit(state.input, cell[0] - off, cell[1] - off, event.shiftKey ? -1 : 1, -9, 9)) update(0);
      return;
    }
    dragging = true;
    canvas.setPointerCapture(event.pointerId);
    stop();
    move(event);
  });
  canvas.addEventListener("pointermove", (event) => { if (dragging) move(event); });
  canvas.addEventListener("pointerup", () => { dragging = false; });
  canvas.addEventListener("pointercancel", () => { dragging = false; });
}

function init() {
  fillPaddingChoices();
  for (const id of ["input", "kernel", "stride", "dilation", "output_padding", "padding"]) {
    $(`#${id}`).addEventListener("input", () => update());
    $(`#${id}`).addEventListener("change", () => update(0));
  }
  for (const radio of document.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", () => { fillPaddingChoices(); state.input = null; update(0); });
  }
  $("#shuffle").addEventListener("click", () => { state.seed += 1; state.input = state.kernel = null; update(0); });
  $("#controls").addEventListener("submit", (event) => event.preventDefault());
  $("#play").addEventListener("click", play);
  $("#step").addEventListener("click", () => { stop(); go(state.t + 1); });
  $("#back").addEventListener("click", () => { stop(); go(state.t - 1); });
  $("#first").addEventListener("click", () => { stop(); go(0); });
  $("#last").addEventListener("click", () => { stop(); go(Infinity); });
  $("#scrub").addEventListener("input", () => { stop(); go(Number($("#scrub").value)); });
  $("#speed").addEventListener("change", () => { if (state.timer) { stop(); play(); } });
  $("#kernel-canvas").addEventListener("pointerdown", (event) => {
    const cell = cellAt($("#kernel-canvas"), state.sizes.kernel, event);
    if (cell && edit(state.kernel, cell[0], cell[1], event.shiftKey ? -1 : 1, -9, 9)) update(0);
  });
  attachPointer($("#in-canvas"), "in");
  attachPointer($("#out-canvas"), "out");
  update(0);
}

document.addEventListener("DOMContentLoaded", init);
