// The course editor's live Markdown preview: the description is rendered by the server with the
// same sanitiser as the course page (teach/markdown-preview), so what the preview shows is what
// students get, and nothing typed runs as HTML here.
(function () {
  "use strict";
  function xsrf(form) {
    var input = form && form.querySelector("input[name=_xsrf]");
    return input ? input.value : "";
  }
  document.querySelectorAll("textarea[data-preview]").forEach(function (area) {
    var target = document.getElementById(area.getAttribute("data-preview"));
    if (!target) return;
    var url = area.getAttribute("data-preview-url");
    var timer = null, seq = 0;
    function render() {
      var mine = ++seq;
      var body = new URLSearchParams({ text: area.value, _xsrf: xsrf(area.form) });
      fetch(url, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-XSRFToken": xsrf(area.form) },
      }).then(function (r) {
        if (!r.ok) throw new Error(r.status === 413 ? "The description is too long." : "Preview unavailable.");
        return r.text();
      }).then(function (html) {
        if (mine === seq) target.innerHTML = html; // sanitised by the server (nh3)
      }).catch(function (err) {
        if (mine === seq) target.textContent = err.message;
      });
    }
    area.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(render, 250);
    });
  });
})();
