// The served page: pick an image, set a latency budget, see the mask, the choice the server
// used and where that choice sits on the latency-metric chart. Everything comes from this
// server (/choices, /samples, /predict); nothing is loaded from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { space: null, image: null, answered: 0, pending: null };

function front(choices, key) {
  // Choices no other choice beats on both latency and metric, by increasing latency.
  const sorted = [...choices].sort((a, b) => a.p95_ms - b.p95_ms);
  const kept = [];
  for (const c of sorted) {
    if (!kept.length || c[key] > kept[kept.length - 1][key]) kept.push(c);
  }
  return kept;
}

function drawChart(current) {
  const svg = $("pareto");
  const { choices, metric } = state.space;
  const key = choices.every((c) => c.metric !== null) ? "metric" : "gflops";
  const label = key === "metric" ? metric : "GFLOPs";
  const xs = choices.map((c) => c.p95_ms), ys = choices.map((c) => c[key]);
  const budget = Number($("budget").value);
  const [x0, x1] = [0, Math.max(...xs) * 1.2];
  const [y0, y1] = [Math.min(...ys) * 0.9, Math.max(...ys) * 1.1 || 1];
  const px = (x) => 50 + (360 * (x - x0)) / (x1 - x0);
  const py = (y) => 240 - (220 * (y - y0)) / (y1 - y0 || 1);
  let out = `<line x1="50" y1="240" x2="410" y2="240" stroke="#888"/>` +
    `<line x1="50" y1="20" x2="50" y2="240" stroke="#888"/>` +
    `<text x="230" y="272" text-anchor="middle">p95 latency (ms)</text>` +
    `<text x="10" y="130" transform="rotate(-90 10 130)" text-anchor="middle">${label}</text>`;
  for (let i = 0; i <= 4; i++) {
    const x = x0 + ((x1 - x0) * i) / 4, y = y0 + ((y1 - y0) * i) / 4;
    out += `<text x="${px(x)}" y="254" text-anchor="middle">${x.toFixed(0)}</text>` +
      `<text x="46" y="${py(y) + 4}" text-anchor="end">${y.toFixed(1)}</text>`;
  }
  out += budget <= x1
    ? `<line class="budget" x1="${px(budget)}" y1="20" x2="${px(budget)}" y2="240"/>`
    : `<text x="405" y="32" text-anchor="end">budget ${budget.toFixed(0)} ms →</text>`;
  const line = front(choices, key).map((c) => `${px(c.p95_ms)},${py(c[key])}`).join(" ");
  out += `<polyline class="front" points="${line}"/>`;
  for (const c of choices) {
    out += `<circle class="point" data-choice="${c.id}" cx="${px(c.p95_ms)}" ` +
      `cy="${py(c[key])}" r="4"/><text x="${px(c.p95_ms) + 6}" y="${py(c[key]) - 6}">` +
      `${c.id}</text>`;
  }
  const used = choices.find((c) => c.id === current);
  if (used) {
    out += `<circle class="current" id="current-point" data-choice="${used.id}" ` +
      `cx="${px(used.p95_ms)}" cy="${py(used[key])}" r="9"/>`;
  }
  svg.innerHTML = out;
}

function setBudgetLabel() {
  $("budget-label").textContent = `${Number($("budget").value).toFixed(1)} ms`;
}

async function predict() {
  if (!state.image) return;
  const budget = Number($("budget").value);
  const ticket = Symbol();
  state.pending = ticket;
  $("status").textContent = "";
  const response = await fetch(`/predict?deadline_ms=${budget.toFixed(2)}`, {
    method: "POST",
    headers: { "Content-Type": state.image.type || "application/octet-stream" },
    body: state.image,
  });
  const answer = await response.json();
  if (state.pending !== ticket) return; // a newer request superseded this one
  if (!response.ok) {
    $("status").textContent = `${response.status}: ${answer.error}`;
    return;
  }
  const choice = state.space.choices.find((c) => c.id === answer.choice);
  $("mask").src = `data:image/png;base64,${answer.mask.data}`;
  $("choice").textContent = `${answer.choice} (${choice.gflops.toFixed(3)} GFLOPs)`;
  $("choice-latency").textContent = `${choice.p95_ms.toFixed(1)} ms`;
  $("latency").textContent = `${answer.latency_ms.toFixed(1)} ms in the server ` +
    `(model ${answer.model_ms.toFixed(1)} ms)`;
  drawChart(answer.choice);
  state.answered += 1;
  document.body.dataset.answered = String(state.answered);
  document.body.dataset.choice = answer.choice;
}

function useImage(blob) {
  state.image = blob;
  $("image").src = URL.createObjectURL(blob);
  predict();
}

async function loadSample(name) {
  const response = await fetch(`/samples/${encodeURIComponent(name)}`);
  useImage(await response.blob());
}

async function start() {
  state.space = await (await fetch("/choices")).json();
  // The slider spans what the choices take now (calibrated on this machine's recent runs).
  const p95 = state.space.choices.map((c) => c.expected_p95_ms);
  const slider = $("budget");
  const slack = state.space.margin_ms + 2;
  // The budget's low end leaves the fastest choice 50% of room (a request also waits to be
  // read and queued): at the left end it is answered, not refused.
  slider.min = (Math.min(...p95) * 1.5 + slack).toFixed(1);
  slider.max = (Math.max(...p95) * 2 + slack).toFixed(1);
  slider.value = slider.max;
  $("choice-ticks").innerHTML = state.space.choices
    .map((c) => `<option value="${(c.expected_p95_ms + slack).toFixed(1)}" label="${c.id}"></option>`)
    .join("");
  setBudgetLabel();
  drawChart(null);
  slider.addEventListener("input", () => { setBudgetLabel(); drawChart(document.body.dataset.choice); });
  slider.addEventListener("change", predict);
  $("upload").addEventListener("change", (event) => {
    if (event.target.files.length) useImage(event.target.files[0]);
  });
  $("show-mask").addEventListener("change", (event) => { $("mask").hidden = !event.target.checked; });
  const samples = await (await fetch("/samples")).json();
  $("samples").innerHTML = samples.map((s) => `<option>${s}</option>`).join("");
  $("samples").addEventListener("change", (event) => loadSample(event.target.value));
  if (samples.length) loadSample(samples[0]);
  document.body.dataset.ready = "true";
}

start().catch((error) => { $("status").textContent = String(error); });
