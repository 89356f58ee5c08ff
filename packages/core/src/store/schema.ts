/** Tables of the store. Times are ISO 8601 UTC text, booleans 0/1, JSON as text: the same on SQLite and PostgreSQL. */
export interface Database {
  meta: { key: string; value: string };
  users: { id: string; name: string; platform_admin: number; created_at: string };
  teams: { id: string; name: string; created_at: string };
  memberships: { team_id: string; user_id: string; role: string; created_at: string };
  api_tokens: {
    id: string;
    user_id: string;
    name: string;
    prefix: string;
    hash: string;
    scope: string | null;
    created_at: string;
    expires_at: string | null;
    revoked_at: string | null;
    last_used_at: string | null;
  };
  audit_records: {
    seq: number;
    id: string;
    time: string;
    actor: string;
    action: string;
    resource: string;
    team: string | null;
    outcome: string;
    request_id: string | null;
    details: string;
    prev_hash: string;
    hash: string;
  };
  audit_head: { id: number; seq: number; hash: string };
}
