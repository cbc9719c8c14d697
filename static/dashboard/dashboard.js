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
