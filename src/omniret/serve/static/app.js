// omniret web UI: a composed query (text + one dropped or chosen medium), results, uploads.
// Plain browser JavaScript, no build step; it talks to the same JSON API as every other client.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { file: null, objectUrls: [] };

function key() { return localStorage.getItem("omniret-key") || ""; }
function headers(extra = {}) { return key() ? { ...extra, Authorization: `Bearer ${key()}` } : extra; }

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
  return body;
}

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function kindOf(file) {
  const top = (file.type || "").split("/")[0];
  return ["image", "audio", "video"].includes(top) ? top : null;
}

function attach(file) {
  const kind = kindOf(file);
  if (!kind) { say(`${file.name}: not an image, audio or video file`); return; }
  state.file = file;
  $("attached").textContent = `${kind}: ${file.name}`;
  $("attached").hidden = false;
  $("clear").hidden = false;
}

function detach() {
  state.file = null;
  $("attached").hidden = true;
  $("clear").hidden = true;
  $("file").value = "";
}

function say(text) { $("message").textContent = text; }

async function queryParts() {
  const parts = [];
  if (state.file) {
    const url = await readAsDataUrl(state.file);
    const kind = kindOf(state.file);
    const type = { image: "image_url", audio: "input_audio", video: "video_url" }[kind];
    if (kind === "audio") parts.push({ type, input_audio: { data: url, format: state.file.type.split("/")[1] } });
    else parts.push({ type, [type]: { url } });
  }
  const text = $("query").value.trim();
  if (text) parts.push({ type: "text", text });
  return parts;
}

async function mediaUrl(path) {
  if (!key()) return path;  // direct: the browser streams and seeks with range requests
  const response = await fetch(path, { headers: headers() });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const url = URL.createObjectURL(await response.blob());
  state.objectUrls.push(url);
  return url;
}

function fmt(t) { return t == null ? "" : `${t.toFixed(1)} s`; }

async function renderHit(hit, rank) {
  const card = document.createElement("article");
  card.className = "hit";
  card.dataset.modality = hit.modality;
  card.dataset.name = hit.name;
  let media;
  if (hit.modality === "image") {
    media = document.createElement("img");
    media.alt = hit.page == null ? hit.name : `${hit.name}, page ${hit.page}`;
    // a PDF page is shown by its stored thumbnail: the file itself is no image
    media.src = await mediaUrl(hit.page == null ? hit.media_url : hit.keyframe_url);
  } else if (hit.modality === "audio" || hit.modality === "video") {
    media = document.createElement(hit.modality);
    media.controls = true;
    media.preload = "metadata";
    if (hit.modality === "video" && hit.keyframe_url) media.poster = await mediaUrl(hit.keyframe_url);
    const start = hit.t0 || 0;
    media.src = (await mediaUrl(hit.media_url)) + `#t=${start}${hit.t1 ? "," + hit.t1 : ""}`;
    media.addEventListener("loadedmetadata", () => { if (media.currentTime < start) media.currentTime = start; });
    media.dataset.t0 = String(start);
  } else {
    media = document.createElement("p");
    media.className = "text";
    media.textContent = hit.text || "";
  }
  const score = hit.calibrated_score == null ? hit.score.toFixed(3) : `${hit.score.toFixed(3)} (z ${hit.calibrated_score.toFixed(2)})`;
  const name = document.createElement("div");
  name.className = "name";
  name.textContent = `${rank}. ${hit.name}`;
  const meta = document.createElement("div");
  meta.className = "meta";
  const badge = document.createElement("span");
  badge.className = `badge ${hit.modality}`;
  badge.textContent = hit.modality;
  const detail = document.createElement("span");
  detail.className = "score";
  detail.textContent = `${score}${hit.t1 ? ` · ${fmt(hit.t0)}–${fmt(hit.t1)}` : ""}`;
  if (hit.page != null) detail.textContent += ` · page ${hit.page}`;
  meta.append(badge, detail);
  card.append(media, name, meta);
  if (hit.speech && !hit.text) {
    const said = document.createElement("p");
    said.className = "said";
    said.textContent = `“${hit.speech}”`;
    card.append(said);
  }
  return card;
}

async function search(event) {
  event.preventDefault();
  const parts = await queryParts();
  if (!parts.length) { say("Type a query or drop a file."); return; }
  state.objectUrls.forEach((u) => URL.revokeObjectURL(u));
  state.objectUrls = [];
  say("searching…");
  const body = { query: parts, k: Number($("k").value) || 12 };
  if ($("modality").value) body.modality = $("modality").value;
  if ($("mode").value !== "dense") {
    if (!parts.some((p) => p.type === "text")) { say("Keyword and hybrid search need words: type some."); return; }
    body.mode = $("mode").value;
  }
  try {
    const result = await api("/v1/search", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const cards = await Promise.all(result.hits.map((h, i) => renderHit(h, i + 1)));
    $("results").replaceChildren(...cards);
    const ranking = result.ranking.mode === "hybrid" ? `hybrid (rrf k=${result.ranking.rrf_k}) · ` : "";
    say(`${result.hits.length} results in ${(result.seconds * 1000).toFixed(0)} ms · ${ranking}${result.mode} · calibration ${result.calibration}`);
  } catch (err) {
    $("results").replaceChildren();
    say(`Search failed: ${err.message}`);
  }
}

async function upload(event) {
  event.preventDefault();
  const files = $("upload-files").files;
  if (!files.length) { $("upload-status").textContent = "Choose files first."; return; }
  const form = new FormData();
  for (const f of files) form.append("files", f, f.name);
  const bar = $("upload-progress");
  bar.hidden = false; bar.value = 0;
  try {
    let job = await api("/v1/items", { method: "POST", body: form });
    while (job.state === "queued" || job.state === "running") {
      $("upload-status").textContent = `${job.state}: ${job.files_done}/${job.files_total ?? "?"} files`;
      if (job.files_total) { bar.max = job.files_total; bar.value = job.files_done; }
      await new Promise((r) => setTimeout(r, 300));
      job = await api(`/v1/jobs/${job.id}`);
    }
    bar.max = 1; bar.value = 1;
    const skipped = job.skipped.map((s) => `${s.file}: ${s.reason}`).join("; ");
    $("upload-status").textContent = job.state === "done"
      ? `indexed: ${job.added.length} added, ${job.replaced.length} replaced, ${job.unchanged} unchanged${skipped ? `; skipped ${skipped}` : ""}`
      : `failed: ${job.error}`;
  } catch (err) {
    $("upload-status").textContent = `Upload failed: ${err.message}`;
  }
}

async function status() {
  try {
    const ready = await fetch("/readyz").then((r) => r.json());
    $("status").textContent = ready.status === "ready" ? `model ${ready.model}` : ready.error ? ready.error.message : "loading";
  } catch (err) { $("status").textContent = "server unreachable"; }
}

function wire() {
  $("key").value = key();
  $("key").addEventListener("change", () => localStorage.setItem("omniret-key", $("key").value.trim()));
  $("search").addEventListener("submit", search);
  $("upload").addEventListener("submit", upload);
  $("file").addEventListener("change", () => { if ($("file").files[0]) attach($("file").files[0]); });
  $("clear").addEventListener("click", detach);
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer && e.dataTransfer.files.length) attach(e.dataTransfer.files[0]);
  });
  status();
}

wire();
