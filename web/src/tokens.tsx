// API tokens (docs/security.md, docs/api.md "Tokens"): create (POST /api/v1/admin/tokens; the
// secret is in that answer only: the server keeps a hash), list (GET) and revoke (DELETE
// /api/v1/admin/tokens/{id}). A tenant-admin sees and manages its own tenants' tokens.
import { useEffect, useRef, useState } from 'preact/hooks';
import { getJson, hasToken, isAbort, sendJson, setToken } from './api';

interface TokenInfo {
  id: string; name: string; role: string; tenants: string[]; created: string;
  expires: string | null; revoked: string | null; created_by: string;
}

const ROLES = ['reader', 'ingest', 'tenant-admin', 'platform-admin', 'auditor'];

function ErrorBox({ text }: { text: string | null }) {
  if (!text) return null;
  return <div class="query-error" role="alert"><div class="error-message">{text}</div></div>;
}

const when = (ts: string) => ts.replace('T', ' ').replace(/Z$/, '');

// The new token, shown once, with a copy button.
function NewToken({ token, info, first, onDismiss }: { token: string; info: TokenInfo; first: boolean; onDismiss: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => { field.current?.focus(); field.current?.select(); }, [token]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(token);
      setCopied('Copied to the clipboard.');
    } catch {
      // No clipboard API (plain http on another host): select the text for Ctrl+C.
      field.current?.select();
      setCopied('Selected: press Ctrl+C (or ⌘C) to copy.');
    }
  };
  return (
    <div class="new-token" role="alert" data-testid="new-token">
      <strong>Token “{info.name}” created ({info.role}{info.tenants.length ? `, ${info.tenants.join(', ')}` : ''}).</strong>
      {first && <p>It is the server's first token: from now on every API call needs a token. This browser tab uses this one until it is closed.</p>}
      <p>Copy it now: <strong>you will not see this token again.</strong> The server keeps only a hash of its secret.</p>
      <div class="token-secret">
        <input ref={field} readOnly value={token} class="mono" aria-label="The new token" size={60} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" class="primary" onClick={copy}>Copy</button>
        <button type="button" onClick={onDismiss}>I have stored it</button>
      </div>
      {copied && <div class="muted" role="status">{copied}</div>}
    </div>
  );
}

