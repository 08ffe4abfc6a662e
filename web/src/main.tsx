// Sawmill's web UI: one page per path under /ui/ (search, live tail, alerts, retention and
// holds, tokens, audit log, server stats), a theme switch, and the API token of the tab.
import { render } from 'preact';
import type { ComponentChildren } from 'preact';
import { useEffect, useErrorBoundary, useState } from 'preact/hooks';
import './style.css';
import { hasToken, setToken } from './api';
import { AdminPage } from './admin';
import { AlertsPage } from './alerts';
import { AuditPage } from './audit';
import { RetentionPage } from './retention';
import { TokensPage } from './tokens';
import { SearchPage, prefetchSearch } from './search';
import { TailPage } from './tail';

type Theme = 'auto' | 'light' | 'dark';

function applyTheme(theme: Theme) {
  const dark = theme === 'dark' || (theme === 'auto' && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}

interface Page { path: string; title: string; render: () => preact.JSX.Element }

const PAGES: Page[] = [
  { path: '/ui/', title: 'Search', render: () => <SearchPage /> },
  { path: '/ui/tail', title: 'Live tail', render: () => <TailPage /> },
  { path: '/ui/alerts', title: 'Alerts', render: () => <AlertsPage /> },
  { path: '/ui/retention', title: 'Retention', render: () => <RetentionPage /> },
  { path: '/ui/tokens', title: 'Tokens', render: () => <TokensPage /> },
  { path: '/ui/audit', title: 'Audit', render: () => <AuditPage /> },
  { path: '/ui/admin', title: 'Admin', render: () => <AdminPage /> },
];

function pageFor(pathname: string): Page {
  return PAGES.find((p) => p.path !== '/ui/' && pathname.startsWith(p.path)) ?? PAGES[0];
}

// Shown when the server answers 401: paste a token (docs/security.md); the page reloads with it.
function TokenBar({ message }: { message: string }) {
  const [token, setTokenText] = useState('');
  return (
    <form class="token-bar" role="alert" onSubmit={(e) => { e.preventDefault(); setToken(token.trim()); location.reload(); }}>
      <span>{hasToken() ? `The server refused the token: ${message}` : 'This server needs an API token (sawmill admin token create).'}</span>
      <label>Token <input type="password" value={token} onInput={(e) => setTokenText(e.currentTarget.value)} size={40} autoComplete="off" aria-label="API token" /></label>
      <button type="submit" class="primary">Use token</button>
      {hasToken() && <button type="button" onClick={() => { setToken(null); location.reload(); }}>Forget token</button>}
    </form>
  );
}

// A page that throws while drawing shows what went wrong as text, never a blank page; the top
// bar stays usable.
function PageBoundary({ children }: { children: ComponentChildren }) {
  const [error, reset] = useErrorBoundary();
  if (error) {
    return (
      <div class="query-error" role="alert">
        <div class="error-message">This page failed: {error instanceof Error ? error.message : String(error)}</div>
        <button type="button" onClick={reset}>Try again</button>
      </div>
    );
  }
  return <>{children}</>;
}

function App() {
  const [unauthorized, setUnauthorized] = useState<string | null>(null);
  useEffect(() => {
    const on = (e: Event) => setUnauthorized((e as CustomEvent<string>).detail || 'unauthorized');
    addEventListener('sawmill-unauthorized', on);
    return () => removeEventListener('sawmill-unauthorized', on);
  }, []);
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem('sawmill.theme') as Theme) || 'auto');
  const page = pageFor(location.pathname);
  useEffect(() => {
    applyTheme(theme);
    try { localStorage.setItem('sawmill.theme', theme); } catch { /* private mode */ }
  }, [theme]);
  useEffect(() => { document.title = `${page.title} · Sawmill`; }, [page]);
  return (
    <div class="app">
      <a class="skip" href="#main">Skip to content</a>
      <header class="topbar">
        <span class="brand">Sawmill</span>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <a href={p.path} aria-current={p === page ? 'page' : undefined}>{p.title}</a>
          ))}
        </nav>
        <label class="theme">
          Theme
          <select value={theme} onChange={(e) => setTheme(e.currentTarget.value as Theme)} aria-label="Theme">
            <option value="auto">system</option>
            <option value="light">light</option>
            <option value="dark">dark</option>
          </select>
        </label>
      </header>
      {unauthorized !== null && <TokenBar message={unauthorized} />}
      <main id="main"><PageBoundary>{page.render()}</PageBoundary></main>
    </div>
  );
}

applyTheme((localStorage.getItem('sawmill.theme') as Theme) || 'auto');
if (pageFor(location.pathname).path === '/ui/') prefetchSearch(location.search);
render(<App />, document.getElementById('app') as HTMLElement);
