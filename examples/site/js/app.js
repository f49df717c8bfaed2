// The demo site's script: reports, in the page itself, that the script ran,
// that the stylesheet was applied and that both images decoded. A headless
// browser's DOM dump then shows whether every subresource arrived intact.
"use strict";

function mark(id, text) {
  const item = document.getElementById(id);
  item.textContent = text;
  item.className = "ok";
}

mark("status-script", "script: ran");
document.documentElement.dataset.script = "ran";

const cssLoaded = getComputedStyle(document.documentElement)
  .getPropertyValue("--css-loaded")
  .trim();
if (cssLoaded === "yes") {
  mark("status-css", "stylesheet: applied");
  document.documentElement.dataset.css = "applied";
}

window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const decoded = images.filter((image) => image.complete && image.naturalWidth > 0);
  if (images.length > 0 && decoded.length === images.length) {
    mark("status-images", `images: ${decoded.length} of ${images.length} loaded`);
    document.documentElement.dataset.images = "loaded";
  }
});