function CreateForm({ onCreated }: { onCreated: (token: string, info: TokenInfo) => void }) {
  const [f, setF] = useState({ name: '', role: 'reader', tenants: '', expires_in: '' });
  const [error, setError] = useState<string | null>(null);
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const submit = async (e: Event) => {
    e.preventDefault();
    const params: Record<string, string> = { name: f.name.trim(), role: f.role };
    if (f.tenants.trim()) params.tenant = f.tenants.split(',').map((t) => t.trim()).filter(Boolean).join(',');
    if (f.expires_in.trim()) params.expires_in = f.expires_in.trim();
    try {
      const r = await sendJson<{ token: string; info: TokenInfo }>('POST', '/api/v1/admin/tokens', params);
      setError(null);
      setF({ ...f, name: '' });
      onCreated(r.token, r.info);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form class="admin-form" onSubmit={submit} aria-label="Create a token">
      <label>Name <input value={f.name} onInput={set('name')} required placeholder="grafana-prod" size={16} /></label>
      <label>Role <select value={f.role} onChange={set('role')}>{ROLES.map((r) => <option value={r}>{r}</option>)}</select></label>
      <label>Tenants <input value={f.tenants} onInput={set('tenants')} placeholder="default, payments" size={18} /></label>
      <label>Expires in <input value={f.expires_in} onInput={set('expires_in')} placeholder="90d (empty: never)" size={12} /></label>
      <button type="submit" class="primary">Create token</button>
      <ErrorBox text={error} />
    </form>
  );
}

function TokenRow({ t, onDone }: { t: TokenInfo; onDone: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Keyboard: the confirmation takes the focus (on Cancel, the "Revoke…" button gets it back).
  const cancel = useRef<HTMLButtonElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  const reopen = useRef(false);
  useEffect(() => {
    if (confirming) cancel.current?.focus();
    else if (reopen.current) opener.current?.focus();
  }, [confirming]);
  const revoke = async () => {
    try {
      await sendJson('DELETE', `/api/v1/admin/tokens/${encodeURIComponent(t.id)}`);
      setError(null);
      onDone();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const expired = t.expires !== null && Date.parse(t.expires) <= Date.now();
  return (
    <tr data-token={t.id} class={t.revoked || expired ? 'muted' : ''}>
      <td>{t.name}</td><td class="mono">{t.id}</td><td>{t.role}</td><td>{t.tenants.join(', ') || <span class="muted">all</span>}</td>
      <td>{when(t.created)}{t.created_by ? ` by ${t.created_by}` : ''}</td>
      <td>{t.expires ? `${expired ? 'expired ' : ''}${when(t.expires)}` : 'never'}</td>
      <td>
        {t.revoked ? `revoked ${when(t.revoked)}` : confirming ? (
          <span class="inline-form">
            Revoke “{t.name}”? Calls with it fail at once.
            <button type="button" class="danger" onClick={revoke}>Revoke</button>
            <button type="button" ref={cancel} onClick={() => { reopen.current = true; setConfirming(false); }}>Cancel</button>
          </span>
        ) : (
          <button type="button" ref={opener} onClick={() => setConfirming(true)} aria-label={`Revoke token ${t.name}`}>Revoke…</button>
        )}
        <ErrorBox text={error} />
      </td>
    </tr>
  );
}

export function TokensPage() {
  const [tokens, setTokens] = useState<TokenInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ token: string; info: TokenInfo; first: boolean } | null>(null);
  const [showInactive, setShowInactive] = useState(false);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ac = new AbortController();
    getJson<{ tokens: TokenInfo[] }>('/api/v1/admin/tokens', {}, ac.signal)
      .then((r) => { setTokens(r.tokens); setError(null); })
      .catch((e) => { if (!isAbort(e)) setError((e as Error).message); });
    return () => ac.abort();
  }, [tick]);
  const refresh = () => setTick((t) => t + 1);
  const active = (t: TokenInfo) => !t.revoked && !(t.expires !== null && Date.parse(t.expires) <= Date.now());
  const shown = (tokens ?? []).filter((t) => showInactive || active(t));
  const inactive = (tokens ?? []).length - (tokens ?? []).filter(active).length;
  return (
    <div class="admin-page">
      <ErrorBox text={error} />
      {created && <NewToken token={created.token} info={created.info} first={created.first} onDismiss={() => setCreated(null)} />}
      <section class="card wide" aria-labelledby="create-h">
        <h2 id="create-h">Create a token</h2>
        <CreateForm onCreated={(token, info) => {
          // The first token (a server without tokens, from its own machine) turns the check on:
          // from now on every call needs one, so this tab goes on with it.
          const first = !hasToken() && (tokens ?? []).length === 0;
          if (first) setToken(token);
          setCreated({ token, info, first });
          refresh();
        }} />
        <p class="muted">Roles: reader (search, tail), ingest (send lines), tenant-admin (its tenants' tokens and rules),
          platform-admin (every tenant and the server), auditor (the audit log). An ingest or tenant-admin token has exactly one
          tenant, a reader one or more (comma-separated); platform-admin and auditor tokens none.</p>
      </section>
      <section class="card wide" aria-labelledby="tokens-h">
        <h2 id="tokens-h">Tokens</h2>
        <label class="check"><input type="checkbox" checked={showInactive} onChange={(e) => setShowInactive(e.currentTarget.checked)} /> Show revoked and expired ({inactive})</label>
        <div class="table-box">
          <table class="pipe-table" data-testid="tokens">
            <thead><tr><th>name</th><th>id</th><th>role</th><th>tenants</th><th>created</th><th>expires</th><th></th></tr></thead>
            <tbody>{shown.map((t) => <TokenRow key={t.id} t={t} onDone={refresh} />)}</tbody>
          </table>
        </div>
        {tokens && shown.length === 0 && (
          <div class="empty">No tokens yet: the server checks none. The first token must be platform-admin and made from the server's own machine; from then on every API call needs a token.</div>
        )}
      </section>
    </div>
  );
}
