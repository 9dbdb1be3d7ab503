// Render the math that pymdownx.arithmatex wrapped (\( ... \) inline, \[ ... \] display) with the
// KaTeX copy bundled in assets/katex (no CDN). Material's document$ fires on every page load.
function renderMath(root) {
  renderMathInElement(root, {
    delimiters: [
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
    throwOnError: false,
  });
}
if (typeof document$ !== "undefined") {
  document$.subscribe(({ body }) => renderMath(body));
} else {
  document.addEventListener("DOMContentLoaded", () => renderMath(document.body));
}
