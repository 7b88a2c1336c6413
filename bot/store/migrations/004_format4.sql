-- avvikelsebot after 0.3.0 (data format 4): a case carries lagrum and where it came from
-- (lagrum, lagrum_by), an fsn case's closing facts (fsn_closing), and the kinds klagomål and
-- fsn, inside `doc`. Release 0.3.0 builds a case from every key of `doc` and stops with a
-- TypeError on such a case, perhaps in the middle of a run. This migration is NOT additive:
-- recorded in schema_version, it makes 0.3.0 (which refuses any schema_version above 2)
-- refuse the database before it writes. The way back is the pg_dump taken before the
-- upgrade (README: Rollback).
COMMENT ON TABLE cases IS 'avvikelsebot format 4: doc holds lagrum, lagrum_by, fsn_closing; kinds klagomål and fsn';
