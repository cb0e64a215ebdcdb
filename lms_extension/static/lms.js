// Small behaviours of every page, kept out of the HTML: the Content-Security-Policy runs
// no inline script or event handler.
(function () {
  "use strict";
  // <select data-autosubmit>: choosing an option submits its form (the checkout's country)
  document.addEventListener("change", function (event) {
    const field = event.target.closest ? event.target.closest("[data-autosubmit]") : null;
    if (field && field.form) {
      field.form.requestSubmit ? field.form.requestSubmit() : field.form.submit();
    }
  });
})();
