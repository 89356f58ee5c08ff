import { type Kysely, type Migration, type MigrationProvider, PostgresAdapter, sql } from 'kysely';

// Migrations are code, ordered by name, and never edited once shipped: add a new one instead.
const migrations: Record<string, Migration> = {
  '0001_identity_and_audit': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('platform_admin', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('teams')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('memberships')
        .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('memberships_pk', ['team_id', 'user_id'])
        .execute();
      await db.schema
        .createTable('api_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .addColumn('scope', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('revoked_at', 'text')
        .addColumn('last_used_at', 'text')
        .execute();
      await db.schema
        .createTable('audit_records')
        .addColumn('seq', 'integer', (c) => c.primaryKey())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('team', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('details', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_records_time').on('audit_records').column('time').execute();
      await db.schema
        .createIndex('audit_records_actor')
        .on('audit_records')
        .columns(['actor', 'seq'])
        .execute();
      await db.schema
        .createTable('audit_head')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await sql`insert into audit_head (id, seq, hash) values (1, 0, ${GENESIS_HASH})`.execute(db);
    },
  },
  '0002_catalog_jobs_admission': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('settings')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('products')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('datasets')
        .addColumn('path', 'text', (c) => c.primaryKey())
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('location', 'text', (c) => c.notNull())
        .addColumn('encrypted', 'integer', (c) => c.notNull())
        .addColumn('classification', 'text')
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('registered_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('gpus')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('gpu_type', 'text', (c) => c.notNull())
        .addColumn('device_index', 'integer', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('memory_mib', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('quotas')
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('gpu_type', 'text', (c) => c.notNull())
        .addColumn('nominal', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('quotas_pk', ['team', 'gpu_type'])
        .execute();
      await db.schema
        .createTable('budgets')
        .addColumn('team', 'text', (c) => c.primaryKey())
        .addColumn('max_budget_micros', 'bigint', (c) => c.notNull())
        .addColumn('soft_budget_micros', 'bigint')
        .addColumn('budget_duration', 'text', (c) => c.notNull())
        .addColumn('period_anchor', 'text', (c) => c.notNull())
        .addColumn('ceiling_micros', 'bigint')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('product', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('gpus', 'integer', (c) => c.notNull())
        .addColumn('gpu_type', 'text')
        .addColumn('spot', 'integer', (c) => c.notNull())
        .addColumn('datasets', 'text', (c) => c.notNull())
        .addColumn('secrets', 'text', (c) => c.notNull())
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('executor', 'text', (c) => c.notNull())
        .addColumn('max_runtime_s', 'integer', (c) => c.notNull())
        .addColumn('grace_s', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('reasons', 'text', (c) => c.notNull())
        .addColumn('decision', 'text', (c) => c.notNull())
        .addColumn('estimate_micros', 'bigint', (c) => c.notNull())
        .addColumn('reserved_micros', 'bigint', (c) => c.notNull())
        .addColumn('cost_micros', 'bigint', (c) => c.notNull())
        .addColumn('approval_id', 'text')
        .addColumn('gpu_indexes', 'text', (c) => c.notNull())
        .addColumn('gpu_source', 'text')
        .addColumn('exit_code', 'integer')
        .addColumn('external_id', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('admitted_at', 'text')
        .addColumn('started_at', 'text')
        .addColumn('ended_at', 'text')
        .addColumn('metered_until', 'text')
        .execute();
      await db.schema.createIndex('jobs_team_status').on('jobs').columns(['team', 'status']).execute();
      await db.schema
        .createIndex('jobs_status_created')
        .on('jobs')
        .columns(['status', 'created_at'])
        .execute();
      await db.schema
        .createTable('approvals')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('requested_by', 'text', (c) => c.notNull())
        .addColumn('approvers', 'text', (c) => c.notNull())
        .addColumn('rules', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('decided_by', 'text')
        .addColumn('reason', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('decided_at', 'text')
        .execute();
      await db.schema
        .createTable('policy_exceptions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('policy_id', 'text', (c) => c.notNull())
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('granted_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('usage_ledger')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('project', 'text')
        .addColumn('category', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('quantity', 'double precision', (c) => c.notNull())
        .addColumn('unit', 'text', (c) => c.notNull())
        .addColumn('rate_micros', 'bigint', (c) => c.notNull())
        .addColumn('cost_micros', 'bigint', (c) => c.notNull())
        .addColumn('source_kind', 'text', (c) => c.notNull())
        .addColumn('source_id', 'text', (c) => c.notNull())
        .addColumn('window_start', 'text', (c) => c.notNull())
        .addColumn('window_end', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('usage_ledger_team_window')
        .on('usage_ledger')
        .columns(['team', 'window_start'])
        .execute();
      await db.schema
        .createIndex('usage_ledger_source')
        .on('usage_ledger')
        .columns(['source_id', 'window_end'])
        .execute();
      await db.schema
        .createTable('job_metrics')
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('step', 'double precision')
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('value', 'double precision', (c) => c.notNull())
        .addColumn('time', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('job_metrics_pk', ['job_id', 'seq', 'name'])
        .execute();
      await db.schema
        .createTable('secrets')
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('ciphertext', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('secrets_pk', ['team', 'name'])
        .execute();
    },
  },
  '0003_notebooks': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('notebooks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('product', 'text', (c) => c.notNull())
        .addColumn('gpus', 'integer', (c) => c.notNull())
        .addColumn('gpu_type', 'text')
        .addColumn('gpu_indexes', 'text', (c) => c.notNull())
        .addColumn('egress', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('host', 'text')
        .addColumn('port', 'integer')
        .addColumn('token_sealed', 'text', (c) => c.notNull())
        .addColumn('netns', 'text')
        .addColumn('work_dir', 'text', (c) => c.notNull())
        .addColumn('rate_micros', 'bigint', (c) => c.notNull())
        .addColumn('estimate_micros', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('last_activity_at', 'text')
        .addColumn('idle_timeout_s', 'integer', (c) => c.notNull())
        .addColumn('max_lifetime_s', 'integer', (c) => c.notNull())
        .addColumn('warned_at', 'text')
        .addColumn('warning', 'text')
        .addColumn('snoozed_until', 'text')
        .addColumn('stopped_at', 'text')
        .addColumn('stop_reason', 'text')
        .addColumn('stop_message', 'text')
        .addColumn('metered_until', 'text')
        .addColumn('cost_micros', 'bigint', (c) => c.notNull())
        .addColumn('external_id', 'text')
        .execute();
      await db.schema
        .createIndex('notebooks_team_status')
        .on('notebooks')
        .columns(['team', 'status'])
        .execute();
      await db.schema.createIndex('notebooks_status').on('notebooks').column('status').execute();
    },
  },
  '0004_models': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('models')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('models_team_name')
        .on('models')
        .columns(['team', 'name'])
        .unique()
        .execute();
      await db.schema
        .createTable('model_versions')
        .addColumn('model_id', 'text', (c) => c.notNull().references('models.id'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('runtime', 'text', (c) => c.notNull())
        .addColumn('files', 'text', (c) => c.notNull())
        .addColumn('digest', 'text')
        .addColumn('artifact_dir', 'text')
        .addColumn('metrics', 'text', (c) => c.notNull())
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('scan', 'text', (c) => c.notNull())
        .addColumn('scan_verdict', 'text', (c) => c.notNull())
        .addColumn('trust_remote_code', 'integer', (c) => c.notNull())
        .addColumn('lineage', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('model_versions_pk', ['model_id', 'version'])
        .execute();
      await db.schema
        .createTable('model_aliases')
        .addColumn('model_id', 'text', (c) => c.notNull().references('models.id'))
        .addColumn('alias', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('updated_by', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('model_aliases_pk', ['model_id', 'alias'])
        .execute();
    },
  },
  '0005_billing': {
    async up(db: Kysely<unknown>) {
      const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
      // The all-teams summary and the burn rate read a window across teams: index-only on this.
      await db.schema
        .createIndex('usage_ledger_window')
        .on('usage_ledger')
        .columns(['window_start', 'team', 'category', 'cost_micros'])
        .execute();
      // Spend per team, UTC day (of window_start), category, user, workload, resource and unit, kept
      // equal to the ledger by triggers: whole days of a bill are read here, partial days from the ledger.
      const key = ['team', 'day', 'category', 'user_name', 'source_kind', 'source_id', 'resource', 'unit'];
      await db.schema
        .createTable('usage_daily')
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('category', 'text', (c) => c.notNull())
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('source_kind', 'text', (c) => c.notNull())
        .addColumn('source_id', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('unit', 'text', (c) => c.notNull())
        .addColumn('project', 'text')
        .addColumn('quantity', 'double precision', (c) => c.notNull())
        .addColumn('cost_micros', 'bigint', (c) => c.notNull())
        .addColumn('row_count', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('usage_daily_pk', key as ['team'])
        // On SQLite the rows live in the primary key's b-tree: a trigger's upsert is one seek.
        .$call((table) => (postgres ? table : table.modifyEnd(sql`without rowid`)))
        .execute();
      await db.schema.createIndex('usage_daily_day').on('usage_daily').columns(['day', 'team']).execute();
      await sql
        .raw(`insert into usage_daily (${key.join(', ')}, project, quantity, cost_micros, row_count)
          select team, substr(window_start, 1, 10), category, user_name, source_kind, source_id, resource, unit,
            max(project), sum(quantity), sum(cost_micros), count(*)
          from usage_ledger
          group by team, substr(window_start, 1, 10), category, user_name, source_kind, source_id, resource, unit`)
        .execute(db);
      const add = (row: 'new' | 'old', sign: '+' | '-') => `
        insert into usage_daily (${key.join(', ')}, project, quantity, cost_micros, row_count)
        values (${row}.team, substr(${row}.window_start, 1, 10), ${row}.category, ${row}.user_name,
          ${row}.source_kind, ${row}.source_id, ${row}.resource, ${row}.unit, ${row}.project,
          ${sign}${row}.quantity, ${sign}${row}.cost_micros, ${sign}1)
        on conflict (${key.join(', ')}) do update set
          quantity = usage_daily.quantity + excluded.quantity,
          cost_micros = usage_daily.cost_micros + excluded.cost_micros,
          row_count = usage_daily.row_count + excluded.row_count;`;
      if (postgres) {
        await sql
          .raw(`create function usage_daily_sync() returns trigger language plpgsql as $$
            begin
              if tg_op in ('UPDATE', 'DELETE') then ${add('old', '-')} end if;
              if tg_op in ('INSERT', 'UPDATE') then ${add('new', '+')} end if;
              return null;
            end $$`)
          .execute(db);
        await sql
          .raw(`create trigger usage_ledger_daily after insert or update or delete on usage_ledger
            for each row execute function usage_daily_sync()`)
          .execute(db);
      } else {
        await sql
          .raw(
            `create trigger usage_ledger_daily_insert after insert on usage_ledger begin ${add('new', '+')} end`,
          )
          .execute(db);
        await sql
          .raw(
            `create trigger usage_ledger_daily_delete after delete on usage_ledger begin ${add('old', '-')} end`,
          )
          .execute(db);
        await sql
          .raw(
            `create trigger usage_ledger_daily_update after update on usage_ledger begin ${add('old', '-')} ${add('new', '+')} end`,
          )
          .execute(db);
      }
      // Budget alerts: one per team, budget period and threshold (50, 80, 100 or soft).
      await db.schema
        .createTable('budget_alerts')
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('period_start', 'text', (c) => c.notNull())
        .addColumn('threshold', 'text', (c) => c.notNull())
        .addColumn('fired_at', 'text', (c) => c.notNull())
        .addColumn('spent_micros', 'bigint', (c) => c.notNull())
        .addColumn('max_budget_micros', 'bigint', (c) => c.notNull())
        .addColumn('delivery', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('budget_alerts_pk', ['team', 'period_start', 'threshold'])
        .execute();
      // Hours of storage already accrued into the ledger, so an hour is never charged twice.
      await db.schema
        .createTable('storage_meter_hours')
        .addColumn('hour_start', 'text', (c) => c.primaryKey())
        .addColumn('bytes', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0006_endpoints': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('endpoints')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('model_name', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('runtime', 'text', (c) => c.notNull())
        .addColumn('artifact_dir', 'text', (c) => c.notNull())
        .addColumn('product', 'text', (c) => c.notNull())
        .addColumn('gpus', 'integer', (c) => c.notNull())
        .addColumn('gpu_type', 'text')
        .addColumn('min_replicas', 'integer', (c) => c.notNull())
        .addColumn('max_replicas', 'integer', (c) => c.notNull())
        .addColumn('target_concurrency', 'integer', (c) => c.notNull())
        .addColumn('idle_timeout_s', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('deleted_at', 'text')
        .execute();
      await db.schema
        .createTable('endpoint_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('endpoint_id', 'text', (c) => c.notNull())
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .addColumn('rpm', 'integer')
        .addColumn('tpm', 'integer')
        .addColumn('max_tokens_per_period', 'bigint')
        .addColumn('period', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema
        .createTable('endpoint_replicas')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('endpoint_id', 'text', (c) => c.notNull())
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('external_id', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('gpu_indexes', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('ready_at', 'text')
        .addColumn('stopped_at', 'text')
        .addColumn('metered_until', 'text')
        .addColumn('cold_start_ms', 'double precision')
        .execute();
    },
  },
  '0007_dataset_attestation': {
    // A dataset's encryption and classification used to be whatever its registrant declared. From here on
    // `encrypted` and `classification` are facts (attested by a platform-admin, or by the seed, which is
    // platform configuration); the registrant's word is kept in `claimed`. Rows registered before keep their
    // facts only when the platform itself registered them (the seed); the others keep them as claims only,
    // until a platform-admin attests them (aicloud datasets attest).
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('datasets')
        .addColumn('claimed', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();
      await db.schema.alterTable('datasets').addColumn('attested_by', 'text').execute();
      await db.schema.alterTable('datasets').addColumn('attested_at', 'text').execute();
      const typed = db as unknown as Kysely<{
        datasets: {
          path: string;
          encrypted: number;
          classification: string | null;
          created_at: string;
          claimed: string;
          attested_by: string | null;
          attested_at: string | null;
        };
        audit_records: { actor: string; action: string; resource: string };
      }>;
      const seeded = new Set(
        (
          await typed
            .selectFrom('audit_records')
            .select('resource')
            .where('action', '=', 'dataset.registered')
            .where('actor', '=', 'system')
            .execute()
        ).map((row) => row.resource.replace(/^dataset\//, '')),
      );
      for (const row of await typed.selectFrom('datasets').selectAll().execute()) {
        const claimed = JSON.stringify({
          encrypted: row.encrypted === 1,
          classification: row.classification,
        });
        await typed
          .updateTable('datasets')
          .set(
            seeded.has(row.path)
              ? { claimed, attested_by: 'system', attested_at: row.created_at }
              : { claimed, encrypted: 0, classification: null },
          )
          .where('path', '=', row.path)
          .execute();
      }
    },
  },
  '0008_tracking': {
    // MLflow-compatible experiment tracking: experiments owned by a team, runs, params, tags, every metric
    // point (indexed for get-history) and each metric's latest value (what run data and search read).
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('tracking_experiments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('artifact_location', 'text', (c) => c.notNull())
        .addColumn('lifecycle_stage', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('last_update_time', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('tracking_experiments_team_name', ['team', 'name'])
        .execute();
      await db.schema
        .createTable('tracking_experiment_tags')
        .addColumn('experiment_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('tracking_experiment_tags_pk', ['experiment_id', 'key'])
        .execute();
      await db.schema
        .createTable('tracking_runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('experiment_id', 'text', (c) => c.notNull())
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('start_time', 'bigint', (c) => c.notNull())
        .addColumn('end_time', 'bigint')
        .addColumn('lifecycle_stage', 'text', (c) => c.notNull())
        .addColumn('artifact_uri', 'text', (c) => c.notNull())
        .addColumn('artifact_dir', 'text', (c) => c.notNull())
        .addColumn('job_id', 'text')
        .execute();
      await db.schema
        .createIndex('tracking_runs_experiment')
        .on('tracking_runs')
        .columns(['experiment_id', 'start_time'])
        .execute();
      await db.schema.createIndex('tracking_runs_job').on('tracking_runs').column('job_id').execute();
      for (const table of ['tracking_params', 'tracking_tags']) {
        await db.schema
          .createTable(table)
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('value', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint(`${table}_pk`, ['run_id', 'key'])
          .execute();
      }
      for (const table of ['tracking_metrics', 'tracking_latest_metrics']) {
        await db.schema
          .createTable(table)
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('value', 'double precision', (c) => c.notNull())
          .addColumn('timestamp', 'bigint', (c) => c.notNull())
          .addColumn('step', 'bigint', (c) => c.notNull())
          .addColumn('is_nan', 'integer', (c) => c.notNull())
          .$call((builder) =>
            table === 'tracking_latest_metrics'
              ? builder.addPrimaryKeyConstraint('tracking_latest_metrics_pk', ['run_id', 'key'])
              : builder,
          )
          .execute();
      }
      await db.schema
        .createIndex('tracking_metrics_history')
        .on('tracking_metrics')
        // Covering: get-history reads the points in order from the index alone.
        .columns(['run_id', 'key', 'step', 'timestamp', 'value', 'is_nan'])
        .execute();
    },
  },
  '0010_fixed_rates': {
    // One price rule for every workload, fixed at admission: the rate a job or endpoint pays is stored on it
    // (micro-dollars per GPU-hour or instance-hour, as notebooks already had). Rows admitted before have none
    // and are metered at the catalog's current price, as they were.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('jobs').addColumn('rate_micros', 'bigint').execute();
      await db.schema.alterTable('endpoints').addColumn('rate_micros', 'bigint').execute();
    },
  },
  '0009_gpu_telemetry_alerts': {
    // GPU figures per workload from nvidia-smi (attributed by assignment or by pid), and the alert rules'
    // firing and resolved events with their webhook delivery: the evaluator resumes from the last event.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('gpu_samples')
        .addColumn('workload_kind', 'text', (c) => c.notNull())
        .addColumn('workload_id', 'text', (c) => c.notNull())
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('gpu_index', 'integer', (c) => c.notNull())
        .addColumn('gpu_uuid', 'text', (c) => c.notNull())
        .addColumn('gpu_name', 'text', (c) => c.notNull())
        .addColumn('attributed_by', 'text', (c) => c.notNull())
        .addColumn('utilization_percent', 'double precision')
        .addColumn('memory_used_mib', 'double precision')
        .addColumn('memory_total_mib', 'double precision', (c) => c.notNull())
        .addColumn('power_w', 'double precision')
        .addColumn('pids', 'text', (c) => c.notNull())
        .addColumn('time', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('gpu_samples_workload_time')
        .on('gpu_samples')
        .columns(['workload_id', 'time'])
        .execute();
      await db.schema.createIndex('gpu_samples_time').on('gpu_samples').column('time').execute();
      await db.schema
        .createTable('alert_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('rule', 'text', (c) => c.notNull())
        .addColumn('series', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('value', 'double precision')
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('delivery', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('alert_events_rule_time')
        .on('alert_events')
        .columns(['rule', 'time'])
        .execute();
    },
  },
  '0011_endpoint_cors': {
    // The browser origins an endpoint's OpenAI surface answers (a JSON array); null: CORS off.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('endpoints').addColumn('cors_origins', 'text').execute();
    },
  },
  '0012_pipelines': {
    // Pipelines and their steps: all a pipeline's state, so a restarted server resumes where it was.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('pipelines')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('ended_at', 'text')
        .execute();
      await db.schema.createIndex('pipelines_status').on('pipelines').column('status').execute();
      await db.schema
        .createTable('pipeline_steps')
        .addColumn('pipeline_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('job_id', 'text')
        .addColumn('job_ids', 'text', (c) => c.notNull())
        .addColumn('cache_key', 'text')
        .addColumn('output_hash', 'text')
        .addColumn('reason', 'text')
        .addColumn('next_attempt_at', 'text')
        .addPrimaryKeyConstraint('pipeline_steps_pk', ['pipeline_id', 'name'])
        .execute();
      await db.schema.createIndex('pipeline_steps_cache').on('pipeline_steps').column('cache_key').execute();
    },
  },
  '0013_mlflow_registry': {
    // The MLflow registry API's metadata on aicloud's registry: descriptions, a model's tags, and the run a
    // version was registered from (`runs:/…`), so lineage and MLflow's `run_id` name the source run.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('models').addColumn('description', 'text').execute();
      await db.schema.alterTable('models').addColumn('tags', 'text').execute();
      await db.schema.alterTable('models').addColumn('updated_at', 'text').execute();
      await db.schema.alterTable('model_versions').addColumn('description', 'text').execute();
      await db.schema.alterTable('model_versions').addColumn('run_id', 'text').execute();
      await db.schema.alterTable('model_versions').addColumn('updated_at', 'text').execute();
      await db.schema.createIndex('model_versions_run').on('model_versions').column('run_id').execute();
    },
  },
  '0014_dataset_hashes': {
    // Lineage: a dataset's content hash (sha256 over its sorted relative paths and bytes) when it was last
    // hashed, and the hashes each pipeline step consumed (part of its cache key).
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('datasets').addColumn('content_hash', 'text').execute();
      await db.schema.alterTable('datasets').addColumn('hashed_at', 'text').execute();
      await db.schema.alterTable('pipeline_steps').addColumn('dataset_hashes', 'text').execute();
    },
  },
  '0015_providers': {
    // External AI providers behind the gateway: an OpenAI-compatible base URL, the NAME of the platform secret
    // that holds its key (never the key), its models with prices, what the PII detector does, and fallbacks.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('providers')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('base_url', 'text', (c) => c.notNull())
        .addColumn('key_secret', 'text', (c) => c.notNull())
        .addColumn('models', 'text', (c) => c.notNull())
        .addColumn('pii_mode', 'text', (c) => c.notNull())
        .addColumn('fallbacks', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0016_job_experiments': {
    // The MLflow experiment a job's run lands in (`--experiment`; null: the team's own), and a pipeline's, which
    // its steps' jobs carry so all its runs land in one experiment.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('jobs').addColumn('experiment', 'text').execute();
      await db.schema.alterTable('pipelines').addColumn('experiment', 'text').execute();
    },
  },
  '0017_endpoint_quality': {
    // Quality evaluations of endpoints: an endpoint's evaluation set (a registered JSONL dataset, an optional
    // judge endpoint and schedule) and every run's scores, kept per endpoint name and model version.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('endpoint_eval_sets')
        .addColumn('endpoint', 'text', (c) => c.primaryKey())
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('dataset', 'text', (c) => c.notNull())
        .addColumn('judge', 'text')
        .addColumn('every_s', 'integer')
        .addColumn('next_run_at', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('endpoint_evals')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('endpoint', 'text', (c) => c.notNull())
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('dataset', 'text', (c) => c.notNull())
        .addColumn('judge', 'text')
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('samples', 'integer', (c) => c.notNull())
        .addColumn('failed', 'integer', (c) => c.notNull())
        .addColumn('exact_match', 'double precision')
        .addColumn('f1', 'double precision')
        .addColumn('judge_score', 'double precision')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('endpoint_evals_endpoint')
        .on('endpoint_evals')
        .columns(['endpoint', 'finished_at'])
        .execute();
    },
  },
  '0018_endpoint_rollouts': {
    // Canary rollouts: a new version deployed beside the serving one (a hidden endpoint row, `canary_of` the
    // stable endpoint's id) takes a share of the traffic, is analysed against it step by step, and is promoted
    // or rolled back; every decision is kept with its figures.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('endpoints').addColumn('canary_of', 'text').execute();
      await db.schema
        .createTable('endpoint_rollouts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('endpoint_id', 'text', (c) => c.notNull())
        .addColumn('canary_id', 'text', (c) => c.notNull())
        .addColumn('endpoint', 'text', (c) => c.notNull())
        .addColumn('team', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('from_version', 'integer', (c) => c.notNull())
        .addColumn('to_version', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('steps', 'text', (c) => c.notNull())
        .addColumn('step', 'integer', (c) => c.notNull())
        .addColumn('window_s', 'integer', (c) => c.notNull())
        .addColumn('min_requests', 'integer', (c) => c.notNull())
        .addColumn('max_error_rate_increase', 'double precision', (c) => c.notNull())
        .addColumn('max_latency_ratio', 'double precision', (c) => c.notNull())
        .addColumn('max_quality_drop', 'double precision', (c) => c.notNull())
        .addColumn('quality', 'text')
        .addColumn('waiting', 'text')
        .addColumn('step_started_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('ended_at', 'text')
        .execute();
      await db.schema
        .createIndex('endpoint_rollouts_endpoint')
        .on('endpoint_rollouts')
        .columns(['endpoint_id', 'created_at'])
        .execute();
      await db.schema
        .createTable('endpoint_rollout_decisions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('rollout_id', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('step', 'integer', (c) => c.notNull())
        .addColumn('weight', 'integer', (c) => c.notNull())
        .addColumn('decision', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('figures', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('endpoint_rollout_decisions_rollout')
        .on('endpoint_rollout_decisions')
        .columns(['rollout_id', 'at'])
        .execute();
    },
  },
  '0019_rollout_thresholds': {
    // A rollout's thresholds are set per deploy (0018 stored the error-rate, latency-ratio and quality ones
    // with fixed values); the latency check's allowance joins them, 50 ms for the rollouts before, as judged.
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('endpoint_rollouts')
        .addColumn('latency_allowance_ms', 'integer', (c) => c.notNull().defaultTo(50))
        .execute();
    },
  },
};

/** The hash the first audit record chains to. */
export const GENESIS_HASH = '0'.repeat(64);

/** All migrations of the store, in order. */
export const migrationProvider: MigrationProvider = { getMigrations: async () => migrations };
