// store.js: what the dashboard keeps in this browser (IndexedDB "ness-dashboard"): keys (the
// 32-byte seed as bytes, never sent anywhere), and small values (the signed-in token per key, the
// active key, the provider's health samples for the charts).
const DB = 'ness-dashboard';

let dbp;
function open() {
  dbp ??= new Promise((resolve, reject) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => {
      r.result.createObjectStore('keys', { keyPath: 'id' });
      r.result.createObjectStore('meta');
    };
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  return dbp;
}

async function tx(store, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(store, mode);
    const req = fn(t.objectStore(store));
    t.oncomplete = () => resolve(req?.result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

/** Keys: { id (verify key, base64), name, seed (Uint8Array 32), source, created (ISO) }. */
export const keys = {
  all: () => tx('keys', 'readonly', (s) => s.getAll()),
  get: (id) => tx('keys', 'readonly', (s) => s.get(id)),
  put: (k) => tx('keys', 'readwrite', (s) => s.put(k)),
  delete: (id) => tx('keys', 'readwrite', (s) => s.delete(id)),
};

export const meta = {
  get: (k) => tx('meta', 'readonly', (s) => s.get(k)),
  set: (k, v) => tx('meta', 'readwrite', (s) => s.put(v, k)),
  delete: (k) => tx('meta', 'readwrite', (s) => s.delete(k)),
};
