// hotspots pages: live job progress and upload progress. Everything works without this file;
// it only saves reloading and shows how far an upload has got.
"use strict";

function followJob(box) {
  const bar = document.getElementById("job-progress");
  const status = document.getElementById("job-status");
  const message = document.getElementById("job-message");
  const tick = () => {
    fetch(box.dataset.stateUrl, {credentials: "same-origin", cache: "no-store"})
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((job) => {
        bar.value = job.progress;
        bar.textContent = Math.round(job.progress * 100) + "%";
        status.textContent = job.status;
        message.textContent = job.message;
        if (job.finished) {
          window.location.reload();
        } else {
          window.setTimeout(tick, 1000);
        }
      })
      .catch(() => window.setTimeout(tick, 5000));
  };
  window.setTimeout(tick, 500);
}

function uploadWithProgress(form) {
  const bar = document.getElementById(form.dataset.uploadProgress);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    bar.hidden = false;
    request.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) bar.value = (100 * e.loaded) / e.total;
    });
    request.addEventListener("load", () => {
      document.open();
      document.write(request.responseText);
      document.close();
    });
    request.addEventListener("error", () => form.submit());
    for (const button of form.querySelectorAll("button")) button.disabled = true;
    request.send(new FormData(form));
  });
}

function openLinkedPlan() {
  // After a plan is saved the page returns to it (#HS-0003): open it so the new version shows.
  const target = window.location.hash ? document.getElementById(window.location.hash.slice(1)) : null;
  if (target && target.tagName === "DETAILS") target.open = true;
}

document.addEventListener("DOMContentLoaded", () => {
  openLinkedPlan();
  window.addEventListener("hashchange", openLinkedPlan);
  const job = document.getElementById("job");
  if (job && (job.dataset.status === "queued" || job.dataset.status === "running")) followJob(job);
  for (const form of document.querySelectorAll("form[data-upload-progress]")) uploadWithProgress(form);
});
