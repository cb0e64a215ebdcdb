// "Push to this browser" on the notification preferences page: registers the LMS's service
// worker (scope: the whole LMS), subscribes with the LMS's VAPID key and hands the subscription
// to the API (api/v1/me/push-subscriptions); "Stop" removes it there and in the browser. A
// browser already subscribed is sent again on each visit (its keys may have changed).
(function () {
  "use strict";
  var box = document.getElementById("push-box");
  if (!box) { return; }
  var status = document.getElementById("push-status");
  var on = document.getElementById("push-on");
  var off = document.getElementById("push-off");
  var api = box.getAttribute("data-api");
  var xsrf = box.getAttribute("data-xsrf");
  function say(text) { status.textContent = text; }
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    say("This browser cannot receive push notifications.");
    return;
  }
  function keyBytes(b64) {
    var s = (b64 + "===".slice((b64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(s), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out;
  }
  function send(method, body) {
    return fetch(api, {
      method: method, credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "X-XSRFToken": xsrf },
    }).then(function (r) {
      if (r.ok || (method === "DELETE" && r.status === 404)) { return r; }
      return r.json().catch(function () { return {}; }).then(function (e) {
        throw new Error(e.message || "the LMS answered " + r.status);
      });
    });
  }
  function show(sub) {
    on.hidden = !!sub;
    off.hidden = !sub;
    box.setAttribute("data-state", sub ? "on" : "off");
    if (sub) { say("This browser gets push notifications."); }
    else if (Notification.permission === "denied") {
      on.hidden = true;
      say("Notifications are blocked for this site in this browser's settings.");
    } else { say("This browser gets no push notifications."); }
  }
  var registration = null;
  navigator.serviceWorker.register(box.getAttribute("data-sw"), { scope: box.getAttribute("data-scope") })
    .then(function (reg) { registration = reg; return reg.pushManager.getSubscription(); })
    .then(function (sub) { return sub ? send("POST", sub.toJSON()).then(function () { return sub; }) : null; })
    .then(show)
    .catch(function (err) { say("Push notifications are not available here: " + err.message); });
  on.addEventListener("click", function () {
    if (!registration) { return; }
    on.disabled = true;
    say("Asking this browser…");
    registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(box.getAttribute("data-key")) })
      .then(function (sub) { return send("POST", sub.toJSON()); })
      .then(function () { window.location.reload(); })
      .catch(function (err) { on.disabled = false; say("Could not turn push on: " + err.message); });
  });
  off.addEventListener("click", function () {
    if (!registration) { return; }
    off.disabled = true;
    registration.pushManager.getSubscription()
      .then(function (sub) {
        return sub ? send("DELETE", { endpoint: sub.endpoint }).then(function () { return sub.unsubscribe(); }) : null;
      })
      .then(function () { window.location.reload(); })
      .catch(function (err) { off.disabled = false; say("Could not turn push off: " + err.message); });
  });
})();
