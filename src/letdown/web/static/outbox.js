// letdown's outbox: quick logs made while the phone was offline, kept in IndexedDB until
// the server has them. Shared by the pages (app.js) and the service worker (sw.js).
// Each item is { uid, action, body, label, queuedAt }: ``body`` is the form as sent
// (URL-encoded, with its client_uid), so that sending it twice writes one entry.
"use strict";

(function (scope) {
  const DB = "letdown";
  const STORE = "outbox";

  function open() {
    return new Promise(function (resolve, reject) {
      const request = indexedDB.open(DB, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, { keyPath: "uid" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function run(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        const tx = db.transaction(STORE, mode);
        const result = work(tx.objectStore(STORE));
        tx.oncomplete = function () { db.close(); resolve(result && result.result); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      });
    });
  }

  scope.letdownOutbox = {
    put: function (item) { return run("readwrite", function (s) { s.put(item); }); },
    remove: function (uid) { return run("readwrite", function (s) { s.delete(uid); }); },
    all: function () { return run("readonly", function (s) { return s.getAll(); }); },
  };
})(self);
