// Service worker: keeps the app shell for offline start; never touches /v1/ (the API).
const CACHE = "ness-app-DCJ75KIT";
const SHELL = ["/","/assets/app-DCJ75KIT.js","/assets/app-FAMV3WHP.css","/icon-maskable.svg","/icon.svg","/manifest.webmanifest"];
self.addEventListener('install', (e) => e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting())));
self.addEventListener('activate', (e) => e.waitUntil(caches.keys().then((ks) => Promise.all(ks.filter((k) => k !== CACHE).map((k) => caches.delete(k)))).then(() => self.clients.claim())));
self.addEventListener('fetch', (e) => {
  const u = new URL(e.request.url);
  if (e.request.method !== 'GET' || u.origin !== location.origin || u.pathname.startsWith('/v1/')) return;
  e.respondWith(fetch(e.request).catch(() => caches.match(u.pathname === '/' || u.pathname === '/index.html' ? '/' : e.request)));
});
