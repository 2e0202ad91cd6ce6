// Progressive enhancement only: every page works without this script.
(function () {
  'use strict';
  // Show times in the browser's time zone: remember it in the preference
  // cookie the server reads (the Preferences page sets it without script).
  var hasZone = document.cookie.split('; ').some(function (c) { return c.indexOf('lockbox_tz=') === 0; });
  if (!hasZone && window.Intl) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) {
      document.cookie = 'lockbox_tz=' + zone + '; path=/; max-age=31536000; samesite=lax' +
        (location.protocol === 'https:' ? '; secure' : '');
    }
  }
  // New request: show only the chosen service's operations.
  document.addEventListener('DOMContentLoaded', function () {
    var select = document.getElementById('service');
    var groups = document.querySelectorAll('.ops-group');
    if (!select || !groups.length) return;
    function update() {
      groups.forEach(function (g) {
        var mine = g.getAttribute('data-service') === select.value;
        g.hidden = !mine;
        g.querySelectorAll('input').forEach(function (i) { if (!mine) i.checked = false; });
      });
    }
    select.addEventListener('change', update);
    update();
  });
})();
