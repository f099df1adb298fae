/* The book's own scripts (loaded on every page by book/_ext/offline_assets.py).
 *
 * 1. Wide inline math: MathJax 3 does not break lines, so an inline formula wider than its line
 *    is marked `gantheory-wide-math` (see gantheory.css), which makes it scroll in its box.
 * 2. Plotly figures follow the theme's light/dark mode (pydata-sphinx-theme sets
 *    <html data-theme="light|dark">).
 * 3. Search snippets: the math of a page is shown as readable text, not as raw \(...\) TeX.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------- 1. wide inline math
  function markWideMath() {
    document.querySelectorAll("mjx-container:not([display='true'])").forEach(function (el) {
      el.classList.remove("gantheory-wide-math");
      var box = el.parentElement;
      while (box && getComputedStyle(box).display.indexOf("inline") === 0) {
        box = box.parentElement;
      }
      if (box && el.getBoundingClientRect().width > box.clientWidth + 0.5) {
        el.classList.add("gantheory-wide-math");
      }
    });
  }
  function whenMathTypeset(fn) {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(fn);
    } else if (window.MathJax) {
      setTimeout(function () { whenMathTypeset(fn); }, 100);
    }
  }
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(markWideMath, 150);
  });

  // ---------------------------------------------------------------- 2. plotly dark mode
  var DARK = {
    paper: "#14181e", plot: "#1d222a", font: "#ced6dd", grid: "#3a414b", line: "#5a636e",
  };
  function axisKeys(layout) {
    var keys = Object.keys(layout).filter(function (k) { return /^[xy]axis\d*$/.test(k); });
    if (keys.indexOf("xaxis") < 0) keys.push("xaxis");
    if (keys.indexOf("yaxis") < 0) keys.push("yaxis");
    return keys;
  }
  function themeUpdate(div, dark) {
    var layout = div.layout || {};
    var upd = {};
    var light = div._gantheoryLight;
    if (!light) {  // remember the figure's own (light) colours once
      light = div._gantheoryLight = {};
      var tl = (div._fullLayout || {});
      light.paper_bgcolor = tl.paper_bgcolor || "#fff";
      light.plot_bgcolor = tl.plot_bgcolor || "#fff";
      light["font.color"] = (tl.font || {}).color || "#2a3f5f";
      axisKeys(layout).forEach(function (k) {
        var ax = tl[k] || {};
        light[k + ".gridcolor"] = ax.gridcolor || "#ebf0f8";
        light[k + ".zerolinecolor"] = ax.zerolinecolor || "#ebf0f8";
        light[k + ".linecolor"] = ax.linecolor || "#444";
      });
      if (layout.scene || tl.scene) {
        ["xaxis", "yaxis", "zaxis"].forEach(function (a) {
          var ax = ((tl.scene || {})[a]) || {};
          light["scene." + a + ".gridcolor"] = ax.gridcolor || "#dfe8f3";
          light["scene." + a + ".backgroundcolor"] = ax.backgroundcolor || "#fff";
        });
      }
      light["legend.bgcolor"] = ((tl.legend || {}).bgcolor) || "rgba(0,0,0,0)";
    }
    Object.keys(light).forEach(function (k) {
      if (!dark) { upd[k] = light[k]; return; }
      if (k === "paper_bgcolor") upd[k] = DARK.paper;
      else if (k === "plot_bgcolor") upd[k] = DARK.plot;
      else if (k === "font.color") upd[k] = DARK.font;
      else if (/gridcolor$|zerolinecolor$/.test(k)) upd[k] = DARK.grid;
      else if (/linecolor$/.test(k)) upd[k] = DARK.line;
      else if (/backgroundcolor$/.test(k)) upd[k] = DARK.plot;
      else if (k === "legend.bgcolor") upd[k] = "rgba(0,0,0,0)";
    });
    return upd;
  }
  function isDark() {
    return document.documentElement.dataset.theme === "dark";
  }
  function applyPlotTheme() {
    if (!window.Plotly) return;
    var dark = isDark();
    document.querySelectorAll(".js-plotly-plot").forEach(function (div) {
      if (div._gantheoryDark === dark) return;
      if (div._gantheoryDark === undefined && !dark) {  // figures are drawn light
        div._gantheoryDark = false;
        return;
      }
      div._gantheoryDark = dark;
      try { Plotly.relayout(div, themeUpdate(div, dark)); } catch (e) { /* not plotted yet */ }
    });
  }
  new MutationObserver(applyPlotTheme).observe(document.documentElement,
    { attributes: true, attributeFilter: ["data-theme"] });

  // ---------------------------------------------------------------- 3. search snippets
  var SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", zeta: "ζ",
    eta: "η", theta: "θ", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν", xi: "ξ", pi: "π",
    rho: "ρ", sigma: "σ", tau: "τ", phi: "φ", varphi: "φ", chi: "χ", psi: "ψ", omega: "ω",
    Gamma: "Γ", Delta: "Δ", Theta: "Θ", Lambda: "Λ", Sigma: "Σ", Phi: "Φ", Psi: "Ψ",
    Omega: "Ω", le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠", neq: "≠", in: "∈",
    approx: "≈", sim: "∼", to: "→", mapsto: "↦", infty: "∞", sum: "Σ", prod: "∏", int: "∫",
    sqrt: "√", cdot: "·", times: "×", pm: "±", partial: "∂", nabla: "∇", R: "ℝ", E: "𝔼",
    P: "ℙ", N: "𝒩", subset: "⊂", cup: "∪", cap: "∩", ldots: "…", dots: "…", cdots: "⋯",
    langle: "⟨", rangle: "⟩", Vert: "‖", mid: "|", log: "log", exp: "exp", min: "min",
    max: "max", sup: "sup", inf: "inf", top: "ᵀ",
  };
  function texToText(tex) {
    return tex.trim()
      .replace(/^\\\(|\\\)$|^\\\[|\\\]$|^\$\$?|\$\$?$/g, "")
      .replace(/\\(?:begin|end)\{[a-z*]+\}/g, " ")
      .replace(/\\\\/g, "; ")
      .replace(/&/g, " ")
      .replace(/\\(?:mathbb|mathcal|mathrm|mathbf|operatorname|text|mathsf|boldsymbol)\s*\{([^{}]*)\}/g,
        function (m, arg) { return SYMBOLS[arg] && arg.length === 1 ? SYMBOLS[arg] : arg; })
      .replace(/\\(?:mathbb|mathcal|mathrm|mathbf|mathsf|boldsymbol)\s*([A-Za-z])/g,
        function (m, letter) { return letter === "R" ? "ℝ" : letter === "E" ? "𝔼" : letter; })
      .replace(/\\(?:left|right|big|Big|bigg|Bigg|,|;|!|quad|qquad)/g, " ")
      .replace(/\\\|/g, "‖")
      .replace(/\\([A-Za-z]+)/g, function (m, name) { return SYMBOLS[name] || name; })
      .replace(/[{}]/g, "")
      .replace(/\s+/g, " ")
      .trim();
  }
  function patchSearch() {
    // searchtools.js declares `const Search`: a global binding, but not a property of window
    if (typeof Search === "undefined" || !Search.htmlToText || Search._gantheoryPatched) return;
    var original = Search.htmlToText;
    Search.htmlToText = function (htmlString, anchor) {
      var doc = new DOMParser().parseFromString(htmlString, "text/html");
      doc.querySelectorAll(".math").forEach(function (el) {
        el.textContent = " " + texToText(el.textContent) + " ";
      });
      return original(doc.documentElement.outerHTML, anchor);
    };
    Search._gantheoryPatched = true;
  }
  window.gantheoryTexToText = texToText;  // for the browser tests

  document.addEventListener("DOMContentLoaded", function () {
    patchSearch();
    whenMathTypeset(markWideMath);
    applyPlotTheme();
  });
  window.addEventListener("load", function () {
    applyPlotTheme();
    whenMathTypeset(markWideMath);
  });
})();
