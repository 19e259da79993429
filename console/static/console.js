// The console's only script (served by the console itself; the pages work without it).
// Upload page: drag and drop, several files, a progress bar while they are sent.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("upload-form");
  if (!form) { return; }
  var drop = document.getElementById("drop");
  var input = document.getElementById("files");
  var chosen = document.getElementById("chosen");
  var bar = document.getElementById("progress");
  var status = document.getElementById("upload-status");
  var files = [];

  function show() {
    chosen.textContent = "";
    files.forEach(function (f) {
      var li = document.createElement("li");
      li.textContent = f.name + " (" + Math.max(1, Math.round(f.size / 1024)) + " KB)";
      chosen.appendChild(li);
    });
  }
  input.addEventListener("change", function () { files = Array.prototype.slice.call(input.files); show(); });
  ["dragenter", "dragover"].forEach(function (ev) {
    drop.addEventListener(ev, function (e) { e.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (ev) {
    drop.addEventListener(ev, function (e) { e.preventDefault(); drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (e) {
    files = files.concat(Array.prototype.slice.call(e.dataTransfer.files));
    show();
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!files.length) { status.textContent = "Choose one or more photos first."; return; }
    var data = new FormData();
    data.append("csrf_token", form.querySelector("input[name=csrf_token]").value);
    files.forEach(function (f) { data.append("files", f, f.name); });
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", form.querySelector("input[name=csrf_token]").value);
    bar.hidden = false; bar.value = 0;
    status.textContent = "Sending " + files.length + " file(s)…";
    xhr.upload.addEventListener("progress", function (ev) {
      if (ev.lengthComputable) { bar.value = Math.round(100 * ev.loaded / ev.total); }
    });
    xhr.addEventListener("load", function () {
      var answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (err) { answer = {saved: [], errors: ["The upload failed (" + xhr.status + "). Try again."]}; }
      bar.value = 100;
      var text = "";
      if (answer.saved && answer.saved.length) { text += "Received " + answer.saved.length + " file(s): " + answer.saved.join(", ") + ". "; }
      if (answer.errors && answer.errors.length) { text += "Not received: " + answer.errors.join(" "); }
      status.textContent = text;
      status.className = (answer.errors && answer.errors.length) ? "flash error" : "flash ok";
      if (answer.saved && answer.saved.length) {
        files = []; show(); input.value = "";
        var link = document.createElement("a");
        link.href = "/uploads"; link.textContent = " See what happens to them";
        link.id = "see-uploads";
        status.appendChild(link);
      }
    });
    xhr.addEventListener("error", function () { status.textContent = "The upload failed: the connection was lost. Try again."; });
    xhr.send(data);
  });
});
