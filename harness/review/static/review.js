// Keyboard shortcuts for the review pages. Served as a file: the Content-Security-Policy allows no inline script.
"use strict";

(function () {
  function typing(event) {
    const tag = event.target && event.target.tagName;
    return tag === "TEXTAREA" || tag === "INPUT" && event.target.type === "text";
  }

  function setupRating(form) {
    const groups = Array.from(form.querySelectorAll("fieldset.criterion"));
    let active = 0;

    function answered(group) {
      return group.querySelector("input:checked") !== null;
    }
    function highlight(index) {
      active = Math.max(0, Math.min(groups.length - 1, index));
      groups.forEach(function (group, i) { group.classList.toggle("active", i === active); });
      groups[active].scrollIntoView({block: "nearest"});
    }
    function nextOpen(from) {
      for (let i = from; i < groups.length; i += 1) {
        if (!answered(groups[i])) { return i; }
      }
      return groups.length - 1;
    }
    groups.forEach(function (group, i) {
      group.addEventListener("click", function () { highlight(i); });
    });
    highlight(0);

    document.addEventListener("keydown", function (event) {
      if (typing(event) || event.altKey || event.ctrlKey || event.metaKey) { return; }
      if (/^[1-9]$/.test(event.key)) {
        const options = groups[active].querySelectorAll("input[type=radio]");
        const option = options[Number(event.key) - 1];
        if (option) {
          option.checked = true;
          highlight(nextOpen(active + 1 < groups.length ? active + 1 : active));
        }
        event.preventDefault();
      } else if (event.key === "ArrowDown" || event.key === "j") {
        highlight(active + 1);
        event.preventDefault();
      } else if (event.key === "ArrowUp" || event.key === "k") {
        highlight(active - 1);
        event.preventDefault();
      } else if (event.key === "Enter") {
        event.preventDefault();
        const missing = groups.findIndex(function (group) { return !answered(group); });
        if (missing >= 0) { highlight(missing); } else { form.requestSubmit(); }
      }
    });
  }

  function setupChoice(form) {
    const buttons = {};
    form.querySelectorAll("button[data-key]").forEach(function (button) {
      buttons[button.dataset.key] = button;
    });
    document.addEventListener("keydown", function (event) {
      if (typing(event) || event.altKey || event.ctrlKey || event.metaKey) { return; }
      const button = buttons[event.key.toLowerCase()];
      if (button) {
        event.preventDefault();
        form.requestSubmit(button);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const rating = document.getElementById("rating-form");
    const choice = document.getElementById("choice-form");
    if (rating) { setupRating(rating); }
    if (choice) { setupChoice(choice); }
  });
}());
