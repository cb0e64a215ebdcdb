// The LMS's service worker (served at <prefix>sw.js, so its scope is the whole LMS): shows each
// web push as a notification and opens the page it names when clicked. The payload is JSON
// {title, body, url, kind, tag}, encrypted for this browser by lms worker (services/push.py).
"use strict";

self.addEventListener("push", function (event) {
  var data = {};
  if (event.data) {
    try { data = event.data.json(); } catch (e) { data = { body: event.data.text() }; }
  }
  event.waitUntil(self.registration.showNotification(data.title || "Jupyter LMS", {
    body: data.body || "",
    tag: data.tag || undefined,
    icon: self.registration.scope + "static/logo.svg",
    data: { url: data.url || self.registration.scope },
  }));
});

// only pages of this site: a payload naming another origin opens the same path here
function target(raw) {
  var url;
  try { url = new URL(raw, self.registration.scope); } catch (e) { url = new URL(self.registration.scope); }
  if (url.origin !== self.location.origin) { url = new URL(url.pathname + url.search, self.location.origin); }
  return url.href;
}

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var href = target(event.notification.data && event.notification.data.url);
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    for (var i = 0; i < windows.length; i++) {
      if (windows[i].url === href && "focus" in windows[i]) { return windows[i].focus(); }
    }
    return self.clients.openWindow(href);
  }));
});
