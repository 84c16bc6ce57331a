// The digit lab: draw, and the server classifies (POST /api/digit) while you draw.
"use strict";

const pad = {drawing: false, inFlight: false, dirty: false, ink: false, last: null};

function context() {
  return $("#pad").getContext("2d", {willReadFrequently: true});
}

function clearPad() {
  const g = context();
  g.fillStyle = "#fff";
  g.fillRect(0, 0, $("#pad").width, $("#pad").height);
  pad.ink = false;
  $("#prediction").textContent = "";
  $("#probs").textContent = "";
  $("#layers").textContent = "";
  $("#info").textContent = "";
  $("#seen").getContext("2d").clearRect(0, 0, 112, 112);
  showError($("#error"), "");
}

function position(event) {
  const box = $("#pad").getBoundingClientRect();
  return [(event.clientX - box.left) * ($("#pad").width / box.width), (event.clientY - box.top) * ($("#pad").height / box.height)];
}

function stroke(from, to) {
  const g = context();
  g.strokeStyle = "#000";
  g.lineWidth = 20;
  g.lineCap = g.lineJoin = "round";
  g.fillStyle = "#000";
  g.beginPath();
  if (from[0] === to[0] && from[1] === to[1]) {  // a dot: a path of length 0 draws nothing
    g.arc(from[0], from[1], g.lineWidth / 2, 0, 2 * Math.PI);
    g.fill();
  } else {
    g.moveTo(from[0], from[1]);
    g.lineTo(to[0], to[1]);
    g.stroke();
  }
  pad.ink = true;
}

// The drawing as 8-bit gray, base64: one byte per pixel, row by row.
function pixels() {
  const {width, height} = $("#pad");
  const rgba = context().getImageData(0, 0, width, height).data;
  const gray = new Uint8Array(width * height);
  for (let i = 0; i < gray.length; i++) gray[i] = rgba[4 * i];
  let text = "";
  for (let i = 0; i < gray.length; i += 0x8000) text += String.fromCharCode.apply(null, gray.subarray(i, i + 0x8000));
  return {width, height, pixels: btoa(text)};
}

// One request at a time; strokes drawn meanwhile are sent as soon as it returns.
async function predict() {
  if (!pad.ink) return;
  if (pad.inFlight) { pad.dirty = true; return; }
  pad.inFlight = true;
  pad.dirty = false;
  try {
    const r = await api("/api/digit", pixels());
    if (pad.ink) show(r);
    showError($("#error"), "");
  } catch (e) {
    showError($("#error"), e.message);
  } finally {
    pad.inFlight = false;
    if (pad.dirty) predict();
  }
}

function paint(canvas, values, lo, hi, scale) {
  const rows = values.length, cols = values[0].length;
  canvas.width = cols;
  canvas.height = rows;
  canvas.style.width = `${cols * scale}px`;
  canvas.style.height = `${rows * scale}px`;
  const g = canvas.getContext("2d"), image = g.createImageData(cols, rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const [R, G, B] = heat(values[r][c], lo, hi), k = 4 * (r * cols + c);
      image.data[k] = R; image.data[k + 1] = G; image.data[k + 2] = B; image.data[k + 3] = 255;
    }
  }
  g.putImageData(image, 0, 0);
}

function show(r) {
  $("#prediction").textContent = String(r.prediction);
  const probs = $("#probs");
  probs.textContent = "";
  r.probabilities.forEach((p, digit) => {
    const name = document.createElement("span"), track = document.createElement("div"), bar = document.createElement("div");
    const value = document.createElement("span");
    name.textContent = digit;
    bar.className = digit === r.prediction ? "bar top" : "bar";
    bar.style.width = `${(100 * p).toFixed(1)}%`;
    track.append(bar);
    value.textContent = `${(100 * p).toFixed(1)}%`;
    value.className = "prob-value";
    probs.append(name, track, value);
  });
  const seen = $("#seen");
  const g = seen.getContext("2d"), image = g.createImageData(28, 28);
  r.digit.flat().forEach((v, i) => { const x = 255 - Math.round(255 * v); image.data.set([x, x, x, 255], 4 * i); });
  const tmp = document.createElement("canvas");
  tmp.width = tmp.height = 28;
  tmp.getContext("2d").putImageData(image, 0, 0);
  g.imageSmoothingEnabled = false;
  g.clearRect(0, 0, 112, 112);
  g.drawImage(tmp, 0, 0, 112, 112);
  const m = r.model;
  $("#info").textContent = tr("js.digit_info", {model: m.model, epoch: m.epoch, ms: fmt(r.ms),
    acc: m.test_acc != null ? tr("js.digit_acc", {acc: (100 * m.test_acc).toFixed(1)}) : ""});
  const layers = $("#layers");
  layers.textContent = "";
  for (const layer of r.layers) {
    const section = document.createElement("section"), title = document.createElement("h3"), maps = document.createElement("div");
    section.className = "layer";
    section.dataset.name = layer.name;
    maps.className = "maps";
    title.textContent = tr("js.layer_title", {name: layer.name, type: layer.type, shape: layer.shape.join("×"),
                                              lo: fmt(layer.min), hi: fmt(layer.max)});
    if (layer.shape.length === 3) {
      const scale = Math.max(2, Math.round(84 / layer.shape[1]));
      for (const channel of layer.values) {
        const canvas = document.createElement("canvas");
        paint(canvas, channel, layer.min, layer.max, scale);
        maps.append(canvas);
      }
    } else {  // a vector (flatten, fully connected): shown as rows of cells
      const n = layer.values.length, cols = Math.min(n, 40), rows = [];
      for (let i = 0; i < n; i += cols) rows.push(layer.values.slice(i, i + cols).concat(Array(Math.max(0, i + cols - n)).fill(layer.min < 0 ? 0 : layer.min)));
      const canvas = document.createElement("canvas");
      paint(canvas, rows, layer.min, layer.max, n <= 10 ? 24 : 10);
      maps.append(canvas);
    }
    section.append(title, maps);
    layers.append(section);
  }
}

function init() {
  const canvas = $("#pad");
  clearPad();
  canvas.addEventListener("pointerdown", (event) => {
    pad.drawing = true;
    canvas.setPointerCapture(event.pointerId);
    pad.last = position(event);
    stroke(pad.last, pad.last);
    predict();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!pad.drawing) return;
    const p = position(event);
    stroke(pad.last, p);
    pad.last = p;
    predict();
  });
  const end = () => { if (pad.drawing) { pad.drawing = false; predict(); } };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  $("#clear").addEventListener("click", clearPad);
}

document.addEventListener("DOMContentLoaded", init);
