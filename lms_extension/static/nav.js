// The site header's menu. Loaded right after <header class="topbar" data-menu> and run at once
// (not deferred), so the header is laid out compact before the first paint: when its links do
// not fit on one row (a phone; an admin's many links on a laptop) they fold into a Menu button.
// Without this script the links simply wrap and stay reachable. It also shows the admin
// console's current section in the console's scrolling nav row on a phone.
(function () {
  "use strict";
  // the admin console's sections are one scrolling row on a phone: show the current one
  document.addEventListener("DOMContentLoaded", function () {
    const current = document.querySelector(".console > .console-nav [aria-current]");
    const row = current && current.parentElement;
    if (!row || row.scrollWidth <= row.clientWidth) return;
    const a = current.getBoundingClientRect(), r = row.getBoundingClientRect();
    row.scrollLeft += (a.left - r.left) - (row.clientWidth - a.width) / 2;
  });
  const bar = document.querySelector("header.topbar[data-menu]");
  if (!bar) return;
  const button = bar.querySelector(".nav-toggle");
  const nav = bar.querySelector(".nav");
  if (!button || !nav) return;
  bar.classList.add("menu-ready");

  function isOpen() { return button.getAttribute("aria-expanded") === "true"; }
  function close(focusButton) {
    bar.classList.remove("menu-open");
    button.setAttribute("aria-expanded", "false");
    if (focusButton) button.focus();
  }
  function open() {
    bar.classList.add("menu-open");
    button.setAttribute("aria-expanded", "true");
    const first = nav.querySelector("a");
    if (first) first.focus();
  }
  // one row or the menu: measured with the links laid out in one unwrapped row
  function fit() {
    bar.classList.remove("compact");
    bar.classList.add("measuring");
    const tooWide = nav.scrollWidth > nav.clientWidth + 1;
    bar.classList.remove("measuring");
    bar.classList.toggle("compact", tooWide);
    if (!tooWide && isOpen()) close(false);
  }
  button.addEventListener("click", function () { isOpen() ? close(false) : open(); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && isOpen()) close(true);
  });
  document.addEventListener("click", function (event) {
    if (isOpen() && !bar.contains(event.target)) close(false);
  });
  // Tab past the last link: the menu closes behind the keyboard user
  bar.addEventListener("focusout", function (event) {
    if (isOpen() && bar.classList.contains("compact") && event.relatedTarget && !bar.contains(event.relatedTarget)) close(false);
  });
  let pending = 0;
  window.addEventListener("resize", function () {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(fit);
  });
  fit();
  if (document.fonts && document.fonts.ready) document.fonts.ready.then(fit);
})();
