// The grading page's keys: j/n next ungraded submission, k/p previous (not while typing),
// Ctrl/Cmd+Enter "Save and next ungraded" from anywhere in the form.
(function () {
  'use strict';
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  document.addEventListener('keydown', function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === 'Enter') {
      var next = document.getElementById('save-next');
      if (next) {
        event.preventDefault();
        next.click();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    var id = { j: 'next-ungraded', n: 'next-ungraded', k: 'previous-ungraded', p: 'previous-ungraded' }[event.key];
    var link = id && document.getElementById(id);
    if (link) {
      event.preventDefault();
      window.location.assign(link.href);
    }
  });
})();
