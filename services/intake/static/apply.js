// The application form's help as the person types: focus on the error summary, a word counter on the
// motivation and early warnings about eligibility. Every word comes from the page (data- attributes the
// template renders in the page's language); the API still judges everything
// (services/intake/applications/eligibility.py).
(function () {
  "use strict";

  var form = document.getElementById("application");
  if (!form) {
    return;
  }

  // a refused form: keyboard and screen reader users land on the list of what to correct
  var summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }

  function show(name, visible) {
    var warning = document.getElementById(name + "-warning");
    if (warning) {
      var text = visible ? warning.getAttribute("data-warning") : "";
      if (warning.textContent !== text) {
        warning.textContent = text;
      }
    }
  }

  function field(id) {
    return document.getElementById(id);
  }

  function later(action, delay) {
    // a live region read out at every key press would drown what the person types
    var timer = null;
    return function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(action, delay);
    };
  }

  // the motivation's word count, counted as the service counts it (words between white space)
  var motivation = field("motivation");
  var counter = field("motivation-count");
  if (motivation && counter) {
    var plural = window.Intl && Intl.PluralRules ? new Intl.PluralRules(document.documentElement.lang) : null;
    var count = function () {
      var words = motivation.value.split(/\s+/).filter(Boolean).length;
      var one = plural ? plural.select(words) === "one" : words === 1;
      counter.textContent = counter.getAttribute(one ? "data-one" : "data-other").replace("{count}", String(words));
    };
    count();
    motivation.addEventListener("input", later(count, 400));
  }

  function ageOn(born, day) {
    var age = day.getFullYear() - born.getFullYear();
    var before = day.getMonth() < born.getMonth() ||
      (day.getMonth() === born.getMonth() && day.getDate() < born.getDate());
    return before ? age - 1 : age;
  }

  function isoDate(text) {
    var match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text || "");
    return match ? new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : null;
  }

  function checkAge() {
    var born = isoDate(field("date_of_birth").value);
    var deadline = isoDate(form.getAttribute("data-deadline"));
    var minimum = Number(form.getAttribute("data-min-age"));
    show("date_of_birth", Boolean(born && deadline) && born.getFullYear() > 1900 && ageOn(born, deadline) < minimum);
  }

  function fold(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").trim().toLowerCase();
  }

  function checkNationality() {
    var input = field("nationality");
    var typed = fold(input.value);
    var eligible = JSON.parse(input.getAttribute("data-eligible")).map(fold);
    var known = Array.prototype.map.call(document.querySelectorAll("#countries option"), function (option) {
      return fold(option.value);
    });
    // only a country chosen in full: half a name is not yet a nationality
    show("nationality", known.indexOf(typed) !== -1 && eligible.indexOf(typed) === -1);
  }

  function checkStudy() {
    var year = Number(field("education.year_of_study").value);
    var enrolled = field("education.status").value === "enrolled";
    var afterBachelor = JSON.parse(form.getAttribute("data-after-bachelor"));
    var earlier = afterBachelor.indexOf(field("education.degree_level").value) !== -1 ?
      Number(form.getAttribute("data-bachelor-years")) : 0;
    var completed = earlier + year - 1;
    show("education.year_of_study", enrolled && year > 0 && completed < Number(form.getAttribute("data-min-years")));
  }

  function checkLanguages() {
    var levels = JSON.parse(form.getAttribute("data-levels"));
    var minimum = levels.indexOf(form.getAttribute("data-min-level"));
    var chosen = ["languages.en", "languages.fr"].map(function (id) {
      return field(id) ? field(id).value : "";
    }).filter(Boolean);
    show("languages", chosen.length > 0 && chosen.every(function (level) {
      return levels.indexOf(level) < minimum;
    }));
  }

  var checks = [
    [["date_of_birth"], checkAge],
    [["nationality"], checkNationality],
    [["education.year_of_study", "education.status", "education.degree_level"], checkStudy],
    [["languages.en", "languages.fr"], checkLanguages]
  ];
  checks.forEach(function (check) {
    var run = later(check[1], 300);
    check[0].forEach(function (id) {
      if (field(id)) {
        field(id).addEventListener("input", run);
        field(id).addEventListener("change", run);
      }
    });
    check[1]();
  });
}());
