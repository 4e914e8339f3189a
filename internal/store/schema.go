package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order, each in its own transaction; the number
// of applied ones is kept in schema_version. Never edit a released entry:
// append a new one. The SQL sticks to what SQLite and PostgreSQL both
// accept, except INTEGER PRIMARY KEY (rowid alias here, an identity column
// in the PostgreSQL dialect to come).
var migrations = []string{
	// 1: accounts, mailboxes, messages, blobs, tracking events.
	`
CREATE TABLE meta (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
CREATE TABLE domains (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,      -- Unicode form, lower case
	postmaster TEXT NOT NULL DEFAULT '',  -- account key receiving postmaster@; '' = first account
	created_at INTEGER NOT NULL
);
CREATE TABLE accounts (
	id            INTEGER PRIMARY KEY,
	address       TEXT NOT NULL UNIQUE,   -- lookup key: lower-cased local part @ domain
	display       TEXT NOT NULL,          -- address as the operator wrote it
	domain_id     INTEGER NOT NULL REFERENCES domains(id),
	password_hash TEXT NOT NULL,          -- argon2id PHC string
	quota_bytes   INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL
);
CREATE TABLE aliases (
	address TEXT NOT NULL,                -- lookup key, or '@domain' for a catch-all
	target  TEXT NOT NULL,                -- any address, local or remote
	PRIMARY KEY (address, target)
);
CREATE TABLE mailboxes (
	id            INTEGER PRIMARY KEY,
	account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name          TEXT NOT NULL,          -- UTF-8, '/' separated
	special_use   TEXT NOT NULL DEFAULT '',
	subscribed    INTEGER NOT NULL DEFAULT 1,
	uidvalidity   INTEGER NOT NULL,
	uidnext       INTEGER NOT NULL DEFAULT 1,
	highestmodseq INTEGER NOT NULL DEFAULT 1,
	messages      INTEGER NOT NULL DEFAULT 0,
	size          INTEGER NOT NULL DEFAULT 0,
	UNIQUE (account_id, name)
);
CREATE TABLE blobs (
	id   TEXT PRIMARY KEY,                -- file name under blobs/ when data is NULL
	size INTEGER NOT NULL,
	refs INTEGER NOT NULL,                -- message rows using it; removed at 0
	data BLOB                             -- the bytes of a message up to InlineMax
);
CREATE TABLE messages (
	id            INTEGER PRIMARY KEY,
	mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid           INTEGER NOT NULL,
	modseq        INTEGER NOT NULL,
	blob_id       TEXT NOT NULL REFERENCES blobs(id),
	prefix        BLOB NOT NULL,          -- per-recipient trace fields, served before the blob
	size          INTEGER NOT NULL,       -- len(prefix) + blob size: what a client downloads
	flags         TEXT NOT NULL DEFAULT '',
	internal_date INTEGER NOT NULL,       -- unix seconds
	tracking_id   TEXT NOT NULL,
	message_id    TEXT NOT NULL DEFAULT '',
	envelope      BLOB,                   -- cached IMAP ENVELOPE (filled by the IMAP issue)
	bodystructure BLOB,                   -- cached IMAP BODYSTRUCTURE
	UNIQUE (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);
CREATE TABLE expunged (
	mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid        INTEGER NOT NULL,
	modseq     INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
);
CREATE TABLE events (
	id          INTEGER PRIMARY KEY,
	tracking_id TEXT NOT NULL,
	at          INTEGER NOT NULL,         -- unix milliseconds
	kind        TEXT NOT NULL,
	detail      TEXT NOT NULL             -- JSON object
);
CREATE INDEX events_tracking ON events (tracking_id);
-- No index on at: events are appended in time order, so expiry scans
-- from the lowest id; every index here costs an insert per event.
`,
	// 2: IMAP. The parsed MIME structure (ENVELOPE, BODYSTRUCTURE, part
	// offsets) is cached per message, relative to the blob (the reader
	// shifts it by the prefix length); keywords in use per mailbox for
	// FLAGS/PERMANENTFLAGS; full-text index (SQLite FTS5 with the trigram
	// tokenizer: IMAP SEARCH is substring matching, and trigrams find CJK
	// words that have no spaces around them). Messages are indexed after
	// delivery, off the SMTP path, from fts_pending.
	`
ALTER TABLE messages DROP COLUMN envelope;
ALTER TABLE messages RENAME COLUMN bodystructure TO mime;
ALTER TABLE mailboxes ADD COLUMN keywords TEXT NOT NULL DEFAULT '';
CREATE TABLE fts_pending (
	message_id INTEGER PRIMARY KEY        -- messages.id still to index
);
CREATE VIRTUAL TABLE message_text USING fts5(headers, body, tokenize = 'trigram');  -- rowid = messages.id (SQLite dialect)
CREATE INDEX expunged_modseq ON expunged (mailbox_id, modseq);
`,
	// 3: the outbound queue. One row per message waiting to be relayed
	// (it holds a reference on the blob, like a mailbox message), one
	// row per recipient still to deliver: recipients of one message
	// progress, fail and are retried separately. The runner reads due
	// recipients through queue_due, so nothing is loaded at start-up and
	// each pick is a B-tree seek, whatever the queue's size.
	`
CREATE TABLE queue (
	id          INTEGER PRIMARY KEY,
	tracking_id TEXT NOT NULL,
	blob_id     TEXT NOT NULL REFERENCES blobs(id),
	prefix      BLOB NOT NULL,            -- trace fields sent before the blob (our Received)
	mail_from   TEXT NOT NULL,            -- envelope sender; '' for <>
	envid       TEXT NOT NULL DEFAULT '', -- DSN ENVID (RFC 3461)
	ret         TEXT NOT NULL DEFAULT '', -- DSN RET: FULL, HDRS or ''
	smtputf8    INTEGER NOT NULL DEFAULT 0,
	body8bit    INTEGER NOT NULL DEFAULT 0,
	size        INTEGER NOT NULL,         -- len(prefix) + blob size
	arrived     INTEGER NOT NULL          -- unix milliseconds
);
CREATE TABLE queue_rcpts (
	id           INTEGER PRIMARY KEY,
	queue_id     INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
	rcpt         TEXT NOT NULL,
	domain       TEXT NOT NULL,           -- lower case: what MX lookup and grouping use
	notify       TEXT NOT NULL DEFAULT '',-- DSN NOTIFY
	orcpt        TEXT NOT NULL DEFAULT '',-- DSN ORCPT
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,        -- unix milliseconds
	last_error   TEXT NOT NULL DEFAULT '',
	warned       INTEGER NOT NULL DEFAULT 0 -- a delay DSN went out
);
CREATE INDEX queue_due ON queue_rcpts (next_attempt);
CREATE INDEX queue_rcpts_queue ON queue_rcpts (queue_id);
`,
	// 4: IMAP subscriptions are the client's list of names (RFC 9051
	// §6.3.7), not a property of a mailbox: a subscribed name outlives
	// DELETE and may be subscribed before it exists elsewhere. Existing
	// subscriptions carry over.
	`
CREATE TABLE subscriptions (
	account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,             -- UTF-8, '/' separated, as mailboxes.name
	PRIMARY KEY (account_id, name)
);
INSERT INTO subscriptions (account_id, name) SELECT account_id, name FROM mailboxes WHERE subscribed = 1;
ALTER TABLE mailboxes DROP COLUMN subscribed;
`,
	// 5: \Recent for IMAP4rev1 sessions (RFC 3501 §2.3.2): the first UID
	// of each mailbox no session has claimed as recent (recent.go).
	// Messages stored before this migration count as seen.
	`
ALTER TABLE mailboxes ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 1;
UPDATE mailboxes SET recent_uid = uidnext;
`,
	// 6: the full-text index holds every header field now (SEARCH TEXT
	// looks in the whole header, RFC 9051 §6.4.4), not only the
	// envelope's: every message is indexed again, in the background or
	// by the first search of its mailbox. SaveText replaces the old
	// entry.
	`
INSERT INTO fts_pending (message_id)
	SELECT id FROM messages WHERE NOT EXISTS (SELECT 1 FROM fts_pending p WHERE p.message_id = messages.id);
`,
	// 7: IMAP URLAUTH (RFC 4467 §2.2): the secret mailbox access key
	// URLAUTH tokens are computed with, one per mailbox (a mailbox has
	// one owner, so per user and mailbox); made on first use, replaced
	// by RESETKEY, gone with the mailbox. (IF NOT EXISTS: a test replays
	// the migrations after 5 over a store that has them.)
	`
CREATE TABLE IF NOT EXISTS urlauth_keys (
	mailbox_id INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
	secret     BLOB NOT NULL              -- 32 random octets
);
`,
}

// migrate brings the schema up to date.
func migrate(ctx context.Context, db *sql.DB) error {
	return migrateTo(ctx, db, len(migrations))
}

// migrateTo applies the migrations up to number n (tests start from an
// older schema with it).
func migrateTo(ctx context.Context, db *sql.DB, n int) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: schema_version: %w", err)
	}
	for {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		var v int
		err = tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
		if err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("store: schema version: %w", err)
		}
		if v > len(migrations) {
			_ = tx.Rollback()
			return fmt.Errorf("store: database schema %d is newer than this binary (%d)", v, len(migrations))
		}
		if v >= n {
			return tx.Rollback()
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("store: migration %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, v+1); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("store: migration %d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: migration %d: %w", v+1, err)
		}
	}
}
