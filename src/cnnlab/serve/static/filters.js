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

// A mask's or an option's name in the page's language (the identifier itself where the table has none).
function label(name, kind = "mask") {
  return CNNLAB_STRINGS[LANG][`${kind}.${name}`] ?? name.replace(/_/g, " ");
}

function setGrid(matrix) {
  const table = $("#grid");
  table.textContent = "";
  for (const row of matrix) {
    const line = document.createElement("tr");
    for (const v of row) {
      const td = document.createElement("td");
      const input = document.createElement("input");
      input.type = "text";
      input.inputMode = "decimal";
      input.value = Number.isInteger(v) ? String(v) : String(Number(v.toFixed(4)));
      input.addEventListener("input", () => {
        lab.edited = true;
        $("#mask").value = "custom";
        $("#kernel-note").textContent = tr("js.custom_note");
      });
      input.addEventListener("change", () => apply());
      td.append(input);
      line.append(td);
    }
    table.append(line);
  }
}

function gridText() {
  return [...$("#grid").rows].map((row) => [...row.querySelectorAll("input")].map((i) => i.value.trim() || "0").join(",")).join(";");
}

function chooseMask(name) {
  lab.mask = name;
  lab.edited = false;
  const m = lab.kernels[name];
  setGrid(m);
  $("#grid-size").value = String(m.length);
  $("#kernel-note").textContent = tr("js.kernel_note", {name: label(name), rows: m.length, cols: m[0].length, sum: fmt(m.flat().reduce((a, b) => a + b, 0))});
}

function newGrid(size) {
  const m = Array.from({length: size}, (_, r) => Array.from({length: size}, (_, c) => (r === (size >> 1) && c === (size >> 1) ? 1 : 0)));
  setGrid(m);
  lab.edited = true;
  $("#mask").value = "custom";
  $("#kernel-note").textContent = tr("js.own_note", {n: size});
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
    $("#result-caption").textContent = tr("js.filtered", {name: lab.edited ? tr("js.your_kernel") : label(lab.mask),
                                                          rows: k.length, cols: k[0].length});
    $("#info").textContent = tr("js.info", {w: r.width, h: r.height, border: label(r.border, "opt"), ms: fmt(r.ms),
      shown: r.display === "rescale" ? tr("js.rescaled", {lo: fmt(r.min), hi: fmt(r.max)}) : tr("js.clipped")});
  } catch (e) {
    if (id === lab.request) showError($("#error"), e.message);
  } finally {
    if (id === lab.request) $("#apply").disabled = false;
  }
}

async function upload(file) {
  if (!file) return;
  showError($("#error"), "");
  $("#info").textContent = tr("js.uploading", {name: file.name});
  try {
    const r = await api("/api/upload", file, true);
    const o = option($("#source"), r.id, tr("js.upload", {name: file.name, w: r.width, h: r.height,
      shrunk: r.resized ? tr("js.shrunk", {w: r.original[0], h: r.original[1]}) : ""}));
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
  lecture.label = tr("js.lecture_masks");
  for (const name of info.lecture) option(lecture, name, label(name));
  const more = document.createElement("optgroup");
  more.label = tr("js.more");
  for (const name of Object.keys(info.kernels)) if (!info.lecture.includes(name)) option(more, name, label(name));
  mask.append(lecture, more);
  option(mask, "custom", tr("js.custom"));
  for (const b of info.borders) option($("#border"), b, label(b, "opt"));
  for (const d of info.displays) option($("#display"), d, label(d, "opt"));
  for (const s of info.samples) option($("#source"), s, tr("js.sample", {name: label(s, "opt")}));
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
