// The grid page: collapsible task groups, a side panel with a task instance's details (read from its
// own page and its log page, so the panel shows what those pages show), and keyboard navigation.
(function () {
  "use strict";
  const grid = document.getElementById("grid");
  if (!grid) { return; }
  const panel = document.getElementById("side-panel");
  const body = document.getElementById("side-body");
  const rows = Array.from(grid.tBodies[0].rows);

  // --- groups ------------------------------------------------------------------------------------
  const collapsed = new Set();
  const refresh = () => {
    for (const tr of rows) {
      const parents = tr.dataset.parents ? tr.dataset.parents.split(" ") : [];
      tr.classList.toggle("is-hidden", parents.some((p) => collapsed.has(p)));
    }
  };
  for (const tr of rows.filter((r) => r.dataset.groupId)) {
    const button = tr.querySelector(".group-toggle");
    const label = button.textContent.slice(2);
    button.addEventListener("click", () => {
      const id = tr.dataset.groupId, closing = !collapsed.has(id);
      if (closing) { collapsed.add(id); } else { collapsed.delete(id); }
      button.textContent = (closing ? "▸ " : "▾ ") + label;
      button.setAttribute("aria-expanded", String(!closing));
      button.setAttribute("aria-label", (closing ? "Expand group " : "Collapse group ") + label);
      refresh();
    });
  }

  // --- selection and keyboard ----------------------------------------------------------------------
  let selected = null;
  const select = (cell) => {
    if (selected) { selected.classList.remove("selected"); }
    selected = cell;
    cell.classList.add("selected");
    cell.focus();
  };
  const position = (cell) => {
    const td = cell.parentElement;
    return [rows.indexOf(td.parentElement), Array.prototype.indexOf.call(td.parentElement.cells, td)];
  };
  const cellAt = (r, c) => {
    const tr = rows[r];
    if (!tr || tr.classList.contains("is-hidden")) { return null; }
    const td = tr.cells[c];
    return td ? td.querySelector("a.cell") : null;
  };
  const step = (cell, dr, dc) => {
    let [r, c] = position(cell);
    for (;;) {
      r += dr; c += dc;
      if (r < 0 || r >= rows.length || c < 1 || c >= rows[Math.max(0, Math.min(r, rows.length - 1))].cells.length) { return null; }
      const found = cellAt(r, c);
      if (found) { return found; }
    }
  };
  const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
  grid.addEventListener("keydown", (event) => {
    const cell = event.target.closest && event.target.closest("a.cell");
    if (!cell || !moves[event.key]) { return; }
    event.preventDefault();
    const next = step(cell, ...moves[event.key]);
    if (next) { select(next); }
  });
  grid.addEventListener("focusin", (event) => {
    const cell = event.target.closest && event.target.closest("a.cell");
    if (cell && cell !== selected) { select(cell); }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.classList.contains("is-hidden")) {
      close();
      if (selected) { selected.focus(); }
    }
  });

  // --- side panel ----------------------------------------------------------------------------------
  const close = () => { panel.classList.add("is-hidden"); body.replaceChildren(); };
  document.getElementById("side-close").addEventListener("click", () => { close(); if (selected) { selected.focus(); } });
  const page = async (url) => {
    const response = await fetch(url, { headers: { Accept: "text/html" } });
    if (!response.ok) { throw new Error(response.status + " " + url); }
    return new DOMParser().parseFromString(await response.text(), "text/html");
  };
  // What the task instance's page shows below its title, without the buttons that change things.
  const details = (doc) => {
    const main = doc.querySelector("main");
    const parts = [];
    let started = false;
    for (const el of Array.from(main.children)) {
      if (el.classList.contains("tabs")) { started = true; continue; }
      if (!started || el.matches("h2:first-of-type, #ti-actions, form, script")) { continue; }
      parts.push(document.importNode(el, true));
    }
    return parts;
  };
  let loading = 0;
  const open = async (cell) => {
    const ticket = ++loading;
    const href = cell.getAttribute("href");
    const [path, query] = href.split("?");
    document.getElementById("side-title").textContent = `${cell.dataset.taskId} · ${cell.dataset.runId}`;
    document.getElementById("side-open").href = href;
    panel.classList.remove("is-hidden");
    body.replaceChildren(Object.assign(document.createElement("p"), { className: "muted", textContent: "Loading…" }));
    try {
      const [ti, log] = await Promise.all([page(href), page(path + "/logs?" + query)]);
      if (ticket !== loading) { return; }
      const logHead = document.createElement("h2");
      const heading = log.querySelector("main h2");
      logHead.textContent = heading ? heading.textContent.replace(/\s+in\s+\S+\s*$/, "").trim() : "Log";
      const text = log.querySelector("#log");
      const pre = Object.assign(document.createElement("pre"), { className: "log", id: "side-log" });
      pre.textContent = text ? text.textContent : "No log for this try.";
      // the log right after the facts: what a person opening a cell most often wants
      const parts = details(ti);
      const facts = parts.findIndex((el) => el.classList.contains("panel"));
      parts.splice(facts + 1, 0, logHead, pre);
      body.replaceChildren(...parts);
    } catch (error) {
      if (ticket !== loading) { return; }
      body.replaceChildren(Object.assign(document.createElement("p"), { className: "error-text", textContent: "Could not load: " + error.message }));
    }
  };
  grid.addEventListener("click", (event) => {
    const cell = event.target.closest("a.cell");
    if (!cell || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) { return; }
    event.preventDefault();
    select(cell);
    open(cell);
  });
})();
