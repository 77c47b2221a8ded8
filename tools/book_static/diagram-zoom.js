// Click a diagram to see it at the window's width; click again or press Escape to return.
// Shipped with the book (no other host is contacted), added to every page by tools/book.py build.
document.addEventListener("DOMContentLoaded", function () {
  var diagrams = document.querySelectorAll("article img[src$='.svg']");
  function close() {
    var open = document.querySelector(".diagram-zoom");
    if (open) { open.remove(); }
  }
  diagrams.forEach(function (img) {
    img.classList.add("diagram-zoomable");
    img.title = "Click to enlarge";
    img.addEventListener("click", function () {
      close();
      var overlay = document.createElement("div");
      overlay.className = "diagram-zoom";
      var large = document.createElement("img");
      large.src = img.src;
      large.alt = img.alt;
      overlay.appendChild(large);
      overlay.addEventListener("click", close);
      document.body.appendChild(overlay);
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { close(); }
  });
});
