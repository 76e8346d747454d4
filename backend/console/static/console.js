// Symptom Diary staff console: live updates on top of pages that work without this script.
// Server-sent events say *that* something changed; the page then fetches the new part.
"use strict";

(function () {
  const text = (key, fallback) => document.documentElement.dataset[key] || fallback;

  // The worklist: rows that changed come in without a reload; new ones are marked.
  function liveWorklist(table) {
    const alertsOf = (row) => (row.dataset.alerts || "").split(" ").filter(Boolean);
    const seen = new Set(Array.from(table.querySelectorAll("tbody tr[data-id]"), alertsOf).flat());
    const status = document.getElementById("live-status");
    let version = table.dataset.version;
    let added = 0;
    const events = new EventSource(table.dataset.events);
    events.addEventListener("worklist", async (event) => {
      if (event.data === version) return;
      version = event.data;
      const answer = await fetch(table.dataset.rows, {
        credentials: "same-origin",
        headers: { "X-Console-Background": "1" },  // not the member's doing: no idle reset
      });
      if (!answer.ok || answer.redirected) return;
      const holder = document.createElement("table");
      holder.innerHTML = await answer.text();
      const rows = holder.querySelector("tbody");
      if (!rows) return;
      const current = table.querySelector("tbody");
      for (const row of rows.querySelectorAll("tr[data-id]")) {
        // A row is a case; what is new is an alert (a case already listed may get more).
        for (const alert of alertsOf(row)) {
          if (!seen.has(alert)) {
            row.classList.add("new");
            seen.add(alert);
            added += 1;
          }
        }
        // A row someone is working in (a comment half typed) stays as it is.
        const old = current.querySelector(`tr[data-id="${row.dataset.id}"]`);
        if (old && (old.querySelector("details[open]") || old.contains(document.activeElement))) {
          row.replaceWith(old);
        }
      }
      current.replaceWith(rows);
      table.dataset.version = version;
      if (status) {
        status.hidden = added === 0;
        status.textContent = (status.dataset.template || text("newAlerts", "{n} new since you opened this page")).replace("{n}", added);
      }
    });
    events.addEventListener("signed-out", () => { events.close(); window.location.reload(); });
    // A newer page of this session took this one's place (a few streams per session).
    events.addEventListener("superseded", () => events.close());
  }

  // A broadcast's progress while it drains.
  function liveProgress(card) {
    const events = new EventSource(card.dataset.events);
    events.addEventListener("progress", (event) => {
      const counts = JSON.parse(event.data);
      for (const [key, value] of Object.entries(counts)) {
        const cell = card.querySelector(`[data-count="${key}"]`);
        if (cell) cell.textContent = value;
      }
      const bar = document.getElementById("progress-bar");
      if (bar) { bar.max = Math.max(counts.total, 1); bar.value = counts.total - counts.pending; }
      if (counts.pending === 0) {
        const state = document.getElementById("broadcast-state");
        if (state) state.textContent = state.dataset.done || text("done", "Done.");
        const cancel = document.getElementById("cancel-form");
        if (cancel) cancel.remove();
        events.close();
      }
    });
    events.addEventListener("signed-out", () => { events.close(); window.location.reload(); });
    // A newer page of this session took this one's place (a few streams per session).
    events.addEventListener("superseded", () => events.close());
  }

  // The broadcast form: how many people it would reach, as regions and filters change.
  function liveCount(form) {
    const out = document.getElementById("recipient-count");
    async function update() {
      const query = new URLSearchParams();
      for (const box of form.querySelectorAll('input[name="regions"]:checked')) query.append("regions", box.value);
      query.set("kind", form.elements.kind.value);
      if (form.elements.urgent.checked) query.set("urgent", "yes");
      const answer = await fetch(`${form.dataset.count}?${query}`, {
        credentials: "same-origin",
        headers: { "X-Console-Background": "1" },
      });
      if (!answer.ok) return;
      const { count } = await answer.json();
      out.hidden = false;
      const template = count === 1 ? out.dataset.one : out.dataset.template;
      out.textContent = (template || "{n}").replace("{n}", count);
    }
    form.addEventListener("change", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const table = document.getElementById("worklist");
    if (table && table.dataset.events) liveWorklist(table);
    const card = document.getElementById("broadcast-progress");
    if (card && card.dataset.events) liveProgress(card);
    const form = document.querySelector("form.broadcast-form");
    if (form && form.dataset.count) liveCount(form);
    for (const button of document.querySelectorAll("[data-print]")) {
      button.addEventListener("click", () => window.print());
    }
  });
})();
