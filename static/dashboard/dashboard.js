// mailappliance dashboard: the few things a page cannot do without script.
// "Generate" puts the server's suggested password into the box and shows it, so it can be copied.
document.querySelectorAll("button.generate").forEach(function (button) {
  button.addEventListener("click", function () {
    var box = document.getElementById(button.dataset.for);
    if (!box) return;
    box.value = button.dataset.password;
    box.type = "text";
    box.select();
  });
});
// A backup schedule's form shows only the boxes its choices use (all stay in the page without script).
(function () {
  var rules = [
    ["target", "dir", ["directory"]],
    ["target", "s3", ["s3_endpoint", "s3_bucket", "s3_prefix", "s3_region", "s3_access_key", "s3_secret_key"]],
    ["keying", "passphrase", ["passphrase", "passphrase_again"]],
    ["keying", "key_file", ["key_file"]],
    ["frequency", "weekly", ["weekday"]],
  ];
  function update() {
    rules.forEach(function (rule) {
      var choice = document.getElementById("id_" + rule[0]);
      if (!choice) return;
      rule[2].forEach(function (name) {
        var row = document.getElementById("row-" + name);
        if (row) row.style.display = choice.value === rule[1] ? "" : "none";
      });
    });
  }
  ["target", "keying", "frequency"].forEach(function (name) {
    var choice = document.getElementById("id_" + name);
    if (choice && document.getElementById("row-keep_weekly")) choice.addEventListener("change", update);
  });
  if (document.getElementById("row-keep_weekly")) update();
})();
