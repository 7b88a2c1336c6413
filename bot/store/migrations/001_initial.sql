-- The case diary on PostgreSQL: documents as JSONB, plus the columns the lookups need.
CREATE TABLE counters (
    series  text    NOT NULL,
    year    integer NOT NULL,
    last    integer NOT NULL,
    PRIMARY KEY (series, year)
);

CREATE TABLE cases (
    key     bigint  PRIMARY KEY,            -- DiaryNumber.key: year * 1 000 000 + seq
    number  text    NOT NULL UNIQUE,
    year    integer NOT NULL,
    status  text    NOT NULL,
    doc     jsonb   NOT NULL
);
CREATE INDEX cases_open ON cases (key) WHERE status <> 'closed';
CREATE INDEX cases_year ON cases (year, key);

-- which case a Message-ID (kind 'm', lower case) or a conversation (kind 'c') belongs to
CREATE TABLE case_refs (
    kind    char(1) NOT NULL,
    ref     text    NOT NULL,
    number  text    NOT NULL,
    PRIMARY KEY (kind, ref)
);

CREATE TABLE mails (
    key         text PRIMARY KEY,           -- the duplicate key
    number      text,
    triage_id   text,
    doc         jsonb NOT NULL
);
CREATE INDEX mails_triage ON mails (triage_id) WHERE triage_id IS NOT NULL;

CREATE TABLE outbox (
    id            text PRIMARY KEY,         -- the idempotency key
    state         text NOT NULL,
    channel       text NOT NULL,
    created       text NOT NULL,
    next_attempt  text,
    live          boolean NOT NULL DEFAULT true,   -- false: delivered/failed long ago (history)
    doc           jsonb NOT NULL
);
CREATE INDEX outbox_live ON outbox (state, next_attempt) WHERE live;
CREATE INDEX outbox_history ON outbox (created) WHERE NOT live;

CREATE TABLE markers (
    slot    text PRIMARY KEY,
    day     text NOT NULL,
    at      text NOT NULL
);

CREATE TABLE subs (
    person  text NOT NULL,
    unit    text NOT NULL,
    paused  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (person, unit)
);

CREATE TABLE state (
    key     text PRIMARY KEY,
    value   jsonb NOT NULL
);

-- every mail's raw bytes, written in the transaction of the mail's outcome
CREATE TABLE raw_mail (
    path     text PRIMARY KEY,              -- raw/YYYY/MM/<sha>.eml, as in a data directory
    arrived  timestamptz NOT NULL,
    bytes    bytea NOT NULL
);

-- leadership among several `run` instances: the epoch grows at every takeover
CREATE TABLE leader (
    id      integer PRIMARY KEY CHECK (id = 1),
    epoch   bigint NOT NULL,
    holder  text NOT NULL,
    since   timestamptz NOT NULL
);
