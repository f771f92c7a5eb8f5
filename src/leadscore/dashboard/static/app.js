// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  // Ask before recording an outcome that takes the lead out of the funnel.
  document.querySelectorAll(".act-form button[value]").forEach((button) => {
    button.addEventListener("click", (event) => {
      const risky = ["disqualified", "lost", "rejected"];
      if (risky.includes(button.value) && !window.confirm(`Record "${button.value}" for this lead?`)) {
        event.preventDefault();
      }
    });
  });
  // Filters with a select apply at once.
  document.querySelectorAll("form.filters select").forEach((select) => {
    select.addEventListener("change", () => select.form && select.form.requestSubmit());
  });
});
