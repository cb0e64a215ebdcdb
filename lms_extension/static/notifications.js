// The bell in the site header: its unread count, kept live by the server's event stream
// (notifications/stream). EventSource reconnects by itself when a stream ends.
(function () {
  "use strict";
  var bell = document.getElementById("notif-bell");
  if (!bell || !window.EventSource) { return; }
  var count = document.getElementById("notif-count");
  var source = new EventSource(bell.getAttribute("data-stream"));
  source.addEventListener("unread", function (event) {
    var n = JSON.parse(event.data).unread;
    count.textContent = n > 99 ? "99+" : String(n);
    count.hidden = n === 0;
    bell.setAttribute("data-unread", String(n));
    bell.setAttribute("aria-label", n ? n + " unread notifications" : "Notifications");
  });
})();
