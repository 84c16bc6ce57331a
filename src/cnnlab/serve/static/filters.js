// The filter lab: pick an image and a kernel; the server filters (POST /api/filter).
"use strict";

const lab = {kernels: {}, mask: "box", edited: false, request: 0};

function option(select, value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  select.append(o);
  return o;
}

function label(name) {
  return name.replace(/_/g, " ");
}

function setGrid(matrix) {
  const table = $("#grid");
  table.textContent = "";
  for (const row of matrix) {
    const tr = document.createElement("tr");
    for (const v of row) {
      const td = document.createElement("td");
      const input = document.createElement("input");
      input.type = "text";
      input.inputMode = "decimal";
      input.value = Number.isInteger(v) ? String(v) : String(Number(v.toFixed(4)));
      input.addEventListener("input", () => {
        lab.edited = true;
        $("#mask").value = "custom";
        $("#kernel-note").textContent = "(your own: entries may be numbers or fractions such as 1/9)";
      });
      input.addEventListener("change", () => apply());
      td.append(input);
      tr.append(td);
    }
    table.append(tr);
  }
}

function gridText() {
  return [...$("#grid").rows].map((tr) => [...tr.querySelectorAll("input")].map((i) => i.value.trim() || "0").join(",")).join(";");
}

function chooseMask(name) {
  lab.mask = name;
  lab.edited = false;
  const m = lab.kernels[name];
  setGrid(m);
  $("#grid-size").value = String(m.length);
  $("#kernel-note").textContent = `(${label(name)}, ${m.length}×${m[0].length}, sum ${fmt(m.flat().reduce((a, b) => a + b, 0))})`;
}

function newGrid(size) {
  const m = Array.from({length: size}, (_, r) => Array.from({length: size}, (_, c) => (r === (size >> 1) && c === (size >> 1) ? 1 : 0)));
  setGrid(m);
  lab.edited = true;
  $("#mask").value = "custom";
  $("#kernel-note").textContent = `(your own ${size}×${size}: edit the entries, then apply)`;
}

function showOriginal(src, dataUrl) {
  $("#original").src = dataUrl || `/api/image?src=${encodeURIComponent(src)}`;
}

async function apply() {
  const id = ++lab.request;
  const body = {image: $("#source").value, kernel: lab.edited ? gridText() : lab.mask,
                border: $("#border").value, display: $("#display").value};
  $("#apply").disabled = true;
  try {
    const r = await api("/api/filter", body);
    if (id !== lab.request) return;
    showError($("#error"), "");
    $("#result").src = r.image;
    $("#result").dataset.kernel = JSON.stringify(r.kernel);
    const k = r.kernel;
    $("#result-caption").textContent = `filtered: ${lab.edited ? "your kernel" : label(lab.mask)} (${k.length}×${k[0].length})`;
    $("#info").textContent = `${r.width}×${r.height} pixels · border ${r.border} · shown ${r.display === "rescale"
      ? `rescaled from ${fmt(r.min)}..${fmt(r.max)} to black..white (signed edge values)` : "clipped to 0..1"} · ` +
      `computed by cnnlab in ${fmt(r.ms)} ms`;
  } catch (e) {
    if (id === lab.request) showError($("#error"), e.message);
  } finally {
    if (id === lab.request) $("#apply").disabled = false;
  }
}

async function upload(file) {
  if (!file) return;
  showError($("#error"), "");
  $("#info").textContent = `uploading ${file.name}…`;
  try {
    const r = await api("/api/upload", file, true);
    const o = option($("#source"), r.id, `upload: ${file.name} (${r.width}×${r.height}${r.resized ? `, shrunk from ${r.original[0]}×${r.original[1]}` : ""})`);
    $("#source").value = o.value;
    showOriginal(r.id, r.image);
    await apply();
  } catch (e) {
    $("#info").textContent = "";
    showError($("#error"), `${file.name}: ${e.message}`);
  }
}

async function init() {
  let info;
  try {
    info = await api("/api/kernels");
  } catch (e) {
    showError($("#error"), e.message);
    return;
  }
  lab.kernels = info.kernels;
  const mask = $("#mask");
  const lecture = document.createElement("optgroup");
  lecture.label = "the lecture's masks";
  for (const name of info.lecture) option(lecture, name, label(name));
  const more = document.createElement("optgroup");
  more.label = "more";
  for (const name of Object.keys(info.kernels)) if (!info.lecture.includes(name)) option(more, name, label(name));
  mask.append(lecture, more);
  option(mask, "custom", "your own (edit the grid)");
  for (const b of info.borders) option($("#border"), b, b);
  for (const d of info.displays) option($("#display"), d, d);
  for (const s of info.samples) option($("#source"), s, `${s} (sample photograph)`);
  mask.value = info.lecture[0];
  chooseMask(info.lecture[0]);
  mask.addEventListener("change", () => {
    if (mask.value === "custom") newGrid(Number($("#grid-size").value));
    else { chooseMask(mask.value); apply(); }
  });
  $("#grid-size").addEventListener("change", () => newGrid(Number($("#grid-size").value)));
  for (const id of ["#border", "#display"]) $(id).addEventListener("change", apply);
  $("#source").addEventListener("change", () => { showOriginal($("#source").value); apply(); });
  $("#file").addEventListener("change", () => upload($("#file").files[0]));
  $("#apply").addEventListener("click", apply);
  $("#controls").addEventListener("submit", (event) => { event.preventDefault(); apply(); });
  showOriginal($("#source").value);
  await apply();
}

document.addEventListener("DOMContentLoaded", init);
