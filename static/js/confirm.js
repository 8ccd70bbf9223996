// A form marked data-confirm asks before it is sent: for actions that take effect at once and cannot
// be taken back by the same button (a password reset, a stopped account, a withdrawn role).
document.querySelectorAll("form[data-confirm]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
  });
});
