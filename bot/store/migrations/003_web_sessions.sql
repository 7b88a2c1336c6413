-- additive: older releases (0.3.0) never read these tables, so this is recorded in
-- schema_additions, not schema_version, and going back to 0.3.0 keeps working (its web then
-- keeps sessions in memory and writes tokens and the read log to files again).
--
-- The web overview's shared state, so that several instances behind a load balancer sign in
-- and log reads as one. Only SHA-256 hashes of sign-in tokens and session ids are stored.
CREATE TABLE web_tokens (
    digest   text PRIMARY KEY,                 -- sha256 of the token in the link
    person   text NOT NULL,
    issued   timestamptz NOT NULL,
    expires  timestamptz NOT NULL,
    used     timestamptz,                      -- set once, by the one redeem that wins
    next     text                              -- the page to land on after signing in
);
CREATE INDEX web_tokens_expires ON web_tokens (expires);

CREATE TABLE web_sessions (
    digest   text PRIMARY KEY,                 -- sha256 of the session cookie's id
    person   text NOT NULL,
    started  timestamptz NOT NULL,
    expires  timestamptz NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires);

-- short-lived values a sign-in flow keeps between two requests (e.g. an OIDC state/nonce),
-- taken once
CREATE TABLE web_pending (
    key      text PRIMARY KEY,
    value    jsonb NOT NULL,
    expires  timestamptz NOT NULL
);
CREATE INDEX web_pending_expires ON web_pending (expires);

-- the read log (loggkontroll): append-only, in the order written
CREATE TABLE read_log (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL,
    person    text NOT NULL,
    case_no   text NOT NULL,
    what      text NOT NULL,
    channel   text NOT NULL,
    document  integer,
    detail    text
);
CREATE INDEX read_log_at ON read_log (at, id);
