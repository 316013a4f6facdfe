// Keeps the fleet page live: fetch /api/status every few seconds and rewrite the tables in place.
// Text only (textContent): nothing from the server is ever parsed as HTML. No library, works offline.
"use strict";
(function () {
  const main = document.querySelector("main");
  const every = Number(main.dataset.refreshMs) || 3000;
  const token = new URLSearchParams(location.search).get("token");
  const headers = token ? { Authorization: "Bearer " + token } : {};

  const pad = (n) => String(n).padStart(2, "0");
  const clock = (iso) => { if (!iso) return ""; const d = new Date(iso); return pad(d.getHours()) + ":" + pad(d.getMinutes()); };
  const duration = (s) => {
    if (s === null || s === undefined) return "";
    s = Math.round(s); const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h ? h + "h" + pad(m) + "m" : m + "m" + pad(s % 60) + "s";
  };
  function el(tag, text, sub, attrs) {
    const node = document.createElement(tag);
    node.textContent = text || "";
    if (sub) { const span = document.createElement("span"); span.className = "sub"; span.textContent = sub; node.append(span); }
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }
  function printerRow(p) {
    const tr = el("tr", "", null, { "data-printer": p.name });
    tr.className = !p.ok ? "bad" : (p.waiting_for_clearing_since ? "wait" : "");
    tr.append(el("th", p.name, p.site, { scope: "row" }));
    tr.append(el("td", p.state_text, p.error, { class: "state" }));
    const job = p.job ? (p.job.ref ? [p.job.ref + "@" + p.job.revision, p.job.plate_id || p.job.id] : [p.job.file, null]) : ["", null];
    tr.append(el("td", job[0], job[1], { class: "job" }));
    tr.append(el("td", p.progress === null ? "" : Math.round(p.progress) + "%", null, { class: "progress" }));
    tr.append(el("td", duration(p.time_left_s), null, { class: "left" }));
    tr.append(el("td", p.material, p.material_lot, { class: "material" }));
    const bed = p.waiting_for_clearing_since ? "waiting for bed clear since " + clock(p.waiting_for_clearing_since) : p.bed_clearing;
    tr.append(el("td", bed, null, { class: "bed" }));
    return tr;
  }
  function lotRow(l) {
    const tr = el("tr", "", null, { "data-lot": l.lot_id });
    tr.className = l.will_meet_deadline === false ? "bad" : "";
    tr.append(el("th", l.ref + "@" + l.revision, l.lot_id, { scope: "row" }));
    tr.append(el("td", l.units_made + " / " + l.units_planned));
    for (const n of [l.plates_queued, l.plates_printing, l.plates_failed]) tr.append(el("td", String(n)));
    tr.append(el("td", clock(l.deadline)));
    const forecast = l.will_meet_deadline === false ? "at risk: " + l.risk
      : (l.expected_finish ? "done by " + clock(l.expected_finish) : "waits for bed clearing");
    tr.append(el("td", forecast));
    return tr;
  }
  function eventItem(e) {
    const li = el("li", "", null, { "data-kind": e.kind });
    li.append(el("time", clock(e.at), null, { datetime: e.at }), document.createTextNode(" " + e.message));
    return li;
  }
  function render(status) {
    document.querySelector("#printers tbody").replaceChildren(...status.printers.map(printerRow));
    document.querySelector("#lots tbody").replaceChildren(...status.lots.map(lotRow));
    document.querySelector("#events").replaceChildren(...status.events.map(eventItem));
    const when = document.querySelector("#updated time");
    when.setAttribute("datetime", status.generated_at);
    when.textContent = new Date(status.generated_at).toLocaleTimeString([], { hour12: false });
    document.querySelector("#updated").classList.remove("stale");
  }
  async function refresh() {
    try {
      const response = await fetch("api/status", { headers, cache: "no-store" });
      if (response.ok) render(await response.json());
      else document.querySelector("#updated").classList.add("stale");
    } catch (err) {
      document.querySelector("#updated").classList.add("stale");
    }
    setTimeout(refresh, every);
  }
  setTimeout(refresh, every);
})();
