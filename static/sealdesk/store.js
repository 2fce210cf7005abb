// A small key-value store on IndexedDB. Private keys live here as non-extractable CryptoKeys
// (or tweetnacl keys where WebCrypto lacks the algorithm); never in localStorage.

const STORE = "kv";

function request(idbRequest) {
  return new Promise((resolve, reject) => {
    idbRequest.onsuccess = () => resolve(idbRequest.result);
    idbRequest.onerror = () => reject(idbRequest.error);
  });
}

export async function openStore(name) {
  const open = indexedDB.open(name, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE);
  const db = await request(open);
  const run = (mode, action) => request(action(db.transaction(STORE, mode).objectStore(STORE)));
  return {
    get: (key) => run("readonly", (store) => store.get(key)),
    put: (key, value) => run("readwrite", (store) => store.put(value, key)),
    delete: (key) => run("readwrite", (store) => store.delete(key)),
    keys: () => run("readonly", (store) => store.getAllKeys()),
  };
}
