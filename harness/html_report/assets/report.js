"use strict";
(function () {
  const list = document.getElementById("flip-list");
  if (!list) { return; }
  const items = Array.from(list.querySelectorAll("article.flip"));
  const text = document.getElementById("filter-text");
  const selects = Array.from(document.querySelectorAll("select[data-facet]"));
  const count = document.getElementById("flip-count");
  const label = document.getElementById("page-label");
  const prev = document.getElementById("page-prev");
  const next = document.getElementById("page-next");
  const size = Number(list.dataset.pageSize) || 25;
  let page = 0;
  function matches(item) {
    for (const select of selects) {
      if (select.value && item.dataset[select.dataset.facet] !== select.value) { return false; }
    }
    const needle = text.value.trim().toLowerCase();
    return !needle || item.textContent.toLowerCase().includes(needle);
  }
  function show() {
    const shown = items.filter(matches);
    const pages = Math.max(1, Math.ceil(shown.length / size));
    page = Math.min(page, pages - 1);
    const first = page * size;
    for (const item of items) { item.hidden = true; }
    shown.slice(first, first + size).forEach(function (item) { item.hidden = false; });
    count.textContent = shown.length + " of " + items.length + " item(s) match";
    label.textContent = "page " + (page + 1) + " of " + pages;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }
  function refilter() { page = 0; show(); }
  text.addEventListener("input", refilter);
  selects.forEach(function (select) { select.addEventListener("change", refilter); });
  prev.addEventListener("click", function () { page -= 1; show(); });
  next.addEventListener("click", function () { page += 1; show(); });
  document.getElementById("filters").addEventListener("submit", function (event) { event.preventDefault(); });
  show();
})();
